package media

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestConcurrentCalls runs 50 audio+video calls at once between callers
// and answerers of one engine, and checks every call's media both ways;
// then the same, smaller and audio only, with PionDefaults.
func TestConcurrentCalls(t *testing.T) {
	tests := []struct {
		name  string
		calls int
		video bool
		naive bool
	}{
		{"lean, audio+video", 50, true, false},
		{"pion defaults, audio", 10, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testConcurrentCalls(t, tc.calls, tc.video, tc.naive)
		})
	}
}

func testConcurrentCalls(t *testing.T, calls int, video, naive bool) {
	checkLeaks(t)
	e := testEngine(t, func(c *EngineConfig) { c.PionDefaults = naive })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	type pair struct{ c, a *Peer }
	pairs := make([]pair, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			c, a, err := connectPair(ctx, e, video)
			if err != nil {
				errs[i] = err
				return
			}
			pairs[i] = pair{c, a}
			for _, p := range []*Peer{c, a} {
				if err := p.WaitConnected(ctx); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, p := range pairs {
			if p.c != nil {
				p.c.Close()
				p.a.Close()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Let media run until every call has received a few video frames and
	// an RTCP round trip both ways, then stop the senders and wait until
	// every packet sent has landed, so that sent and received can be
	// compared exactly (both waits bounded by the test's deadline).
	for _, p := range pairs {
		for _, q := range []*Peer{p.c, p.a} {
			if err := waitFor(ctx, func() bool {
				return q.in[0].received.Load() >= 100 && (!video || q.in[1].received.Load() >= 30) && q.Stats().RTT > 0
			}); err != nil {
				t.Fatalf("media too slow: %+v: %v", q.Stats(), err)
			}
		}
	}
	// Both ends stop sending as on a mutual hold: the silence that
	// follows is expected (no tail counted as missing).
	for _, p := range pairs {
		for _, q := range []*Peer{p.c, p.a} {
			q.setPaused(true, true)
			for _, in := range q.in {
				in.setExpecting(false, time.Now())
			}
		}
	}
	// Every packet sent has landed once sent equals received on every
	// call, on three polls in a row (a pacer tick that was under way when
	// the senders paused may still write one frame). A packet lost on
	// loopback ends the wait at its deadline and the checks below say
	// which call.
	settleCtx, settleCancel := context.WithTimeout(ctx, 10*time.Second)
	defer settleCancel()
	stable := 0
	_ = waitFor(settleCtx, func() bool {
		for _, p := range pairs {
			if p.c.Stats().PacketsSent != p.a.Stats().PacketsReceived || p.a.Stats().PacketsSent != p.c.Stats().PacketsReceived {
				stable = 0
				return false
			}
		}
		stable++
		return stable == 3
	})

	for i, p := range pairs {
		for _, dir := range []struct {
			name     string
			from, to *Peer
		}{{"caller->answerer", p.c, p.a}, {"answerer->caller", p.a, p.c}} {
			sent, got := dir.from.Stats(), dir.to.Stats()
			if sent.PacketsSent == 0 || got.PacketsReceived != sent.PacketsSent || got.BytesReceived != sent.BytesSent {
				t.Errorf("call %d %s: sent %d packets/%d bytes, received %d/%d",
					i, dir.name, sent.PacketsSent, sent.BytesSent, got.PacketsReceived, got.BytesReceived)
			}
			// Losses by sequence number only: the by-time count also
			// sees frames a loaded pacer skipped (late writes), which
			// depend on the machine's load.
			if got.Audio.PacketsLost+got.Video.PacketsLost != 0 || got.Duplicates != 0 || got.Reordered != 0 || !got.IntegrityOK || !got.IntegrityChecked {
				t.Errorf("call %d %s: receiver stats %+v", i, dir.name, got)
			}
			// Late writes depend on the machine's load: not asserted.
			if got.Jitter <= 0 || got.RTT <= 0 {
				t.Errorf("call %d %s: jitter %v rtt %v", i, dir.name, got.Jitter, got.RTT)
			}
			ev := dir.to.Events()
			if ev.ICEChecking.IsZero() || ev.ICEConnected.Before(ev.ICEChecking) || ev.DTLSConnected.Before(ev.ICEConnected) ||
				ev.FirstRTPSent.IsZero() || ev.FirstRTPReceived.IsZero() {
				t.Errorf("call %d: events out of order or missing: %+v", i, ev)
			}
			for _, at := range []time.Time{ev.ICEChecking, ev.ICEConnected, ev.DTLSConnected, ev.FirstRTPSent, ev.FirstRTPReceived} {
				if !hasMono(at) {
					t.Errorf("call %d: event instant %v has no monotonic reading", i, at)
				}
			}
		}
	}
}

// TestICEFailure checks that a remote which never answers ICE ends in
// ErrICEFailed after the configured timeout, leaving no goroutine.
func TestICEFailure(t *testing.T) {
	checkLeaks(t)
	closedPort := func(t *testing.T) int {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		return port
	}
	candRE := regexp.MustCompile(`(a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 )\d+`)
	tests := []struct {
		name     string
		cfg      func(*EngineConfig)
		mangle   func(t *testing.T, answer string) string
		offerErr bool // CreateOffer itself fails with wantErr
		wantErr  error
	}{
		{
			name: "candidate on a closed port",
			mangle: func(t *testing.T, answer string) string {
				port := closedPort(t)
				return candRE.ReplaceAllString(answer, "${1}"+itoa(port))
			},
			wantErr: ErrICEFailed,
		},
		{
			name: "no candidates",
			mangle: func(t *testing.T, answer string) string {
				return regexp.MustCompile(`a=candidate:[^\r\n]*\r\n`).ReplaceAllString(answer, "")
			},
			wantErr: ErrICEFailed,
		},
		{
			name: "unreachable TURN, relay only",
			cfg: func(c *EngineConfig) {
				c.RelayOnly = true
				c.ICEServers = []webrtc.ICEServer{{
					URLs: []string{"turn:127.0.0.1:" + itoa(closedPort(t)) + "?transport=udp"}, Username: "u", Credential: "p",
				}}
			},
			offerErr: true,
			wantErr:  ErrICEFailed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := testEngine(t, func(c *EngineConfig) {
				c.ICEFailedTimeout = time.Second
				c.ICEDisconnectedTimeout = 500 * time.Millisecond
				c.GatherTimeout = time.Second
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := e.NewCaller(PeerOptions{Video: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			offer, err := c.CreateOffer(ctx)
			if tc.offerErr {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("CreateOffer = %v, want %v", err, tc.wantErr)
				}
				if err := c.WaitConnected(ctx); !errors.Is(err, tc.wantErr) {
					t.Errorf("WaitConnected = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// A real answerer, closed before ICE can reach it.
			a, err := e.NewAnswerer(PeerOptions{Video: true})
			if err != nil {
				t.Fatal(err)
			}
			answer, err := a.Answer(ctx, offer)
			a.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ApplyAnswer(tc.mangle(t, answer)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = c.WaitConnected(ctx)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WaitConnected = %v, want %v (after %v)", err, tc.wantErr, time.Since(start))
			}
			if ev := c.Events(); !ev.ICEConnected.IsZero() || !ev.DTLSConnected.IsZero() {
				t.Errorf("events of a failed call: %+v", ev)
			}
			if err := c.WaitFirstMedia(ctx); !errors.Is(err, tc.wantErr) {
				t.Errorf("WaitFirstMedia = %v, want %v", err, tc.wantErr)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := c.WaitConnected(ctx); !errors.Is(err, tc.wantErr) && !errors.Is(err, ErrClosed) {
				t.Errorf("WaitConnected after Close = %v", err)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
