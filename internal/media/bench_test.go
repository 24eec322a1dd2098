package media

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The benchmarks below run the lean engine and the PionDefaults engine
// side by side (sub-benchmarks "lean" and "pion"), caller and answerer in
// this one process, so every CPU, memory and goroutine total covers both
// ends of the calls. Each figure is divided by the number of call sides
// (peers: two per call) and its unit says so ("/call-side"); a whole call
// in this process costs twice that, while a generator facing a real
// gateway carries one side per call.

// cpuTime is the process's user+system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

var benchModes = []struct {
	name  string
	naive bool
}{{"lean", false}, {"pion", true}}

func benchEngine(b *testing.B, naive bool) *Engine {
	return testEngine(b, func(c *EngineConfig) {
		c.PionDefaults = naive
		c.ICEFailedTimeout = 5 * time.Second
		c.ICEKeepalive = 0 // pion's default 2 s, as a real run
	})
}

// setupPairs establishes n calls (both ends) concurrently, with at most
// par in flight, and waits for first media both ways.
func setupPairs(tb testing.TB, e *Engine, n, par int, video bool) [][2]*Peer {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make([][2]*Peer, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, a, err := connectPair(ctx, e, video)
			if err != nil {
				errs <- err
				return
			}
			out[i] = [2]*Peer{c, a}
			for _, p := range out[i] {
				if err := p.WaitFirstMedia(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return out
}

func closePairs(pairs [][2]*Peer) {
	for _, p := range pairs {
		for _, q := range p {
			if q != nil {
				q.Close()
			}
		}
	}
}

// BenchmarkCallSetup measures the CPU one call setup costs: offer,
// gathering, answer, ICE, DTLS and the first media packet both ways,
// sequentially, closing each call after it is measured.
func BenchmarkCallSetup(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			e := benchEngine(b, m.naive)
			var cpu time.Duration
			n := 0
			for b.Loop() {
				c0 := cpuTime(b)
				pairs := setupPairs(b, e, 1, 1, false)
				cpu += cpuTime(b) - c0
				closePairs(pairs)
				n++
			}
			// Two peers per call in this process: report per side.
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(2*n), "cpu-ms/call-side-setup")
		})
	}
}

// BenchmarkMediaPacket measures steady-state CPU per media packet with 100
// two-way calls (200 peers) running: each packet is sent by one peer and
// received by another of this process, so the CPU is divided by twice the
// packets sent: the figure is CPU per packet sent or received by one side
// ("cpu-us/pkt-side"). pkts-sent/s is every side's sent packets together.
func BenchmarkMediaPacket(b *testing.B) {
	for _, video := range []bool{false, true} {
		for _, m := range benchModes {
			name := m.name + "/audio"
			if video {
				name = m.name + "/audio+video"
			}
			b.Run(name, func(b *testing.B) {
				e := benchEngine(b, m.naive)
				pairs := setupPairs(b, e, 100, 10, video)
				defer closePairs(pairs)
				time.Sleep(time.Second) // let setups settle
				sent := func() (n uint64) {
					for _, p := range pairs {
						for _, q := range p {
							n += q.Stats().PacketsSent
						}
					}
					return n
				}
				c0, s0 := cpuTime(b), sent()
				for b.Loop() {
					time.Sleep(100 * time.Millisecond)
				}
				cpu, pkts := cpuTime(b)-c0, sent()-s0
				b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(2*pkts), "cpu-us/pkt-side")
				b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts-sent/s")
			})
		}
	}
}

