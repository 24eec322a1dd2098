package media

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/loadgen/loadgen/internal/metrics"
)

// binding is what pion handed a track when a sender bound it: where to
// write and with which SSRC and payload type. Immutable once built.
type binding struct {
	id     string
	writer webrtc.TrackLocalWriter
	ssrc   uint32
	pt     uint8
	src    *Source // the clip of the negotiated codec
}

// outTrack is one kind of media a Peer sends. It implements
// webrtc.TrackLocal, so pion binds it to the transceiver's sender; the
// pacer then writes the Source's pre-built payloads to the bound writer.
//
// Fields below "pacer-owned" are touched only by the pacer shard goroutine
// the track's peer is registered with.
type outTrack struct {
	src      *Source     // the clip of the preferred codec (Opus, VP8)
	alts     []*Source   // clips of the other codecs the track can send (G.722, PCMU, PCMA)
	owner    reporter    // the peer the track belongs to (the pacer removes tracks by owner)
	inst     *instants   // the owner's milestones (first packet sent)
	rtr      *rtcpRouter // the engine's RTCP router (nil: PionDefaults, or tests)
	id       string
	streamID string

	bind   atomic.Pointer[binding]
	paused atomic.Bool // local hold: write nothing, advance nothing
	// pli is set when the far end asked for a keyframe (RTCP PLI): the
	// next frame written is the clip's last keyframe at or before the
	// current position, so its decoder can start again.
	pli      atomic.Bool
	plis     atomic.Uint64 // PLIs answered
	pliJumps atomic.Int64  // the last answer: from<<32 | to (frame indexes), for tests

	// pacer-owned
	hdr       rtp.Header
	seq       uint16
	fidx      int32  // next frame of src
	frames    uint32 // frames sent so far (RTP timestamp = tsBase + frames*tsStep)
	tsBase    uint32
	sentFirst bool
	lastTS    uint32    // RTP timestamp of the last frame written
	lastDue   time.Time // when that frame was due
	pktsSent  atomic.Uint64
	bytesSent atomic.Uint64
	late      lateCounter
	writeErrs atomic.Uint64
	rttNanos  atomic.Int64
	up        uplink // the far end's reports about this track's SSRC
}

func newOutTrack(owner reporter, inst *instants, rtr *rtcpRouter, src *Source, id, streamID string, seq uint16, ts uint32) *outTrack {
	return &outTrack{src: src, owner: owner, inst: inst, rtr: rtr, id: id, streamID: streamID, seq: seq, tsBase: ts, late: newLateCounter()}
}

// sourceFor returns the track's clip for a codec (nil: none).
func (t *outTrack) sourceFor(mime string) *Source {
	if strings.EqualFold(mime, t.src.mimeType) {
		return t.src
	}
	for _, s := range t.alts {
		if strings.EqualFold(mime, s.mimeType) {
			return s
		}
	}
	return nil
}

// srcOf is the clip b sends (the preferred one when b names none).
func (t *outTrack) srcOf(b *binding) *Source {
	if b.src != nil {
		return b.src
	}
	return t.src
}

