package media

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/loadgen/loadgen/internal/netio"
)

// benchKeys are fixed SRTP master keys for the benchmarks (AES-GCM, the
// profile pion negotiates first).
var benchKeys = struct{ key, salt []byte }{
	key:  []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	salt: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
}

// benchLoop is one transport loop on 127.0.0.1 with n audio callers
// connected (keys set, no handshake) to a sink socket that nothing
// reads: what the pacer and the reader do per packet, without a far end.
func benchLoop(b *testing.B, n int) (*tloop, []*tPeer, *netio.Conn) {
	b.Helper()
	e := testEngine(b, func(c *EngineConfig) { c.Transport = true; c.Pacers = 1 })
	l := e.transport.loops[0]
	sink, err := netio.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sink.Close() })
	to := sink.LocalAddr()
	peers := make([]*tPeer, n)
	for i := range peers {
		p, err := e.newTransportCaller(PeerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Close() })
		p.enc, err = srtp.CreateContext(benchKeys.key, benchKeys.salt, srtp.ProtectionProfileAeadAes128Gcm)
		if err != nil {
			b.Fatal(err)
		}
		p.dec, err = srtp.CreateContext(benchKeys.key, benchKeys.salt, srtp.ProtectionProfileAeadAes128Gcm)
		if err != nil {
			b.Fatal(err)
		}
		p.raddr.Store(&to)
		p.ready.Store(true)
		kinds := [128]int8{}
		for i := range kinds {
			kinds[i] = -1
		}
		kinds[opusPayloadType] = 0
		p.kindOfPT.Store(&kinds)
		p.audio.bind.Store(&binding{writer: &tWriter{p: p, t: p.audio}, ssrc: p.ssrcs[0], pt: opusPayloadType, src: e.audio})
		peers[i] = p
	}
	return l, peers, sink
}

// BenchmarkTransportPacerTick measures the pacer's audio tick over 1000
// transport calls: per packet, the frame's RTP header, SRTP encryption
// into the send batch and sendmmsg to 127.0.0.1 (the kernel's loopback
// delivery included). Zero allocations per tick.
func BenchmarkTransportPacerTick(b *testing.B) {
	const calls = 1000
	l, peers, sink := benchLoop(b, calls)
	tracks := make([]*outTrack, len(peers))
	for i, p := range peers {
		tracks[i] = p.audio
	}
	// Drain the sink so the socket buffer never fills (another goroutine:
	// its CPU is the receiver's, not counted per packet here).
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ms := make([]netio.Message, 64)
		for i := range ms {
			ms[i].Buf = make([]byte, 1600)
		}
		for {
			if _, err := sink.ReadBatch(ms); err != nil {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	defer func() { close(stop); _ = sink.Close(); <-done }()
	s := l.shard
	// One tick first: SRTP makes each SSRC's state on its first packet.
	s.tick(tracks, time.Now(), AudioFrameDuration)
	l.flush()
	b.ReportAllocs()
	for b.Loop() {
		s.tick(tracks, time.Now(), AudioFrameDuration)
		l.flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tracks)), "ns/pkt")
	var errs uint64
	for _, t := range tracks {
		errs += t.writeErrs.Load()
	}
	if errs != 0 {
		b.Fatalf("%d write errors", errs)
	}
}

// BenchmarkTransportReceive measures the reader's work per received
// packet: demultiplexing by the remote address among 1000 calls, SRTP
// decryption in place and the receive statistics with the payload
// check. Zero allocations per packet.
func BenchmarkTransportReceive(b *testing.B) {
	const calls = 1000
	l, peers, _ := benchLoop(b, calls)
	p := peers[calls/2]
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	l.register(p, []netip.AddrPort{from})
	for i, q := range peers {
		if q != p {
			l.register(q, []netip.AddrPort{netip.AddrPortFrom(from.Addr(), uint16(41000+i))})
		}
	}
	// The far end's packets: the clip in order, encrypted once.
	enc, err := srtp.CreateContext(benchKeys.key, benchKeys.salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		b.Fatal(err)
	}
	src := p.e.audio
	var pkts [][]byte
	for i := range 4 * len(src.payloads) {
		h := rtp.Header{Version: 2, PayloadType: opusPayloadType, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 7}
		plain, err := (&rtp.Packet{Header: h, Payload: src.payloads[i%len(src.payloads)]}).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		ct, err := enc.EncryptRTP(nil, plain, nil)
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, ct)
	}
	// Decryption without replay protection: the benchmark replays the
	// same packets in a loop.
	if p.dec, err = srtp.CreateContext(benchKeys.key, benchKeys.salt, srtp.ProtectionProfileAeadAes128Gcm); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1600)
	now := time.Now()
	l.dispatch(buf[:copy(buf, pkts[0])], from, now) // the SSRC's state, once
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ct := pkts[i%len(pkts)]
		n := copy(buf, ct)
		l.dispatch(buf[:n], from, now)
		i++
	}
	b.StopTimer()
	if got := p.in[0].received.Load(); got == 0 || p.in[0].mismatches.Load() != 0 {
		b.Fatalf("received %d, mismatches %d", got, p.in[0].mismatches.Load())
	}
}

// TestTransportGoroutinesPerCall holds the transport's goroutine budget:
// at most 4 per call on the media path, none per packet. Calls between a
// transport caller and a transport answerer cost 2g+1 goroutines, g per
// side (pion/dtls keeps its handshake and read loops parked) plus the
// answerer's reader of its own socket; the count is taken while media
// flows both ways, so a goroutine per packet would show.
func TestTransportGoroutinesPerCall(t *testing.T) {
	checkLeaks(t)
	ce, ae := transportEngine(t), transportEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := runtime.NumGoroutine()
	const calls = 20
	var cs []CallPeer
	for range calls {
		c, _, err := testPair(ctx, t, ce, ae, true)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		if err := waitFor(ctx, func() bool { return c.Stats().Video.PacketsReceived >= 10 }); err != nil {
			t.Fatalf("no media: %v", err)
		}
	}
	perSide := (float64(runtime.NumGoroutine()-before)/calls - 1) / 2
	t.Logf("goroutines per call side on the media path: %.2f", perSide)
	if perSide > 4 {
		t.Errorf("%.2f goroutines per call side, want at most 4", perSide)
	}
}
