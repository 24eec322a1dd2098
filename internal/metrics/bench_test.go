package metrics_test

import (
	"github.com/loadgen/loadgen/internal/metrics"
	"testing"
	"time"
)

// BenchmarkRecord measures recording one finished call: two histogram
// values per phase, the lag, media figures and the counters, under the
// recorder's lock.
func BenchmarkRecord(b *testing.B) {
	start := time.Now()
	r := metrics.NewRecorder(metrics.RecorderOptions{Start: start, Now: func() time.Time { return start.Add(time.Second) }})
	rec := metrics.CallRecord{Scheduled: start, Started: start.Add(300 * time.Microsecond), Outcome: metrics.OutcomeSuccess,
		Media: metrics.MediaStats{PacketsSent: 500, PacketsReceived: 499, PacketsLost: 1, Jitter: time.Millisecond, RTT: 2 * time.Millisecond, Codec: "opus", IntegrityOK: true}}
	for i, p := range metrics.Phases() {
		rec.Instants[p] = start.Add(time.Duration(i+1) * 37 * time.Millisecond)
	}
	rec.EndBegan = rec.Instants[metrics.PhaseMedia].Add(10 * time.Second)
	rec.Instants[metrics.PhaseEnd] = rec.EndBegan.Add(2 * time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		r.Record(rec)
	}
}
