// Package metricstest provides test helpers for the metrics packages: a
// manually advanced clock and reproducible call records.
package metricstest

import (
	"math/rand/v2"
	"sync"
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
