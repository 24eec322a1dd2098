package media

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// impairment is what the relay injects on one direction. Delay applies to
// every packet (STUN, DTLS, RTP, RTCP), so RTCP measures it; jitter, loss,
// reordering and stalls apply to RTP only, so ICE, DTLS and the RTCP
// reports stay intact and the figures compared are the media's.
type impairment struct {
	delay   time.Duration // one-way delay of every packet
	jitter  time.Duration // RTP: extra delay drawn uniformly from [0, jitter)
	loss    float64       // RTP: drop probability
	reorder float64       // RTP: probability a packet is held reorderHold longer, so the next overtakes it
}

// reorderHold is the extra delay of a reordered packet: more than one 20 ms
// audio interval, less than two, so exactly the next packet overtakes it.
const reorderHold = 30 * time.Millisecond

func (im impairment) String() string {
	s := ""
	if im.delay > 0 {
		s += fmt.Sprintf(" delay %v", im.delay)
	}
	if im.jitter > 0 {
		s += fmt.Sprintf(" jitter U[0,%v)", im.jitter)
	}
	if im.loss > 0 {
		s += fmt.Sprintf(" loss %.0f%%", 100*im.loss)
	}
	if im.reorder > 0 {
		s += fmt.Sprintf(" reorder %.0f%%", 100*im.reorder)
	}
	if s == "" {
		return "none"
	}
	return s[1:]
}

// relay is a UDP impairment layer on 127.0.0.1 between a caller and an
// answerer. Each side's host candidate is rewritten to a relay socket:
// the caller talks to asAnswerer, which forwards (uplink) from asCaller
// to the answerer's real address; the answerer talks to asCaller, which
// forwards (downlink) from asAnswerer to the caller. Both ICE agents see
// exactly the candidates they were given, so ICE, DTLS and SRTP run
// unchanged through it. SRTP leaves the RTP header in the clear, so the
// relay knows each media packet's sequence number and timestamp, and
// keeps the ground truth of what it did: drops, release instants, and the
// RFC 3550 jitter and reordering those instants imply.
type relay struct {
	asCaller, asAnswerer *net.UDPConn
	up, down             *leg
	wg                   sync.WaitGroup
	done                 chan struct{}
}

func newRelay(up, down impairment, seed uint64) (*relay, error) {
	laddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	ac, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		return nil, err
	}
	aa, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		ac.Close()
		return nil, err
	}
	r := &relay{asCaller: ac, asAnswerer: aa, done: make(chan struct{})}
	r.up = newLeg(up, ac, rand.New(rand.NewPCG(seed, 1)), r.done)
	r.down = newLeg(down, aa, rand.New(rand.NewPCG(seed, 2)), r.done)
	r.wg.Go(func() { r.up.read(aa) })
	r.wg.Go(func() { r.down.read(ac) })
	r.wg.Go(r.up.schedule)
	r.wg.Go(r.down.schedule)
	return r, nil
}

// Close stops the relay and waits for its goroutines.
func (r *relay) Close() {
	close(r.done)
	r.asCaller.Close()
	r.asAnswerer.Close()
	r.wg.Wait()
}

var (
	hostCandRE = regexp.MustCompile(`(a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 )(\d+)( typ host)`)
	// rtcpCandRE matches the component-2 (RTCP) candidates pion lists
	// beside the RTP ones; ICE would pair them directly, past the relay.
	rtcpCandRE = regexp.MustCompile(`a=candidate:\S+ 2 udp [^\r\n]*\r?\n`)
)

