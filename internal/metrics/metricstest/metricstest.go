// Package metricstest provides test helpers for the metrics packages: a
// manually advanced clock, reproducible call records and runs, and golden
// files. Only tests import it.
package metricstest

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
)

// Clock is a manually advanced clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant (2026-01-02 03:04:05 UTC).
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's instant.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Call builds a record scheduled at base, started lag later, reaching each
// phase in ps at the given offset from the scheduled start.
func Call(base time.Time, lag time.Duration, out metrics.Outcome, ps map[metrics.Phase]time.Duration) metrics.CallRecord {
	rec := metrics.CallRecord{Scheduled: base, Started: base.Add(lag), Outcome: out}
	for p, d := range ps {
		rec.Instants[p] = base.Add(d)
	}
	return rec
}

// RandomCalls makes n reproducible records with every phase, outcome and
// media populated.
func RandomCalls(seed uint64, base time.Time, n int) []metrics.CallRecord {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]metrics.CallRecord, n)
	for i := range out {
		lag := time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond))
		ps := map[metrics.Phase]time.Duration{}
		at := lag
		for p := range metrics.PhaseEnd {
			at += time.Duration(rng.ExpFloat64() * float64(80*time.Millisecond))
			ps[p] = at
		}
		rec := Call(base.Add(time.Duration(i)*time.Millisecond), lag, metrics.OutcomeSuccess, ps)
		switch rng.IntN(10) {
		case 0:
			rec.Outcome, rec.FailedPhase, rec.Reason = metrics.OutcomeFailed, metrics.Phase(rng.IntN(int(metrics.NumPhases))), metrics.Reasons()[rng.IntN(len(metrics.Reasons()))]
		case 1:
			rec.Outcome = metrics.OutcomeAborted
		}
		rec.EndBegan = rec.Instants[metrics.PhaseMedia].Add(30 * time.Second)
		rec.Instants[metrics.PhaseEnd] = rec.EndBegan.Add(time.Duration(rng.IntN(50000)) * time.Microsecond)
		rec.Media = metrics.MediaStats{PacketsSent: 1500, BytesSent: 150000, PacketsReceived: uint64(1400 + rng.IntN(100)),
			BytesReceived: 140000, PacketsLost: uint64(rng.IntN(30)), Jitter: time.Duration(rng.IntN(30000)) * time.Microsecond,
			RTT: time.Duration(rng.IntN(300)) * time.Millisecond, IntegrityOK: rng.IntN(50) != 0, Codec: "opus",
			SignallingRTT: 2 * time.Millisecond, IntegrityChecked: true}
		out[i] = rec
	}
	return out
}

// Run is a deterministic run for golden files: n random calls (seed) ten a
// second against a constant 10/s target, a start dropped every dropEvery
// calls, snapshotted a second after the last.
func Run(seed uint64, n, dropEvery int) *metrics.Snapshot {
	clk := NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now, TargetRate: func(time.Duration) float64 { return 10 }})
	for i, c := range RandomCalls(seed, clk.Now(), n) {
		if i%10 == 0 && i > 0 {
			clk.Advance(time.Second)
		}
		r.CallStarted()
		r.Record(c)
		if i%dropEvery == 0 {
			r.Dropped()
		}
	}
	clk.Advance(time.Second)
	return r.Snapshot()
}

// GoldenThresholds are the {metric, expression} pairs judged in the golden
// run's summary files (Run(42, 600, 200)).
func GoldenThresholds() [][2]string {
	return [][2]string{{"connect", "p(99) < 2s"}, {"failures", "rate < 0.01"}, {"mos", "avg > 4"}, {"ringing", "p(50) < 300ms"}}
}

// Golden compares got with testdata/name, rewriting the file first when
// update is set (go test -update).
func Golden(t testing.TB, name string, got []byte, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, got)
	}
}
