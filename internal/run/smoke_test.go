package run

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/testrig"
	"github.com/loadgen/loadgen/internal/worker"
)

// TestSmokeScenario runs scenarios/smoke.yaml end to end against the
// embedded gateway through the scenario mapping helpers: every call must
// connect and receive media, and the gateway must be left empty.
func TestSmokeScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("real calls")
	}
	recs := runScenarioFile(t, "../../scenarios/smoke.yaml", 30*time.Second)
	if len(recs) != 5 {
		t.Fatalf("%d calls, want 5", len(recs))
	}
	for _, r := range recs {
		if r.Outcome != metrics.OutcomeSuccess || !r.Video || r.Media.PacketsReceived == 0 {
			t.Errorf("call %d: %v/%v/%v (%s), video %v, %d packets received", r.Index, r.Outcome, r.FailedPhase, r.Reason, r.Error, r.Video, r.Media.PacketsReceived)
		}
	}
}

// TestPeakScenario runs scenarios/peak.yaml (about two minutes of real load)
// when LOADGEN_PEAK=1, and fails on any failed call.
func TestPeakScenario(t *testing.T) {
	if os.Getenv("LOADGEN_PEAK") != "1" {
		t.Skip("set LOADGEN_PEAK=1 to run the two-minute peak scenario")
	}
	recs := runScenarioFile(t, peakFile(), 5*time.Minute)
	outcomes := map[string]int{}
	var connect, lag []time.Duration
	for _, r := range recs {
		k := r.Outcome.String()
		if r.Outcome != metrics.OutcomeSuccess {
			k += "/" + r.FailedPhase.String() + "/" + string(r.Reason)
		}
		outcomes[k]++
		connect = append(connect, r.Instants[metrics.PhaseConnect].Sub(r.Scheduled))
		lag = append(lag, r.Started.Sub(r.Scheduled))
	}
	slices.Sort(connect)
	slices.Sort(lag)
	t.Logf("%d calls: %v; connect p50 %v p99 %v max %v; lag p99 %v max %v", len(recs), outcomes,
		connect[len(connect)/2], connect[len(connect)*99/100], connect[len(connect)-1], lag[len(lag)*99/100], lag[len(lag)-1])
	if outcomes["success"] != len(recs) {
		t.Errorf("not every call succeeded: %v", outcomes)
	}
}

// runScenarioFile runs a scenario file against the embedded gateway and
// returns its records, checking that the gateway is left empty.
func runScenarioFile(t *testing.T, path string, limit time.Duration) []metrics.CallRecord {
	t.Helper()
	s, err := scenario.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ecfg, err := call.NewEngineConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := media.NewEngine(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() }) // after the rig's gateway shuts down
	tr := testrig.New(t, testrig.Options{Engine: eng})
	sc := tr.NewClient(call.NewSignalConfig(s, tr.URL, "test"))
	ccfg := call.NewConfig(s, "")
	ccfg.Signal, ccfg.Media, ccfg.CheckIntegrity = sc, eng, true
	caller, err := call.NewCaller(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Schedule(s.Load)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var recs []metrics.CallRecord
	cfg.Grace = time.Minute
	cfg.Call = func(ctx context.Context, job worker.Job) bool {
		r := caller.Run(ctx, call.Start(job))
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, r)
		return r.Outcome == metrics.OutcomeSuccess
	}
	sched, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	if err := sched.Run(ctx); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if p := sched.Progress(); p.Dropped != 0 {
		t.Errorf("%d starts dropped", p.Dropped)
	}
	tr.WaitClean(5 * time.Second)
	return recs
}

// peakFile is scenarios/peak.yaml, or LOADGEN_PEAK_FILE to try a variant.
func peakFile() string {
	if f := os.Getenv("LOADGEN_PEAK_FILE"); f != "" {
		return f
	}
	return "../../scenarios/peak.yaml"
}
