package media

import (
	"encoding/binary"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/pion/transport/v5/packetio"
)

// RTCP packet types the sink reads (RFC 3550 §12.1).
const (
	rtcpTypeSR = 200
	rtcpTypeRR = 201
)

// srtpBufferLimit is the size limit of the RTP read buffers the lean
// engine gives pion (pion's own default: 1 MB).
const srtpBufferLimit = 1000 * 1000

// rtcpRouter takes the place of one reader goroutine per RTP sender and
// one per RTP receiver in the lean engine: pion's SRTCP session goroutine
// writes every decrypted compound RTCP packet into an rtcpSink (the
// SettingEngine's BufferFactory), which reads it at once and hands the
// round-trip time to the sending track and the sender report's time to the
// receiving stream, found by SSRC. Nothing is buffered, so no RTCP read
// stream grows (pion's default buffers hold up to 100 kB each, and an
// undeclared stream's is never drained).
//
// RTP takes the same shortcut: a stream whose SSRC a remote description
// declared (expectRTP) gets an rtpSink that accounts each packet in pion's
// SRTP session goroutine, instead of a buffer read by a goroutine per
// track: one goroutine and one hand-off per received packet fewer.
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

// bufferFactory is the SettingEngine's BufferFactory: RTCP streams get an
// rtcpSink, RTP streams of a declared SSRC an rtpSink, others pion's usual
// bounded buffer.
func (r *rtcpRouter) bufferFactory(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTCPBufferPacket {
		return &rtcpSink{r: r, ssrc: ssrc, closed: make(chan struct{})}
	}
	r.mu.Lock()
	route := r.rtp[ssrc]
	ok := route != nil && !route.ambiguous
	if ok {
		route.served = true
	}
	r.mu.Unlock()
	if ok {
		return &rtpSink{p: route.p, kind: route.kind, ready: make(chan struct{}), closed: make(chan struct{})}
	}
	b := packetio.NewBuffer()
	b.SetLimitSize(srtpBufferLimit)
	return &rtpBuffer{b}
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
		s.lsrAt.Store(now.UnixNano())
		s.lsr.Store(lsr)
	}
}

// receptionReport records the round-trip time a report block about ssrc
// implies for the tracks sending ssrc.
func (r *rtcpRouter) receptionReport(ssrc, lsr, dlsr uint32, now time.Time) {
	d, ok := rttFromBlock(lsr, dlsr, now)
	if !ok {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.senders[ssrc] {
		t.rttNanos.Store(int64(d))
	}
}

// rtcpSink is the buffer of one SRTCP read stream (the stream of packets
// addressed to ssrc): Write reads the packet at once, Read blocks until
// Close (nothing is ever buffered to read).
type rtcpSink struct {
	r      *rtcpRouter
	ssrc   uint32
	once   sync.Once
	closed chan struct{}
}

// Write handles one decrypted compound RTCP packet without allocating:
// from each stream's sink it takes only what concerns that stream's SSRC
// (pion writes the packet to the sink of every SSRC it names), so each
// report is taken once.
func (k *rtcpSink) Write(b []byte) (int, error) {
	n := len(b)
	now := time.Now()
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
			if binary.BigEndian.Uint32(p[4:]) == k.ssrc {
				k.r.senderReport(k.ssrc, uint32(binary.BigEndian.Uint64(p[8:])>>16), now)
			}
			blocks = p[28:]
		case rtcpTypeRR:
			blocks = p[8:]
		default:
			continue
		}
		for i := 0; i < count && len(blocks) >= 24; i++ {
			blk := blocks[:24]
			blocks = blocks[24:]
			if binary.BigEndian.Uint32(blk) == k.ssrc {
				k.r.receptionReport(k.ssrc, binary.BigEndian.Uint32(blk[16:]), binary.BigEndian.Uint32(blk[20:]), now)
			}
		}
	}
	return n, nil
}

// Read blocks until the sink is closed: the sink keeps nothing to read.
func (k *rtcpSink) Read([]byte) (int, error) {
	<-k.closed
	return 0, io.EOF
}

// Close implements io.Closer; it is idempotent.
func (k *rtcpSink) Close() error {
	k.once.Do(func() { close(k.closed) })
	return nil
}

// rtpBuffer is pion's default RTP read buffer (a bounded packetio.Buffer
// keeping packet attributes), as srtp builds it without a BufferFactory.
type rtpBuffer struct{ *packetio.Buffer }

func (b *rtpBuffer) Read(p []byte) (int, error) {
	n, _, err := b.Buffer.Read(p, nil)
	return n, err
}

func (b *rtpBuffer) Write(p []byte) (int, error) { return b.Buffer.Write(p, nil) }

// ReadWithAttributes is what srtp reads through when present.
func (b *rtpBuffer) ReadWithAttributes(p []byte, attrs packetio.Attributes) (int, packetio.Attributes, error) {
	return b.Buffer.Read(p, attrs)
}

// WriteWithAttributes is what srtp writes through when present.
func (b *rtpBuffer) WriteWithAttributes(p []byte, attrs packetio.Attributes) (int, error) {
	return b.Buffer.Write(p, attrs)
}

// rtpSink is the buffer of a declared remote SSRC's SRTP read stream: Write
// accounts the packet at once (Peer.deliver) in pion's SRTP session
// goroutine. Only the first packet is kept, for pion's peek that
// determines the payload type before OnTrack fires; Read returns it, then
// blocks until Close.
type rtpSink struct {
	p    *Peer
	kind int

	gotFirst bool // writer-owned
	ready    chan struct{}
	mu       sync.Mutex
	first    []byte
	taken    bool
	once     sync.Once
	closed   chan struct{}
}

func (k *rtpSink) Write(b []byte) (int, error) {
	k.p.deliver(k.kind, b, time.Now())
	if !k.gotFirst {
		k.gotFirst = true
		k.mu.Lock()
		k.first = slices.Clone(b)
		k.mu.Unlock()
		close(k.ready)
	}
	return len(b), nil
}

func (k *rtpSink) Read(b []byte) (int, error) {
	select {
	case <-k.ready:
	case <-k.closed:
		return 0, io.EOF
	}
	k.mu.Lock()
	if !k.taken {
		k.taken = true
		n := copy(b, k.first)
		k.first = nil
		k.mu.Unlock()
		return n, nil
	}
	k.mu.Unlock()
	<-k.closed
	return 0, io.EOF
}

// Close implements io.Closer; it is idempotent.
func (k *rtpSink) Close() error {
	k.once.Do(func() { close(k.closed) })
	return nil
}
