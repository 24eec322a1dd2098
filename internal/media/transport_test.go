package media

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
)

// endpoint is one end of a test call: a pion peer or a transport peer.
type endpoint interface {
	Stats() metrics.MediaStats
	Close() error
}

// silence stops an end's media as a mutual hold does: nothing sent, and
// the silence that follows is expected.
func silence(p endpoint) {
	now := time.Now()
	switch q := p.(type) {
	case *Peer:
		q.setPaused(true, true)
		for _, in := range q.in {
			in.setExpecting(false, now)
		}
	case *tPeer:
		q.setPaused(true)
		for _, in := range q.in {
			in.setExpecting(false, now)
		}
	}
}

// answerer is the gateway's side of a test call.
type answerer interface {
	endpoint
	Answer(ctx context.Context, offer string) (string, error)
}

// callEngines are the engines of a test call's two ends.
type callEngines struct {
	name             string
	caller, answerer func(t *testing.T) *Engine
}

func pionEngine(t *testing.T) *Engine { return testEngine(t, nil) }

func transportEngine(t *testing.T) *Engine {
	return testEngine(t, func(c *EngineConfig) { c.Transport = true; c.Pacers = 2 })
}

// engineCombos: the transport against pion both ways, and against itself.
var engineCombos = []callEngines{
	{"transport caller, pion answerer", transportEngine, pionEngine},
	{"pion caller, transport answerer", pionEngine, transportEngine},
	{"transport both ends", transportEngine, transportEngine},
}

// testPair negotiates a caller of ce with an answerer of ae (the
// transport's when ae has one), both closed when the test ends.
func testPair(ctx context.Context, t testing.TB, ce, ae *Engine, video bool) (CallPeer, answerer, error) {
	c, err := ce.NewCall(PeerOptions{Video: video})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	var a answerer
	if ae.transport != nil {
		a, err = ae.NewAnswerPeer(PeerOptions{Video: video})
	} else {
		a, err = ae.NewAnswerer(PeerOptions{Video: video})
	}
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = a.Close() })
	offer, err := c.CreateOffer(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("offer: %w", err)
	}
	answer, err := a.Answer(ctx, offer)
	if err != nil {
		return nil, nil, fmt.Errorf("answer: %w", err)
	}
	if err := c.ApplyAnswer(answer); err != nil {
		return nil, nil, fmt.Errorf("apply answer: %w", err)
	}
	return c, a, nil
}

// TestTransportCalls places audio and audio+video calls between the
// transport and pion (both ways) and between transports, many at once,
// and checks every call's media both ways exactly: every packet sent
// arrives, in order, with the expected payloads, and RTCP gives the RTT
// and the far end's reports.
func TestTransportCalls(t *testing.T) {
	for _, ec := range engineCombos {
		for _, tc := range []struct {
			name  string
			calls int
			video bool
		}{
			{"audio", 20, false},
			{"audio+video", 10, true},
		} {
			t.Run(ec.name+"/"+tc.name, func(t *testing.T) {
				checkLeaks(t)
				ce, ae := ec.caller(t), ec.answerer(t)
				testCalls(t, ce, ae, tc.calls, tc.video)
			})
		}
	}
}

func testCalls(t *testing.T, ce, ae *Engine, calls int, video bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cs := make([]CallPeer, calls)
	as := make([]answerer, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			c, a, err := testPair(ctx, t, ce, ae, video)
			if err == nil {
				err = c.WaitConnected(ctx)
			}
			cs[i], as[i], errs[i] = c, a, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i := range cs {
		c, a := cs[i], as[i]
		if err := waitFor(ctx, func() bool {
			cst, ast := c.Stats(), a.Stats()
			return cst.Audio.PacketsReceived >= 100 && ast.Audio.PacketsReceived >= 100 &&
				(!video || (cst.Video.PacketsReceived >= 30 && ast.Video.PacketsReceived >= 30)) &&
				cst.RTT > 0 && ast.RTT > 0 && cst.UplinkReports > 0 && ast.UplinkReports > 0
		}); err != nil {
			t.Fatalf("call %d: media too slow: caller %+v answerer %+v: %v", i, c.Stats(), a.Stats(), err)
		}
	}
	for i := range cs {
		silence(cs[i])
		silence(as[i])
	}
	settle, settleCancel := context.WithTimeout(ctx, 10*time.Second)
	defer settleCancel()
	stable := 0
	_ = waitFor(settle, func() bool {
		for i := range cs {
			if cs[i].Stats().PacketsSent != as[i].Stats().PacketsReceived || as[i].Stats().PacketsSent != cs[i].Stats().PacketsReceived {
				stable = 0
				return false
			}
		}
		stable++
		return stable == 3
	})
	for i := range cs {
		for _, dir := range []struct {
			name     string
			from, to endpoint
		}{{"caller->answerer", cs[i], as[i]}, {"answerer->caller", as[i], cs[i]}} {
			sent, got := dir.from.Stats(), dir.to.Stats()
			if sent.PacketsSent == 0 || got.PacketsReceived != sent.PacketsSent || got.BytesReceived != sent.BytesSent {
				t.Errorf("call %d %s: sent %d/%d bytes, received %d/%d", i, dir.name, sent.PacketsSent, sent.BytesSent, got.PacketsReceived, got.BytesReceived)
			}
			if got.Audio.PacketsLost+got.Video.PacketsLost != 0 || got.Duplicates != 0 || got.Reordered != 0 || !got.IntegrityOK || !got.IntegrityChecked {
				t.Errorf("call %d %s: receiver stats %+v", i, dir.name, got)
			}
			if got.Jitter <= 0 || got.RTT <= 0 || sent.UplinkReports == 0 {
				t.Errorf("call %d %s: jitter %v rtt %v uplink reports %d", i, dir.name, got.Jitter, got.RTT, sent.UplinkReports)
			}
		}
		ev := cs[i].Events()
		if ev.ICEChecking.IsZero() || ev.ICEConnected.Before(ev.ICEChecking) || ev.DTLSConnected.Before(ev.ICEConnected) ||
			ev.FirstRTPSent.IsZero() || ev.FirstRTPReceived.IsZero() {
			t.Errorf("call %d: caller events out of order or missing: %+v", i, ev)
		}
	}
}
