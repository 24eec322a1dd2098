package call

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/signal"
	"github.com/loadgen/loadgen/internal/testrig"
	"github.com/loadgen/loadgen/internal/worker"
)

// callLimit bounds every call-level test; reaching it is a failure.
const callLimit = 30 * time.Second

const testKey = "0123456789abcdef"

// rig is a real embedded gateway on loopback (testrig), answering with
// real pion peers, and the shared client side.
type rig struct {
	tr  *testrig.Rig
	gw  *gateway.Gateway
	cfg Config
}

func newRig(t *testing.T, token bool, mod func(*gateway.Config)) *rig {
	t.Helper()
	scfg := signal.Config{}
	if token {
		scfg.Mode, scfg.Realm = signal.ModeToken, "realm-test"
	}
	tr := testrig.New(t, testrig.Options{Gateway: func(gcfg *gateway.Config) {
		gcfg.RingingDelay, gcfg.AnswerDelay = 10*time.Millisecond, 20*time.Millisecond
		if token {
			gcfg.Mode, gcfg.Realms = gateway.ModeToken, map[string]string{"realm-test": testKey}
		}
		if mod != nil {
			mod(gcfg)
		}
	}})
	cfg := Config{
		Signal: tr.NewClient(scfg), Media: tr.Engine,
		Credentials:    RegularCredentials(scenario.DefaultCaller, scenario.DefaultCallee),
		Hold:           scenario.Hold{Distribution: scenario.DistFixed, Fixed: 300 * time.Millisecond},
		EndedBy:        scenario.EndedByCaller,
		CheckIntegrity: true,
		Timeouts: scenario.Timeouts{
			Start: 5 * time.Second, Answer: 5 * time.Second, ICE: 5 * time.Second,
			DTLS: 5 * time.Second, Media: 5 * time.Second, End: 5 * time.Second,
		},
	}
	if token {
		cfg.Credentials = TokenCredentials(testKey, "realm-test", scenario.DefaultAccount, scenario.DefaultCallee)
	}
	return &rig{tr: tr, gw: tr.Gateway, cfg: cfg}
}

func runCall(t *testing.T, cfg Config, ctx context.Context) metrics.CallRecord {
	t.Helper()
	c, err := NewCaller(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, callLimit)
	defer cancel()
	now := time.Now()
	rec := c.Run(ctx, Start{Index: 3, Scheduled: now, Started: now})
	for s := StateUnknown; s <= StateDone; s++ {
		if n := c.InState(s); n != 0 {
			t.Errorf("InState(%v) = %d after the call, want 0", s, n)
		}
	}
	return rec
}

func checkSuccess(t *testing.T, rec metrics.CallRecord) {
	t.Helper()
	if rec.Outcome != metrics.OutcomeSuccess {
		t.Fatalf("outcome = %v failed/%v/%v (%s), want success", rec.Outcome, rec.FailedPhase, rec.Reason, rec.Error)
	}
	prev := rec.Started
	for _, p := range metrics.Phases() {
		if p == metrics.PhaseHold || p == metrics.PhaseUnhold {
			continue // only calls that hold: see checkReoffers
		}
		at := rec.Instants[p]
		if at.IsZero() {
			t.Errorf("phase %v has no instant", p)
			continue
		}
		if p == metrics.PhaseRinging {
			continue // ringing and the answer race only through the gateway's delays
		}
		// ICE may connect while ApplyAnswer is still returning.
		if at.Before(prev) && p != metrics.PhaseICE {
			t.Errorf("phase %v at %v, before the previous phase (%v)", p, at.Sub(rec.Started), prev.Sub(rec.Started))
		}
		prev = at
	}
	if rec.Media.SignallingRTT <= 0 {
		t.Errorf("no signalling RTT estimate: the MOS would have no delay without RTCP")
	}
	if rec.Media.PacketsReceived == 0 || !rec.Media.IntegrityOK {
		t.Errorf("media = %+v, want packets received and integrity ok", rec.Media)
	}
}

