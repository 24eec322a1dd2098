package media

import (
	"encoding/binary"
	"slices"
	"sync"
	"time"
)

// RTCP packet types the router reads (RFC 3550 §12.1).
const (
	rtcpTypeSR = 200
	rtcpTypeRR = 201
	// rtcpTypePSFB is payload-specific feedback (RFC 4585 §6.3); format 1
	// is a picture loss indication.
	rtcpTypePSFB = 206
	rtcpFmtPLI   = 1
)

// rtcpRouter takes the place of one reader goroutine per RTP sender and
// one per RTP receiver in the lean engine. pion's SRTCP session goroutine
// hands every decrypted compound RTCP packet to the router (through
// pionBuffers, the only code that knows how pion does that), which reads
// it at once and gives the round-trip time to the sending track and the
// sender report's time to the receiving stream, found by SSRC. Nothing is
// buffered, so no RTCP read stream grows (pion's default buffers hold up
// to 100 kB each, and an undeclared stream's is never drained).
//
// RTP takes the same shortcut: the packets of a stream whose SSRC a
// remote description declared (expectRTP) are accounted in pion's SRTP
// session goroutine, instead of a buffer read by a goroutine per track:
// one goroutine and one hand-off per received packet fewer.
type rtcpRouter struct {
	mu        sync.RWMutex
	senders   map[uint32][]*outTrack // by the SSRC the track sends with
	receivers map[uint32][]*inStream // by the SSRC the stream receives
	rtp       map[uint32]*rtpRoute   // declared remote SSRCs
}

// rtpRoute is where the RTP of one declared remote SSRC goes.
type rtpRoute struct {
	p         *Peer
	kind      int  // index in p.in
	ambiguous bool // two peers expect this SSRC: both read it the usual way
	served    bool // an rtpSink was made for it
}

func newRTCPRouter() *rtcpRouter {
	return &rtcpRouter{
		senders:   map[uint32][]*outTrack{},
		receivers: map[uint32][]*inStream{},
		rtp:       map[uint32]*rtpRoute{},
	}
}

// claimRTP reports which peer and kind the RTP of ssrc goes to, and marks
// the route served (an rtpSink now reads it), or false when the SSRC is
// undeclared or two peers expect it (then pion's usual buffer reads it).
func (r *rtcpRouter) claimRTP(ssrc uint32) (p *Peer, kind int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	route := r.rtp[ssrc]
	if route == nil || route.ambiguous {
		return nil, 0, false
	}
	route.served = true
	return route.p, route.kind, true
}

// expectRTP records the remote SSRCs p's next remote description declares
// (ssrc -> kind index); it returns those newly recorded for p.
func (r *rtcpRouter) expectRTP(p *Peer, ssrcs map[uint32]int) []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var added []uint32
	for ssrc, k := range ssrcs {
		switch route := r.rtp[ssrc]; {
		case route == nil:
			r.rtp[ssrc] = &rtpRoute{p: p, kind: k}
			added = append(added, ssrc)
		case route.p != p:
			route.ambiguous = true
		default:
			route.kind = k
		}
	}
	return added
}

// servesRTP reports whether an rtpSink of p reads ssrc (then p's OnTrack
// starts no reader: one that read the sink would count the first packet
// twice). A route that turned ambiguous keeps the sink it already made.
func (r *rtcpRouter) servesRTP(p *Peer, ssrc uint32) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	route := r.rtp[ssrc]
	return route != nil && route.p == p && route.served
}

// forgetRTP removes p's routes.
func (r *rtcpRouter) forgetRTP(p *Peer, ssrcs []uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ssrc := range ssrcs {
		if route := r.rtp[ssrc]; route != nil && route.p == p {
			delete(r.rtp, ssrc)
		}
	}
}

