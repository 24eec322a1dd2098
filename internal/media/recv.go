package media

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"github.com/loadgen/loadgen/internal/metrics"
)

// Integrity-check limits.
const (
	// maxSyncCandidates bounds the positions a first packet may match in
	// the expected Source.
	maxSyncCandidates = 64
	// maxSyncAttempts bounds how many packets the receiver tries to locate
	// in the expected Source before it declares the stream foreign.
	maxSyncAttempts = 50
	// stallThreshold is the silence after which a stream that stopped
	// for good counts the packets due since its last one as missing
	// (TailMissing), and the slack of a multi-packet-per-frame stream's
	// by-time count (its clip's rate is an average over the loop).
	stallThreshold = 250 * time.Millisecond
)

// rtpView is the part of an RTP packet the receiver looks at.
type rtpView struct {
	pt      uint8
	seq     uint16
	ts      uint32
	ssrc    uint32
	payload []byte
}

// parseRTP reads an RTP header without allocating (RFC 3550 §5.1).
func parseRTP(b []byte) (rtpView, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return rtpView{}, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if len(b) < off+4 {
			return rtpView{}, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding
		if end == 0 {
			return rtpView{}, false
		}
		end -= int(b[end-1])
	}
	if off > end {
		return rtpView{}, false
	}
	return rtpView{
		pt:      b[1] & 0x7f,
		seq:     binary.BigEndian.Uint16(b[2:]),
		ts:      binary.BigEndian.Uint32(b[4:]),
		ssrc:    binary.BigEndian.Uint32(b[8:]),
		payload: b[off:end],
	}, true
}

// inStream keeps the statistics of one received stream (one kind). Fields
// below "reader-owned" are touched only by the goroutine reading the track;
// the atomics are what Stats reads.
type inStream struct {
	exp    *Source     // expected media; nil: no payload check (reader-owned: follows the payload type)
	checks bool        // payloads are compared (fixed at creation)
	clock  float64     // RTP clock rate (reader-owned: follows the payload type)
	byPT   *ptSources  // the media each audio payload type carries (nil: one codec)
	pt     int         // payload type of the packets so far (-1: none yet)
	router *rtcpRouter // where sender reports about our SSRC arrive (nil: read by the peer)

	// reader-owned: under mu (an rtpSink and a reader goroutine may
	// take turns after a renegotiation)
	mu        sync.Mutex
	gotFirst  bool
	started   bool
	ssrc      uint32
	baseExt   int64
	maxExt    int64
	unique    uint64
	window    uint64 // bit i: maxExt-i was received
	lostPrev  uint64 // losses of earlier SSRC segments
	transit   float64
	jitter    float64 // RFC 3550 interarrival jitter, in clock units
	haveTrans bool
	cands     []int32 // candidate positions of syncExt in exp
	syncExt   int64
	synced    bool
	attempts  int
	epoch     time.Time
	// by-time accounting: expecting is whether the remote is meant to
	// send (the negotiated direction); a segment starts at the first
	// packet while expected and its time accrues packet to packet.
	expecting bool
	segOn     bool
	last      time.Time

	// fixed at creation: the sender's packet rate, from its clip (0:
	// unknown, no by-time count); multi: a frame spans several packets
	rate  float64
	multi bool

	// published for Stats (by-time accounting)
	activeNs atomic.Int64  // time media was expected, packet to packet
	segs     atomic.Uint64 // segments started
	gapMax   atomic.Int64  // longest time between packets in a segment
	lastAt   atomic.Int64  // stamp word: last arrival while expected
	onAt     atomic.Int64  // stamp word: when expecting last turned on
	expOn    atomic.Bool   // expecting, for Stats

	// published for the RTCP reports the pacer writes
	rSSRC    atomic.Uint32
	rStarted atomic.Bool
	rExt     atomic.Int64  // highest extended sequence number
	rUnique  atomic.Uint64 // distinct packets of the current SSRC
	rJitter  atomic.Uint32 // interarrival jitter, RTP clock units
	lsr      atomic.Uint32 // middle 32 bits of the last SR's NTP time
	lsrAt    atomic.Int64  // when that SR arrived (a stamp word)
	stamp    monoStamps    // base of lsrAt

	// pacer-owned: values at the previous report
	repExt    int64
	repUnique uint64
	repSSRC   uint32

	received   atomic.Uint64
	bytes      atomic.Uint64
	lost       atomic.Uint64
	dups       atomic.Uint64
	reordered  atomic.Uint64
	mismatches atomic.Uint64
	matched    atomic.Uint64
	jitterNs   atomic.Int64
}

// ptSources maps an RTP payload type to the clip a loadgen peer sends
// with it (nil: unknown), for receivers of a stream whose codec is the
// one the negotiation chose.
type ptSources [128]*Source

func newInStream(exp *Source, clock uint32) *inStream {
	s := &inStream{exp: exp, checks: exp != nil, pt: -1, clock: float64(clock), cands: make([]int32, 0, maxSyncCandidates), stamp: monoStamps{base: time.Now()}, expecting: true}
	s.expOn.Store(true)
	return s
}