// checkReoffers checks that a call which held n times recorded n hold and
// n unhold re-offers, in order, each applied after it was requested and
// within the media..end span, and the phase instants are the last ones.
func checkReoffers(t *testing.T, rec metrics.CallRecord, n int) {
	t.Helper()
	if len(rec.Reoffers) != 2*n {
		t.Fatalf("%d re-offers, want %d", len(rec.Reoffers), 2*n)
	}
	prev := rec.Instants[metrics.PhaseMedia]
	for i, ro := range rec.Reoffers {
		want := metrics.PhaseHold
		if i%2 == 1 {
			want = metrics.PhaseUnhold
		}
		if ro.Phase != want || ro.Requested.Before(prev) || ro.Duration() <= 0 {
			t.Errorf("re-offer %d = %v requested %v after media, took %v; want %v, in order, applied", i, ro.Phase, ro.Requested.Sub(rec.Instants[metrics.PhaseMedia]), ro.Duration(), want)
		}
		prev = ro.Applied
		if rec.Instants[ro.Phase].Before(ro.Applied) {
			t.Errorf("instant of %v is before its re-offer %d", ro.Phase, i)
		}
	}
	if n == 0 && (!rec.Instants[metrics.PhaseHold].IsZero() || !rec.Instants[metrics.PhaseUnhold].IsZero()) {
		t.Error("hold instants without a hold")
	}
}

func TestCallSuccess(t *testing.T) {
	tests := []struct {
		name  string
		token bool
		mod   func(*Config)
	}{
		{"regular audio", false, nil},
		{"regular video with hold and unhold", false, func(c *Config) {
			c.Video = true
			c.Hold.Fixed = 800 * time.Millisecond
			c.HoldUnhold = []scenario.HoldUnhold{{At: 100 * time.Millisecond, Duration: 200 * time.Millisecond}}
		}},
		{"token", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.token, nil)
			if tt.mod != nil {
				tt.mod(&r.cfg)
			}
			rec := runCall(t, r.cfg, t.Context())
			checkSuccess(t, rec)
			checkReoffers(t, rec, len(r.cfg.HoldUnhold))
			if rec.Index != 3 || rec.Video != r.cfg.Video {
				t.Errorf("index/video = %d/%v, want 3/%v", rec.Index, rec.Video, r.cfg.Video)
			}
			r.tr.WaitClean(5 * time.Second)
		})
	}
}

// TestCallEndedByGateway: with ended_by gateway the gateway's callEnd ends
// the call successfully, at the hold time or a little before it (the
// gateway's timer and the caller's race), and the end never precedes the
// instant the call began to end.
func TestCallEndedByGateway(t *testing.T) {
	for _, early := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("%v early", early), func(t *testing.T) {
			r := newRig(t, false, nil)
			var wg sync.WaitGroup
			defer wg.Wait()
			r.cfg.EndedBy = scenario.EndedByGateway
			r.cfg.OnUp = func(id string, hold time.Duration) {
				wg.Go(func() {
					time.Sleep(hold - early)
					if err := r.gw.EndCall(id, 0, "hold time over"); err != nil {
						t.Errorf("gateway EndCall: %v", err)
					}
				})
			}
			rec := runCall(t, r.cfg, t.Context())
			checkSuccess(t, rec)
			if rec.EndBegan.IsZero() || rec.Instants[metrics.PhaseEnd].Before(rec.EndBegan) {
				t.Errorf("end began %v, ended %v", rec.EndBegan, rec.Instants[metrics.PhaseEnd])
			}
			r.tr.WaitClean(5 * time.Second)
		})
	}
}