// BenchmarkEstablishedCall measures what one side of an established
// two-way audio call costs: goroutines, Go heap and process RSS, divided
// by the number of peers (two per call).
func BenchmarkEstablishedCall(b *testing.B) {
	const calls = 100
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			e := benchEngine(b, m.naive)
			for b.Loop() {
				runtime.GC()
				var ms0 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				g0, rss0 := runtime.NumGoroutine(), rssBytes(b)
				pairs := setupPairs(b, e, calls, 10, false)
				time.Sleep(500 * time.Millisecond)
				runtime.GC()
				var ms1 runtime.MemStats
				runtime.ReadMemStats(&ms1)
				g1, rss1 := runtime.NumGoroutine(), rssBytes(b)
				peers := float64(2 * calls)
				b.ReportMetric(float64(g1-g0)/peers, "goroutines/call-side")
				b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/1024/peers, "heap-KB/call-side")
				b.ReportMetric(float64(rss1-rss0)/1024/peers, "rss-KB/call-side")
				closePairs(pairs)
			}
		})
	}
}

// nullWriter is a webrtc.TrackLocalWriter that drops packets.
type nullWriter struct{ n int }

func (w *nullWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkPacerTick measures the pacer's own hot path, one audio tick
// over 1000 bound tracks writing to a null writer: zero allocations.
func BenchmarkPacerTick(b *testing.B) {
	audio, err := DefaultAudio()
	if err != nil {
		b.Fatal(err)
	}
	p := &Peer{}
	p.inst = newInstants(time.Now)
	w := &nullWriter{}
	tracks := make([]*outTrack, 1000)
	for i := range tracks {
		t := newOutTrack(p, &p.inst, nil, audio, "audio", "s", uint16(i), uint32(i))
		t.bind.Store(&binding{writer: w, ssrc: uint32(i), pt: 111})
		tracks[i] = t
	}
	s := newShard()
	b.ReportAllocs()
	for b.Loop() {
		s.tick(tracks, time.Now(), AudioFrameDuration)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tracks)), "ns/pkt")
}

// BenchmarkWriteRTP measures one packet written through pion's real write
// path on an established lean call: the track's write stream, an empty
// interceptor chain (the lean engine registers none), SRTP and UDP.
func BenchmarkWriteRTP(b *testing.B) {
	e := benchEngine(b, false)
	pairs := setupPairs(b, e, 1, 1, false)
	defer closePairs(pairs)
	c := pairs[0][0]
	c.e.pickShard() // keep the pacer's writes rare compared to ours:
	tr := c.audio
	bnd := tr.bind.Load()
	h := rtp.Header{Version: 2, SSRC: bnd.ssrc, PayloadType: bnd.pt}
	payload := e.audio.payloads[0]
	tr.paused.Store(true) // the pacer stops writing; we write instead
	b.ReportAllocs()
	for b.Loop() {
		h.SequenceNumber++
		h.Timestamp += 960
		if _, err := bnd.writer.WriteRTP(&h, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceivePacket measures the receiver's accounting and integrity
// check per packet: zero allocations.
func BenchmarkReceivePacket(b *testing.B) {
	audio, err := DefaultAudio()
	if err != nil {
		b.Fatal(err)
	}
	pkts := stream(b, audio, 1, 0, 0, 4*len(audio.payloads))
	in := newInStream(audio, 48000)
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in.packet(pkts[i%len(pkts)], now)
		i++
	}
	if in.mismatches.Load() != 0 {
		b.Fatalf("%d mismatches", in.mismatches.Load())
	}
	_ = webrtc.MimeTypeOpus
}

// BenchmarkIdleCall measures what one side of an established call costs
// per second with its media paused (ICE keepalives, RTCP reports, timers).
func BenchmarkIdleCall(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			e := benchEngine(b, m.naive)
			pairs := setupPairs(b, e, 100, 10, false)
			defer closePairs(pairs)
			for _, p := range pairs {
				for _, q := range p {
					q.setPaused(true, true)
				}
			}
			time.Sleep(time.Second)
			c0 := cpuTime(b)
			for b.Loop() {
				time.Sleep(100 * time.Millisecond)
			}
			cpu := cpuTime(b) - c0
			b.ReportMetric(float64(cpu)/float64(time.Microsecond)/b.Elapsed().Seconds()/float64(2*len(pairs)), "cpu-us/s/call-side")
		})
	}
}