// setRate sets the sender's packet rate from the clip it plays (nil:
// unknown); call before the first packet.
func (s *inStream) setRate(src *Source) {
	if src == nil || src.Duration() <= 0 {
		return
	}
	s.rate = float64(src.Packets()) / src.Duration().Seconds()
	s.multi = src.Packets() > src.Frames()
}

// setExpecting records whether the remote is meant to send now (the
// negotiated direction, or our hold); a change ends the current segment,
// so a hold's silence is no gap and the next segment starts with its
// first packet.
func (s *inStream) setExpecting(on bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.expecting {
		return
	}
	s.expecting = on
	s.segOn = false
	if on {
		s.onAt.Store(s.stamp.enc(now))
	}
	s.expOn.Store(on)
}

// timing accounts one arrival at now for the by-time figures.
func (s *inStream) timing(now time.Time) {
	if !s.expecting {
		return
	}
	if s.segOn {
		if gap := now.Sub(s.last); gap > 0 {
			s.activeNs.Add(int64(gap))
			if int64(gap) > s.gapMax.Load() {
				s.gapMax.Store(int64(gap))
			}
		}
	} else {
		s.segOn = true
		s.segs.Add(1)
	}
	s.last = now
	s.lastAt.Store(s.stamp.enc(now))
}

// packet accounts one received RTP packet arriving at now.
func (s *inStream) packet(b []byte, now time.Time) {
	v, ok := parseRTP(b)
	if !ok {
		s.mismatches.Add(1)
		return
	}
	s.received.Add(1)
	s.bytes.Add(uint64(len(v.payload)))
	s.timing(now)
	if int(v.pt) != s.pt {
		s.codecChange(v.pt)
	}
	if !s.started || v.ssrc != s.ssrc {
		if s.started {
			s.lostPrev += uint64(s.maxExt-s.baseExt+1) - s.unique
		}
		if s.router != nil && s.started {
			s.router.removeReceiver(s, s.ssrc)
		}
		s.started = true
		s.ssrc = v.ssrc
		s.baseExt = int64(v.seq)
		s.maxExt = s.baseExt
		s.unique = 1
		s.window = 1
		s.haveTrans = false
		s.synced = false
		s.attempts = 0
		s.epoch = now
		s.lost.Store(s.lostPrev)
		s.checkPayload(s.maxExt, v.payload)
		s.arrival(v.ts, now)
		s.lsr.Store(0)
		s.rSSRC.Store(v.ssrc)
		if s.router != nil {
			s.router.addReceiver(s, v.ssrc)
		}
		s.publish()
		s.rStarted.Store(true)
		return
	}
	ext := s.maxExt + int64(int16(v.seq-uint16(s.maxExt)))
	switch {
	case ext > s.maxExt:
		shift := ext - s.maxExt
		if shift >= 64 {
			s.window = 1
		} else {
			s.window = s.window<<uint(shift) | 1
		}
		s.maxExt = ext
		s.unique++
		s.arrival(v.ts, now)
	case s.maxExt-ext < 64:
		bit := uint64(1) << uint(s.maxExt-ext)
		if s.window&bit != 0 {
			s.dups.Add(1)
			return // a duplicate says nothing new about the content
		}
		s.window |= bit
		s.unique++
		s.reordered.Add(1)
		s.arrival(v.ts, now) // RFC 3550 A.8: every packet, in arrival order
	default:
		// Older than the window: cannot tell a duplicate from a very late
		// packet; count it as reordered.
		s.unique++
		s.reordered.Add(1)
		s.arrival(v.ts, now)
	}
	if ext < s.baseExt {
		s.baseExt = ext
	}
	s.lost.Store(s.lostPrev + uint64(s.maxExt-s.baseExt+1) - min(s.unique, uint64(s.maxExt-s.baseExt+1)))
	s.publish()
	s.checkPayload(ext, v.payload)
}

// codecChange follows the stream to payload type pt: its clock rate and,
// where payloads are checked, the clip it carries; the jitter estimator
// and the payload sync start afresh (a new timestamp scale and clip).
func (s *inStream) codecChange(pt uint8) {
	first := s.pt < 0
	s.pt = int(pt)
	if s.byPT == nil {
		return
	}
	src := s.byPT[pt]
	if src == nil {
		return
	}
	s.clock = float64(src.clockRate)
	if s.checks {
		s.exp = src
	}
	if !first {
		s.haveTrans = false
		s.synced = false
		s.attempts = 0
	}
}

// publish exposes what the next receiver report needs.
func (s *inStream) publish() {
	s.rExt.Store(s.maxExt)
	s.rUnique.Store(s.unique)
	s.rJitter.Store(uint32(s.jitter))
}