func TestCallFailures(t *testing.T) {
	closedPort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	tests := []struct {
		name   string
		gw     func(*gateway.Config)
		call   func(t *testing.T, r *rig, c *Config)
		phase  metrics.Phase
		reason metrics.Reason
		status string // the record's StatusLabel; "none" when empty
	}{
		{"rejected with callEnd 486", func(g *gateway.Config) { g.RejectRatio, g.RejectMode = 1, gateway.RejectCallEnd }, nil,
			metrics.PhaseConnect, metrics.ReasonRemoteEnded, "486"},
		{"rejected with callEnd 480", func(g *gateway.Config) {
			g.RejectRatio, g.RejectMode, g.RejectStatus = 1, gateway.RejectCallEnd, 480
		}, nil, metrics.PhaseConnect, metrics.ReasonRemoteEnded, "480"},
		{"rejected with HTTP 503", func(g *gateway.Config) {
			g.RejectRatio, g.RejectMode, g.RejectStatus = 1, gateway.RejectHTTP, 503
		}, nil, metrics.PhaseStart, metrics.ReasonHTTPStatus, "503"},
		{"answer too late", func(g *gateway.Config) { g.AnswerDelay = 3 * time.Second }, func(_ *testing.T, _ *rig, c *Config) {
			c.Timeouts.Answer = 300 * time.Millisecond
		}, metrics.PhaseConnect, metrics.ReasonTimeout, ""},
		{"gateway never ends the call", nil, func(_ *testing.T, _ *rig, c *Config) {
			c.EndedBy, c.Timeouts.End = scenario.EndedByGateway, 300*time.Millisecond
		}, metrics.PhaseEnd, metrics.ReasonTimeout, ""},
		{"remote end during hold", nil, func(t *testing.T, r *rig, c *Config) {
			c.Hold.Fixed = 10 * time.Second
			c.OnUp = func(id string, _ time.Duration) {
				if err := r.gw.EndCall(id, 0, "bye"); err != nil {
					t.Errorf("gateway EndCall: %v", err)
				}
			}
		}, metrics.PhaseMedia, metrics.ReasonRemoteEnded, ""},
		{"connection refused", nil, func(t *testing.T, _ *rig, c *Config) {
			sc, err := signal.NewClient(signal.Config{BaseURL: closedPort(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sc.Close() })
			c.Signal = sc
		}, metrics.PhaseSubscribe, metrics.ReasonTransport, ""},
		{"credentials fail", nil, func(_ *testing.T, _ *rig, c *Config) {
			c.Credentials = func(uint64, time.Time) (signal.Credentials, error) { return signal.Credentials{}, errors.New("no") }
		}, metrics.PhaseSubscribe, metrics.ReasonLocal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, false, tt.gw)
			if tt.call != nil {
				tt.call(t, r, &r.cfg)
			}
			rec := runCall(t, r.cfg, t.Context())
			if rec.Outcome != metrics.OutcomeFailed || rec.FailedPhase != tt.phase || rec.Reason != tt.reason {
				t.Errorf("call = %v/%v/%v (%s), want failed/%v/%v", rec.Outcome, rec.FailedPhase, rec.Reason, rec.Error, tt.phase, tt.reason)
			}
			if rec.FailedAt.IsZero() || rec.FailedAt.Before(rec.Started) {
				t.Errorf("failed at %v, started %v: want a failure instant after the start", rec.FailedAt, rec.Started)
			}
			want := tt.status
			if want == "" {
				want = "none"
			}
			if got := rec.StatusLabel(); got != want {
				t.Errorf("status = %q (%d), want %q", got, rec.Status, want)
			}
			r.tr.WaitClean(5 * time.Second)
		})
	}
}

func TestCallTokenRejected(t *testing.T) {
	r := newRig(t, true, nil)
	r.cfg.Credentials = TokenCredentials("fedcba9876543210", "realm-test", scenario.DefaultAccount, scenario.DefaultCallee)
	rec := runCall(t, r.cfg, t.Context())
	if rec.Outcome != metrics.OutcomeFailed || rec.FailedPhase != metrics.PhaseSubscribe || rec.Reason != metrics.ReasonTokenRejected {
		t.Errorf("call = %v/%v/%v (%s), want failed/subscribe/token_rejected", rec.Outcome, rec.FailedPhase, rec.Reason, rec.Error)
	}
}

