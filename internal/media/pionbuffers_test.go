package media

import (
	"context"
	"testing"
	"time"
)

// TestPionBufferContract places a real call between two lean peers and
// checks every point of the contract pionBuffers documents. It fails,
// naming the broken point, when a pion upgrade changes how pion uses the
// SettingEngine's BufferFactory: the lean receive path would then lose
// packets, RTT or sender reports silently.
func TestPionBufferContract(t *testing.T) {
	ctx, c, a := upPair(t, 20*time.Second)
	e := c.e
	peers := []*Peer{c, a}
	// Wait (bounded) for media both ways on both kinds and an RTCP round
	// trip both ways: each needs pion to have written into our sinks.
	err := waitFor(ctx, func() bool {
		for _, p := range peers {
			if p.in[0].received.Load() < 10 || p.in[1].received.Load() < 5 ||
				p.audio.rttNanos.Load() == 0 || p.in[0].lsr.Load() == 0 {
				return false
			}
		}
		return true
	})
	const broken = "pion's BufferFactory contract changed (see pionbuffers.go): "
	if err != nil {
		for i, p := range peers {
			t.Logf("peer %d: received audio %d video %d, rtt %v, audio LSR %x", i,
				p.in[0].received.Load(), p.in[1].received.Load(),
				time.Duration(p.audio.rttNanos.Load()), p.in[0].lsr.Load())
		}
		t.Fatalf(broken+"points 1-2: media or RTCP never reached the sinks: %v", err)
	}
	// Point 1: one RTP buffer per declared remote SSRC, asked for with
	// that SSRC (both kinds, both peers), and RTCP buffers.
	if got := e.buffers.made[bufRTPSink].Load(); got != 4 {
		t.Errorf(broken+"point 1: %d RTP sinks made, want 4 (one per declared remote SSRC)", got)
	}
	if got := e.buffers.made[bufRTPPlain].Load(); got != 0 {
		t.Errorf(broken+"point 1: %d RTP buffers asked for SSRCs no description declared", got)
	}
	if got := e.buffers.made[bufRTCPSink].Load(); got == 0 {
		t.Errorf(broken + "point 1: no RTCP buffer asked for")
	}
	for i, p := range peers {
		p.negMu.Lock()
		ssrcs := append([]uint32(nil), p.rtpSSRCs...)
		p.negMu.Unlock()
		if len(ssrcs) != 2 {
			t.Errorf("peer %d: %d remote SSRCs declared, want 2", i, len(ssrcs))
		}
		for _, ssrc := range ssrcs {
			if !e.router.servesRTP(p, ssrc) {
				t.Errorf(broken+"point 1: peer %d: no RTP buffer asked for declared SSRC %d", i, ssrc)
			}
		}
		// Point 3: OnTrack fired after pion's peek read the first packet
		// through the sink, and it started no reader of its own.
		for k := range 2 {
			p.mu.Lock()
			reader := p.readerDone[k] != nil
			p.mu.Unlock()
			if reader {
				t.Errorf(broken+"point 3: peer %d kind %d: a track reader was started (a packet went around the sink)", i, k)
			}
		}
	}
	// Point 2: every packet was accounted once, on write: stop sending,
	// let the last packets land, and compare sent with received exactly.
	for _, p := range peers {
		p.setPaused(true, true)
	}
	if err := waitFor(ctx, func() bool {
		for _, pr := range [][2]*Peer{{c, a}, {a, c}} {
			if pr[0].Stats().PacketsSent != pr[1].Stats().PacketsReceived {
				return false
			}
		}
		return true
	}); err != nil {
		for _, pr := range [][2]*Peer{{c, a}, {a, c}} {
			t.Logf("sent %d, received %d", pr[0].Stats().PacketsSent, pr[1].Stats().PacketsReceived)
		}
		t.Fatalf(broken+"point 2: not every packet written was accounted once: %v", err)
	}
	// Point 4: closing the peers closes the sinks (the leak check fails
	// if a Read stayed blocked).
}

// waitFor polls cond every 10 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
