package media

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// transportEngines returns a transport engine for callers and a lean pion
// engine for answerers (the built-in gateway's), both on 127.0.0.1.
func transportEngines(t *testing.T) (callers, answerers *Engine) {
	t.Helper()
	callers = testEngine(t, func(c *EngineConfig) { c.Transport = true; c.Pacers = 2 })
	answerers = testEngine(t, nil)
	return callers, answerers
}

// transportPair negotiates a transport caller of ce with a pion answerer
// of ae, both closed when the test ends.
func transportPair(ctx context.Context, t testing.TB, ce, ae *Engine, video bool) (CallPeer, *Peer, error) {
	c, err := ce.NewCall(PeerOptions{Video: video})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	a, err := ae.NewAnswerer(PeerOptions{Video: video})
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

// TestTransportCalls places audio and audio+video calls from transport
// callers to pion answerers at once and checks every call's media both
// ways exactly: every packet sent arrives, in order, with the expected
// payloads, and RTCP gives the RTT and the far end's reports.
func TestTransportCalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls int
		video bool
	}{
		{"audio", 20, false},
		{"audio+video", 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			ce, ae := transportEngines(t)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			cs := make([]CallPeer, tc.calls)
			as := make([]*Peer, tc.calls)
			errs := make([]error, tc.calls)
			var wg sync.WaitGroup
			for i := range tc.calls {
				wg.Go(func() {
					c, a, err := transportPair(ctx, t, ce, ae, tc.video)
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
						(!tc.video || (cst.Video.PacketsReceived >= 30 && ast.Video.PacketsReceived >= 30)) &&
						cst.RTT > 0 && ast.RTT > 0 && cst.UplinkReports > 0
				}); err != nil {
					t.Fatalf("call %d: media too slow: caller %+v answerer %+v: %v", i, c.Stats(), a.Stats(), err)
				}
			}
			// Stop both ends as on a mutual hold, then compare.
			for i := range cs {
				cs[i].(*tPeer).setPaused(true)
				as[i].setPaused(true, true)
				for _, in := range append(cs[i].(*tPeer).in[:], as[i].in[:]...) {
					in.setExpecting(false, time.Now())
				}
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
					from, to CallPeer
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
		})
	}
}