func (r *rtcpRouter) addSender(t *outTrack, ssrc uint32)    { addRoute(r, r.senders, ssrc, t) }
func (r *rtcpRouter) removeSender(t *outTrack, ssrc uint32) { removeRoute(r, r.senders, ssrc, t) }
func (r *rtcpRouter) addReceiver(s *inStream, ssrc uint32)  { addRoute(r, r.receivers, ssrc, s) }
func (r *rtcpRouter) removeReceiver(s *inStream, ssrc uint32) {
	removeRoute(r, r.receivers, ssrc, s)
}

// addRoute adds v to m[ssrc] once, under r's lock.
func addRoute[T comparable](r *rtcpRouter, m map[uint32][]T, ssrc uint32, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(m[ssrc], v) {
		m[ssrc] = append(m[ssrc], v)
	}
}

// removeRoute removes v from m[ssrc], dropping the key when it empties,
// under r's lock.
func removeRoute[T comparable](r *rtcpRouter, m map[uint32][]T, ssrc uint32, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := slices.DeleteFunc(m[ssrc], func(x T) bool { return x == v }); len(l) > 0 {
		m[ssrc] = l
	} else {
		delete(m, ssrc)
	}
}

// senderReport records a sender report from ssrc (the middle 32 bits of
// its NTP time) for the streams receiving ssrc.
func (r *rtcpRouter) senderReport(ssrc, lsr uint32, now time.Time) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.receivers[ssrc] {
		s.lsrAt.Store(s.stamp.enc(now))
		s.lsr.Store(lsr)
	}
}

// receptionReport records a report block about ssrc (blk: its 24 bytes)
// for the tracks sending ssrc: the far end's loss and jitter figures, and
// the round-trip time it implies.
func (r *rtcpRouter) receptionReport(ssrc uint32, blk []byte, now time.Time) {
	d, rttOK := rttFromBlock(binary.BigEndian.Uint32(blk[16:]), binary.BigEndian.Uint32(blk[20:]), now)
	lost := int32(binary.BigEndian.Uint32(blk[4:])<<8) >> 8
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.senders[ssrc] {
		t.up.record(blk[4], lost, binary.BigEndian.Uint32(blk[12:]))
		if rttOK {
			t.rttNanos.Store(int64(d))
		}
	}
}

// pictureLoss asks the tracks sending ssrc for a keyframe.
func (r *rtcpRouter) pictureLoss(ssrc uint32) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.senders[ssrc] {
		t.pli.Store(true)
	}
}

// compound reads one decrypted compound RTCP packet that pion delivered
// to the stream of ssrc, without allocating: it takes only what concerns
// ssrc (pion writes the packet to the stream of every SSRC it names), so
// each report is taken once: the sender report of ssrc goes to the
// streams receiving ssrc, a report block about ssrc to the tracks sending
// it.
func (r *rtcpRouter) compound(ssrc uint32, b []byte, now time.Time) {
	for len(b) >= 8 {
		if b[0]>>6 != 2 {
			break
		}
		count := int(b[0] & 0x1f)
		size := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if size > len(b) {
			break
		}
		p := b[:size]
		b = b[size:]
		var blocks []byte
		switch p[1] {
		case rtcpTypeSR:
			if len(p) < 28 {
				continue
			}
			if binary.BigEndian.Uint32(p[4:]) == ssrc {
				r.senderReport(ssrc, uint32(binary.BigEndian.Uint64(p[8:])>>16), now)
			}
			blocks = p[28:]
		case rtcpTypeRR:
			blocks = p[8:]
		case rtcpTypePSFB:
			if count == rtcpFmtPLI && len(p) >= 12 && binary.BigEndian.Uint32(p[8:]) == ssrc {
				r.pictureLoss(ssrc)
			}
			continue
		default:
			continue
		}
		for i := 0; i < count && len(blocks) >= 24; i++ {
			blk := blocks[:24]
			blocks = blocks[24:]
			if binary.BigEndian.Uint32(blk) == ssrc {
				r.receptionReport(ssrc, blk, now)
			}
		}
	}
}