// receptionReport builds the report block about this stream for an RTCP
// report sent at now (RFC 3550 §6.4.1). Called by the pacer goroutine.
func (s *inStream) receptionReport(now time.Time) (rtcp.ReceptionReport, bool) {
	if !s.rStarted.Load() {
		return rtcp.ReceptionReport{}, false
	}
	ssrc, ext, unique := s.rSSRC.Load(), s.rExt.Load(), s.rUnique.Load()
	if ssrc != s.repSSRC {
		s.repSSRC, s.repExt, s.repUnique = ssrc, ext-int64(unique), 0
	}
	expected := ext - s.repExt
	got := int64(unique - s.repUnique)
	var fraction uint8
	if expected > 0 && got < expected {
		fraction = uint8((expected - got) * 256 / expected)
	}
	s.repExt, s.repUnique = ext, unique
	rr := rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(min(s.lost.Load(), 0x7fffff)),
		LastSequenceNumber: uint32(ext),
		Jitter:             s.rJitter.Load(),
	}
	if lsr := s.lsr.Load(); lsr != 0 {
		rr.LastSenderReport = lsr
		rr.Delay = uint32(now.Sub(s.stamp.dec(s.lsrAt.Load())) * 65536 / time.Second)
	}
	return rr, true
}

// arrival updates the interarrival jitter (RFC 3550 §6.4.1, A.8) with a
// packet arriving at now: called for every packet in arrival order,
// reordered ones included (not duplicates), so D compares consecutive
// arrivals as the RFC's estimator does.
func (s *inStream) arrival(ts uint32, now time.Time) {
	arr := float64(now.Sub(s.epoch)) * s.clock / float64(time.Second)
	transit := arr - float64(ts)
	if s.haveTrans {
		d := transit - s.transit
		if d < 0 {
			d = -d
		}
		if d < s.clock*10 { // ignore timestamp jumps (loop restarts of foreign streams, re-syncs)
			s.jitter += (d - s.jitter) / 16
			s.jitterNs.Store(int64(s.jitter * float64(time.Second) / s.clock))
		}
	}
	s.transit = transit
	s.haveTrans = true
}

// checkPayload compares the payload of extended sequence number ext with
// what the expected Source carries there.
func (s *inStream) checkPayload(ext int64, p []byte) {
	src := s.exp
	if src == nil {
		return
	}
	n := int64(len(src.payloads))
	if s.synced {
		off := ext - s.syncExt
		k := 0
		for _, c := range s.cands {
			idx := (int64(c) + off) % n
			if idx < 0 {
				idx += n
			}
			if bytes.Equal(src.payloads[idx], p) {
				s.cands[k] = c
				k++
			}
		}
		if k > 0 {
			s.cands = s.cands[:k]
			s.matched.Add(1)
			return
		}
		// Lost track: count it and try to locate this packet afresh.
		s.mismatches.Add(1)
		s.synced = false
		s.attempts = 0
	}
	if s.attempts >= maxSyncAttempts {
		s.mismatches.Add(1)
		return
	}
	s.attempts++
	s.cands = s.cands[:0]
	period := int32(src.cycle)
	for i, q := range src.payloads {
		if int32(i) >= period {
			break
		}
		if bytes.Equal(q, p) && len(s.cands) < cap(s.cands) {
			s.cands = append(s.cands, int32(i))
		}
	}
	if len(s.cands) == 0 {
		s.mismatches.Add(1)
		return
	}
	s.synced = true
	s.syncExt = ext
	s.matched.Add(1)
}

// integrityOK reports whether every received packet matched the expected
// stream (and at least one arrived).
func (s *inStream) integrityOK() bool {
	return s.received.Load() > 0 && s.mismatches.Load() == 0
}

// addTo fills st's downlink figures at now: counters, jitter and the
// by-time count (see metrics.MediaStreamStats).
func (s *inStream) addTo(st *metrics.MediaStreamStats, now time.Time) {
	st.PacketsReceived = s.received.Load()
	st.BytesReceived = s.bytes.Load()
	st.PacketsLost = s.lost.Load()
	st.Duplicates = s.dups.Load()
	st.Reordered = s.reordered.Load()
	st.Jitter = time.Duration(s.jitterNs.Load())
	covered := st.PacketsReceived - min(st.Duplicates, st.PacketsReceived) + st.PacketsLost
	st.PacketsExpected = covered
	segs := s.segs.Load()
	if segs == 0 {
		return
	}
	st.LongestGap = time.Duration(s.gapMax.Load())
	if s.rate <= 0 {
		return
	}
	slack := 1.0
	if s.multi {
		slack = s.rate * stallThreshold.Seconds()
	}
	byTime := s.rate*time.Duration(s.activeNs.Load()).Seconds() + float64(segs)
	if m := math.Round(byTime - float64(covered)); m > slack {
		st.StallMissing = uint64(m)
	}
	if s.expOn.Load() {
		from := s.stamp.dec(max(s.lastAt.Load(), s.onAt.Load()))
		if tail := now.Sub(from); tail > stallThreshold {
			st.TailMissing = uint64(tail.Seconds() * s.rate)
			st.LongestGap = max(st.LongestGap, tail)
		}
	}
	st.PacketsExpected = covered + st.StallMissing + st.TailMissing
}