// Bind implements webrtc.TrackLocal: pion calls it when a sender starts.
// The track sends the first negotiated codec it has a clip for (the
// remote's preference: a gateway bridging to SIP may answer G.711 first);
// RED, CN and telephone-event are skipped.
func (t *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if src := t.sourceFor(c.MimeType); src != nil {
			b := &binding{
				id:     ctx.ID(),
				writer: ctx.WriteStream(),
				ssrc:   uint32(ctx.SSRC()),
				pt:     uint8(c.PayloadType),
				src:    src,
			}
			if r := t.router(); r != nil {
				if old := t.bind.Load(); old != nil {
					r.removeSender(t, old.ssrc)
				}
				r.addSender(t, b.ssrc)
			}
			t.bind.Store(b)
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind implements webrtc.TrackLocal: pion calls it when a sender stops.
func (t *outTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	if b := t.bind.Load(); b != nil && b.id == ctx.ID() {
		if t.bind.CompareAndSwap(b, nil) {
			if r := t.router(); r != nil {
				r.removeSender(t, b.ssrc)
			}
		}
	}
	return nil
}

// router is the engine's RTCP router (nil: PionDefaults, or a track built
// without an engine in tests).
func (t *outTrack) router() *rtcpRouter {
	return t.rtr
}

// ID implements webrtc.TrackLocal.
func (t *outTrack) ID() string { return t.id }

// RID implements webrtc.TrackLocal (no simulcast).
func (t *outTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (t *outTrack) StreamID() string { return t.streamID }

// Kind implements webrtc.TrackLocal.
func (t *outTrack) Kind() webrtc.RTPCodecType { return t.src.kind }

// writeFrame writes the track's next frame (one packet for audio, one or
// more for video). It is the hot path: no allocation, no map, no lock.
// Sequence numbers and the frame index advance even when a write fails,
// so sequence number and payload stay in lockstep for the receiver's
// integrity check. It returns the number of packets written.
func (t *outTrack) writeFrame(due time.Time, late bool) int {
	b := t.bind.Load()
	if b == nil || t.paused.Load() {
		// On hold the RTP clock keeps running, as a real sender's does,
		// so the receiver's jitter does not see the pause as a jump;
		// sequence numbers and payloads wait.
		t.frames++
		return 0
	}
	src := t.srcOf(b)
	if int(t.fidx) >= len(src.frames) {
		t.fidx = 0 // the codec changed to a shorter clip
	}
	if t.pli.Load() && t.pli.Swap(false) && len(src.keyframes) > 0 {
		to := src.keyframeAtOrBefore(t.fidx)
		t.pliJumps.Store(int64(t.fidx)<<32 | int64(to))
		t.fidx = to
		t.plis.Add(1)
	}
	fr := src.frames[t.fidx]
	h := &t.hdr
	h.Version = 2
	h.SSRC = b.ssrc
	h.PayloadType = b.pt
	h.Timestamp = t.tsBase + t.frames*src.tsStep
	t.lastTS, t.lastDue = h.Timestamp, due
	var npkts, nbytes uint64
	for i := fr.first; i < fr.first+fr.n; i++ {
		h.SequenceNumber = t.seq
		t.seq++
		h.Marker = src.kind == webrtc.RTPCodecTypeVideo && src.lastInFr[i]
		p := src.payloads[i]
		n, err := b.writer.WriteRTP(h, p)
		if err != nil {
			// Not sent: counted apart, never in pktsSent.
			t.writeErrs.Add(1)
			continue
		}
		if n > 0 && !t.sentFirst {
			t.sentFirst = true
			t.inst.mark(evFirstSent)
		}
		npkts++
		nbytes += uint64(len(p))
	}
	t.pktsSent.Add(npkts)
	t.bytesSent.Add(nbytes)
	if late {
		t.late.mark(uint64(fr.n), due)
	}
	t.frames++
	t.fidx++
	if int(t.fidx) == len(src.frames) {
		t.fidx = 0
	}
	return int(fr.n)
}

// lateCounter counts late media writes and remembers when the first and
// the last late one were due (monotonic offsets from when the counter was
// made, see monoStamps).
type lateCounter struct {
	n           atomic.Uint64
	stamp       monoStamps
	first, last atomic.Int64 // monoStamps words; 0: none yet
}

func newLateCounter() lateCounter { return lateCounter{stamp: monoStamps{base: time.Now()}} }

// mark counts n late packets of the frame due at due (off the hot path:
// only when the sender is behind).
func (c *lateCounter) mark(n uint64, due time.Time) {
	c.n.Add(n)
	v := c.stamp.enc(due)
	c.first.CompareAndSwap(0, v)
	c.last.Store(v)
}

// addTo adds the count and the instants to st.
func (c *lateCounter) addTo(st *metrics.MediaStats) {
	st.LateWrites += c.n.Load()
	first := c.first.Load()
	if first == 0 {
		return
	}
	if f := c.stamp.dec(first); st.FirstLateWrite.IsZero() || f.Before(st.FirstLateWrite) {
		st.FirstLateWrite = f
	}
	if l := c.stamp.dec(c.last.Load()); l.After(st.LastLateWrite) {
		st.LastLateWrite = l
	}
}

// senderReport builds the RTCP sender report for this track at now, or
// false when it has not sent since it was bound (or is paused). Called by
// the pacer goroutine.
func (t *outTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := t.bind.Load()
	if b == nil || t.paused.Load() || !t.sentFirst || t.lastDue.IsZero() {
		return nil, false
	}
	elapsed := now.Sub(t.lastDue)
	return &rtcp.SenderReport{
		SSRC:        b.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     t.lastTS + uint32(elapsed*time.Duration(t.srcOf(b).clockRate)/time.Second),
		PacketCount: uint32(t.pktsSent.Load()),
		OctetCount:  uint32(t.bytesSent.Load()),
	}, true
}
