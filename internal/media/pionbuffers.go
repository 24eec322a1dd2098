package media

import (
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5/packetio"
	"github.com/pion/webrtc/v4"
)

// srtpBufferLimit is the size limit of the RTP read buffers the lean
// engine gives pion for streams it does not account itself (pion's own
// default: 1 MB).
const srtpBufferLimit = 1000 * 1000

// Buffer kinds pionBuffers hands out, indexing pionBuffers.made.
const (
	bufRTPSink  = iota // a declared remote SSRC's RTP: accounted on write
	bufRTCPSink        // an SSRC's RTCP: read on write by the router
	bufRTPPlain        // any other RTP: pion's usual bounded buffer
	numBufKinds
)

// pionBuffers is the lean engine's one adapter to pion internals: the
// receive path swaps the read buffers of pion's SRTP and SRTCP streams
// through the SettingEngine's BufferFactory, so received packets are
// accounted in pion's session goroutines instead of being buffered for a
// reader goroutine per track and per sender. Nothing else in the package
// depends on how pion uses those buffers.
//
// What it relies on (pion/webrtc v4 with pion/srtp v3; the contract test
// TestPionBufferContract fails, naming the broken point, if an upgrade
// changes any of it):
//
//  1. pion calls the factory once per read stream it opens, with
//     packetio.RTPBufferPacket and the remote SSRC for each SRTP stream,
//     and packetio.RTCPBufferPacket and the SSRC for each SRTCP stream.
//  2. Its session goroutine writes every decrypted packet to the stream's
//     buffer, one packet per Write (WriteWithAttributes when the buffer
//     has it), and the buffer may keep none of them.
//  3. Before OnTrack fires for an SSRC, pion reads that stream's first
//     packet (a peek for the payload type): an rtpSink keeps exactly that
//     one packet for that read.
//  4. pion closes the buffer when it closes the stream; a Read blocked on
//     it must then return io.EOF.
type pionBuffers struct {
	r *rtcpRouter
	// made counts the buffers handed out, by kind (bufRTPSink...): for the
	// contract test and for debugging; never read on a hot path.
	made [numBufKinds]atomic.Uint64
}

// install makes pb the SettingEngine's BufferFactory.
func (pb *pionBuffers) install(se *webrtc.SettingEngine) {
	se.BufferFactory = pb.factory
}

// factory is the SettingEngine's BufferFactory: RTCP streams get an
// rtcpSink, RTP streams of a declared SSRC an rtpSink, others pion's usual
// bounded buffer.
func (pb *pionBuffers) factory(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTCPBufferPacket {
		pb.made[bufRTCPSink].Add(1)
		return &rtcpSink{r: pb.r, ssrc: ssrc, closed: make(chan struct{})}
	}
	if p, k, ok := pb.r.claimRTP(ssrc); ok {
		pb.made[bufRTPSink].Add(1)
		return &rtpSink{p: p, kind: k, ready: make(chan struct{}), closed: make(chan struct{})}
	}
	pb.made[bufRTPPlain].Add(1)
	b := packetio.NewBuffer()
	b.SetLimitSize(srtpBufferLimit)
	return &rtpBuffer{b}
}

// rtcpSink is the buffer of one SRTCP read stream (the stream of packets
// addressed to ssrc): Write hands the packet to the router at once, Read
// blocks until Close (nothing is ever buffered to read).
type rtcpSink struct {
	r      *rtcpRouter
	ssrc   uint32
	once   sync.Once
	closed chan struct{}
}

// Write reads one decrypted compound RTCP packet, without allocating.
func (k *rtcpSink) Write(b []byte) (int, error) {
	k.r.compound(k.ssrc, b, time.Now())
	return len(b), nil
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