// TestRunCancelEndsCalls is Ctrl-C in the middle of a run: calls are up,
// the run's context is cancelled, and every call is still ended properly on
// the gateway (no session, no subscription left), with a record each.
func TestRunCancelEndsCalls(t *testing.T) {
	r := newRig(t, false, nil)
	r.cfg.Hold.Fixed = time.Minute
	c, err := NewCaller(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var recs []metrics.CallRecord
	s, err := worker.New(worker.Config{
		Pacer: worker.Constant{PerSecond: 20}, MaxConcurrent: 10, MaxCalls: 4, Grace: time.Minute,
		Call: func(ctx context.Context, job worker.Job) bool {
			rec := c.Run(ctx, Start(job))
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, rec)
			return rec.Outcome == metrics.OutcomeSuccess
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), callLimit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for c.InState(StateUp) < 4 {
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if st := r.gw.Stats(); st.Sessions != 4 {
		t.Fatalf("gateway has %d sessions with 4 calls up", st.Sessions)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	r.tr.WaitClean(5 * time.Second)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for _, rec := range recs {
		if rec.Outcome != metrics.OutcomeAborted || rec.Reason != metrics.ReasonCanceled || rec.Instants[metrics.PhaseEnd].IsZero() {
			t.Errorf("call %d = %v/%v/%v end %v, want aborted/canceled with the DELETE answered", rec.Index, rec.Outcome, rec.FailedPhase, rec.Reason, rec.Instants[metrics.PhaseEnd])
		}
	}
}

// TestLiveMedia: while a call is up its media counters move in
// LiveMedia (not only when it ends) and CallStates counts it; once it
// has ended it leaves the live set, and its record's final figures are at
// least the last live reading.
func TestLiveMedia(t *testing.T) {
	r := newRig(t, false, nil)
	r.cfg.Hold.Fixed = 5 * time.Second
	c, err := NewCaller(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), callLimit)
	defer cancel()
	done := make(chan metrics.CallRecord, 1)
	go func() {
		now := time.Now()
		done <- c.Run(ctx, Start{Scheduled: now, Started: now})
	}()
	var last [metrics.NumStreams]metrics.StreamTotals
	for moved := 0; moved < 2; {
		select {
		case rec := <-done:
			t.Fatalf("call ended before its media was seen live: %v/%v (%s)", rec.Outcome, rec.Reason, rec.Error)
		case <-time.After(20 * time.Millisecond):
		}
		cur := c.LiveMedia()
		a := cur[metrics.StreamAudio]
		if a.PacketsReceived > last[metrics.StreamAudio].PacketsReceived && a.PacketsSent > last[metrics.StreamAudio].PacketsSent {
			moved++
		}
		last = cur
	}
	if up, onHold := c.CallStates(); up != 1 || onHold != 0 {
		t.Errorf("CallStates = %d, %d; want 1 up, 0 on hold", up, onHold)
	}
	cancel() // end it now (aborted), properly
	rec := <-done
	fin := metrics.StreamTotalsOf(rec.Media)[metrics.StreamAudio]
	if l := last[metrics.StreamAudio]; fin.PacketsSent < l.PacketsSent || fin.PacketsReceived < l.PacketsReceived || fin.BytesSent < l.BytesSent {
		t.Errorf("final audio %+v below the last live reading %+v", fin, l)
	}
	if got := c.LiveMedia(); got != ([metrics.NumStreams]metrics.StreamTotals{}) {
		t.Errorf("LiveMedia after the call = %+v, want zero", got)
	}
	if up, onHold := c.CallStates(); up != 0 || onHold != 0 {
		t.Errorf("CallStates after the call = %d, %d", up, onHold)
	}
	r.tr.WaitClean(5 * time.Second)
}