// rewrite points the UDP host candidate of sdp at via, and returns the
// address it pointed at (the peer's real socket). Other candidates are
// removed.
func rewrite(sdp string, via *net.UDPConn) (string, *net.UDPAddr, error) {
	sdp = rtcpCandRE.ReplaceAllString(sdp, "")
	m := hostCandRE.FindStringSubmatch(sdp)
	if m == nil {
		return "", nil, fmt.Errorf("no 127.0.0.1 UDP host candidate in\n%s", sdp)
	}
	port, _ := strconv.Atoi(m[2])
	relayPort := strconv.Itoa(via.LocalAddr().(*net.UDPAddr).Port)
	return hostCandRE.ReplaceAllString(sdp, "${1}"+relayPort+"${3}"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, nil
}

// offer rewrites the caller's offer: the answerer will reach the caller
// through the relay.
func (r *relay) offer(sdp string) (string, error) {
	s, dst, err := rewrite(sdp, r.asCaller)
	if err == nil {
		r.down.dst.Store(dst)
	}
	return s, err
}

// answer rewrites the answerer's answer: the caller will reach the
// answerer through the relay.
func (r *relay) answer(sdp string) (string, error) {
	s, dst, err := rewrite(sdp, r.asAnswerer)
	if err == nil {
		r.up.dst.Store(dst)
	}
	return s, err
}

// leg is one direction of the relay.
type leg struct {
	imp  impairment
	rng  *rand.Rand // reader-owned
	out  *net.UDPConn
	dst  atomic.Pointer[net.UDPAddr]
	done chan struct{}
	base time.Time // origin of the RTP arrival clock

	// stall: RTP read before stallUntil (and after stallFrom) is dropped.
	stallMu               sync.Mutex
	stallFrom, stallUntil time.Time

	seenRTP atomic.Uint64 // RTP packets read (before any drop)

	mu    sync.Mutex
	q     pktHeap
	n     uint64 // arrival order, tie-break of equal release instants
	wake  chan struct{}
	truth legTruth
	// reader-owned sequence extension
	extMax  int64
	extInit bool
}

// legTruth is what the relay did to one direction's RTP, under leg.mu.
type legTruth struct {
	forwarded  uint64    // RTP packets released
	dropped    []int64   // extended sequence numbers dropped (loss)
	stalled    uint64    // RTP packets dropped by the stall (also in dropped)
	first      time.Time // first RTP release
	released   bool
	relMax     int64   // highest extended sequence number released
	reordered  uint64  // released after a higher sequence number
	transit    float64 // RFC 3550 §A.8, RTP clock units (48 kHz audio)
	jitter     float64
	last       time.Time     // last RTP release
	maxGap     time.Duration // longest time between RTP releases
	holdSum    time.Duration // actual hold of every released packet
	holdMax    time.Duration
	holdMin    time.Duration
	holdPkts   uint64
	rtcpHoldMn time.Duration // shortest actual hold of an RTCP packet
}

type queued struct {
	at   time.Time // release instant
	n    uint64
	in   time.Time // read instant
	b    []byte
	rtp  bool
	ext  int64
	ts   uint32
	rtcp bool
}

type pktHeap []*queued

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].n < h[j].n
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(*queued)) }
func (h *pktHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newLeg(im impairment, out *net.UDPConn, rng *rand.Rand, done chan struct{}) *leg {
	return &leg{imp: im, rng: rng, out: out, done: done, wake: make(chan struct{}, 1), base: time.Now()}
}

// stall drops this leg's RTP for d from now: a frozen far end.
func (l *leg) stall(d time.Duration) {
	l.stallMu.Lock()
	defer l.stallMu.Unlock()
	l.stallFrom = time.Now()
	l.stallUntil = l.stallFrom.Add(d)
}

func (l *leg) stalled(now time.Time) bool {
	l.stallMu.Lock()
	defer l.stallMu.Unlock()
	return !l.stallFrom.IsZero() && !now.Before(l.stallFrom) && now.Before(l.stallUntil)
}

// classify tells RTP from RTCP (RFC 7983 and RFC 5761 demultiplexing).
func classify(b []byte) (rtp, rtcp bool) {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 {
		return false, false // STUN, DTLS
	}
	if b[1] >= 192 && b[1] <= 223 {
		return false, true
	}
	return true, false
}

// read reads packets from the source peer and queues them with their
// impairment until the socket closes.
func (l *leg) read(from *net.UDPConn) {
	buf := make([]byte, 1500)
	for {
		n, _, err := from.ReadFromUDP(buf)
		if err != nil {
			return
		}
		now := time.Now()
		p := &queued{in: now, b: append([]byte(nil), buf[:n]...)}
		p.rtp, p.rtcp = classify(p.b)
		hold := l.imp.delay
		if p.rtp {
			l.seenRTP.Add(1)
			seq := binary.BigEndian.Uint16(p.b[2:])
			p.ts = binary.BigEndian.Uint32(p.b[4:])
			if !l.extInit {
				l.extMax, l.extInit = int64(seq), true
			}
			p.ext = l.extMax + int64(int16(seq-uint16(l.extMax)))
			l.extMax = max(l.extMax, p.ext)
			// The random draws happen for every packet in the same
			// order, so a seed gives the same impairment every run.
			drop := l.rng.Float64() < l.imp.loss
			extra := time.Duration(0)
			if l.imp.jitter > 0 {
				extra = time.Duration(l.rng.Int64N(int64(l.imp.jitter)))
			}
			late := l.rng.Float64() < l.imp.reorder
			switch {
			case l.stalled(now):
				l.mu.Lock()
				l.truth.stalled++
				l.truth.dropped = append(l.truth.dropped, p.ext)
				l.mu.Unlock()
				continue
			case drop:
				l.mu.Lock()
				l.truth.dropped = append(l.truth.dropped, p.ext)
				l.mu.Unlock()
				continue
			}
			hold += extra
			if late {
				hold += reorderHold
			}
		}
		p.at = now.Add(hold)
		l.mu.Lock()
		p.n = l.n
		l.n++
		heap.Push(&l.q, p)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// schedule releases queued packets at their instants, in order, and keeps
// the truth about the RTP it releases.
func (l *leg) schedule() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		var next time.Time
		for l.q.Len() > 0 {
			p := l.q[0]
			now := time.Now()
			if p.at.After(now) {
				next = p.at
				break
			}
			heap.Pop(&l.q)
			if dst := l.dst.Load(); dst != nil {
				_, _ = l.out.WriteToUDP(p.b, dst)
				l.account(p, time.Now())
			}
		}
		l.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(wait)
		select {
		case <-l.done:
			return
		case <-l.wake:
		case <-timer.C:
		}
	}
}

// account records a released packet (l.mu held).
func (l *leg) account(p *queued, at time.Time) {
	t := &l.truth
	hold := at.Sub(p.in)
	if p.rtcp && (t.rtcpHoldMn == 0 || hold < t.rtcpHoldMn) {
		t.rtcpHoldMn = hold
	}
	if !p.rtp {
		return
	}
	t.forwarded++
	t.holdSum += hold
	t.holdPkts++
	t.holdMax = max(t.holdMax, hold)
	if t.holdMin == 0 || hold < t.holdMin {
		t.holdMin = hold
	}
	const clock = 48000
	transit := at.Sub(l.base).Seconds()*clock - float64(p.ts)
	if t.released {
		t.jitter += (math.Abs(transit-t.transit) - t.jitter) / 16
		t.maxGap = max(t.maxGap, at.Sub(t.last))
		if p.ext < t.relMax {
			t.reordered++
		}
	}
	if !t.released {
		t.first = at
	}
	t.transit = transit
	t.last = at
	t.relMax = max(t.relMax, p.ext)
	t.released = true
}

// snapshot returns the leg's truth so far: RTP released, lost by sequence
// number (drops below the highest sequence released: the receiver can
// see those), all drops, reordered, jitter, longest gap.
func (l *leg) snapshot() relayTruth {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.truth
	var seqLost uint64
	for _, e := range t.dropped {
		if e < t.relMax {
			seqLost++
		}
	}
	var mean time.Duration
	if t.holdPkts > 0 {
		mean = t.holdSum / time.Duration(t.holdPkts)
	}
	// Missing by time, as the receiver counts it (inStream.addTo) but over
	// the relay's release instants: the 20 ms sender's packets due from
	// the first release to the last, less those released or lost by
	// sequence number (one packet of slack).
	var byTime uint64
	if t.released {
		due := 50*t.last.Sub(t.first).Seconds() + 1
		if m := math.Round(due - float64(t.forwarded+seqLost)); m > 1 {
			byTime = uint64(m)
		}
	}
	return relayTruth{
		forwarded: t.forwarded, seqLost: seqLost, dropped: uint64(len(t.dropped)), stalled: t.stalled, byTime: byTime,
		rtcpMinHold: t.rtcpHoldMn,
		reordered:   t.reordered, jitter: time.Duration(t.jitter * float64(time.Second) / 48000),
		maxGap: t.maxGap, meanHold: mean, minHold: t.holdMin, maxHold: t.holdMax,
	}
}

// relayTruth is one direction's ground truth.
type relayTruth struct {
	forwarded, seqLost, dropped, stalled, reordered uint64
	byTime                                          uint64 // missing by time (a sender that paused)
	jitter, maxGap                                  time.Duration
	meanHold, minHold, maxHold                      time.Duration // of RTP
	rtcpMinHold                                     time.Duration
}
