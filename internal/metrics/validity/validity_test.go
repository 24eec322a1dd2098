package validity

import (
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
)

func TestCheck(t *testing.T) {
	mk := func(lag time.Duration, n int) *metrics.Snapshot {
		clk := metricstest.NewClock()
		r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
		for range n {
			r.Record(metricstest.Call(clk.Now(), lag, metrics.OutcomeSuccess, nil))
		}
		return r.Snapshot()
	}
	// withLate is one call that sent 10000 packets and wrote late frames.
	withLate := func(late uint64) *metrics.Snapshot {
		r := metrics.NewRecorder(metrics.RecorderOptions{Now: metricstest.NewClock().Now})
		rec := metricstest.Call(time.Now(), 0, metrics.OutcomeSuccess, nil)
		rec.Media = metrics.MediaStats{PacketsSent: 10000, LateWrites: late}
		r.Record(rec)
		return r.Snapshot()
	}
	tests := []struct {
		name   string
		s      *metrics.Snapshot
		cpu    *cpu.Usage
		opts   Options
		valid  bool
		reason string
	}{
		{"all fine", mk(time.Millisecond, 100), &cpu.Usage{CPUs: 4, Utilization: 0.5, Peak: 0.9}, Options{}, true, ""},
		{"lag at the bound", mk(50*time.Millisecond, 100), &cpu.Usage{CPUs: 4}, Options{}, true, ""},
		{"lag above", mk(51*time.Millisecond, 100), &cpu.Usage{CPUs: 4}, Options{}, false, "scheduler lag p99 was 51ms, above the 50ms bound"},
		{"custom lag bound", mk(20*time.Millisecond, 100), &cpu.Usage{CPUs: 4}, Options{MaxLagP99: 10 * time.Millisecond}, false, "above the 10ms bound"},
		{"cpu mean", mk(0, 1), &cpu.Usage{CPUs: 4, Utilization: 0.9, Peak: 0.9}, Options{}, false, "process CPU (generator) used 90% of the 4 CPUs available"},
		{"cpu under a quota, embedded gateway", mk(0, 1), &cpu.Usage{CPUs: 0.2, Quota: true, EmbeddedGateway: true, Utilization: 0.9, Peak: 0.9}, Options{},
			false, "process CPU (generator + embedded gateway) used 90% of the 0.2 CPUs (cgroup quota) available"},
		{"late writes saturate", withLate(194), &cpu.Usage{CPUs: 2, Utilization: 0.04, Peak: 0.1}, Options{}, false, "194 media frames were written late"},
		{"a few late writes: a note", withLate(5), &cpu.Usage{CPUs: 2, Utilization: 0.04, Peak: 0.1}, Options{}, true, ""},
		{"cpu peak", mk(0, 1), &cpu.Usage{CPUs: 4, Utilization: 0.5, Peak: 0.99}, Options{}, false, "peaked at 99%"},
		{"no cpu", mk(0, 1), nil, Options{}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Check(tc.s, tc.cpu, tc.opts)
			if v.Valid != tc.valid {
				t.Fatalf("valid = %v (%v)", v.Valid, v.Reasons)
			}
			if tc.reason != "" && (len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], tc.reason)) {
				t.Errorf("reasons = %q, want one containing %q", v.Reasons, tc.reason)
			}
			if tc.cpu == nil && (len(v.Notes) == 0 || !strings.Contains(v.Notes[0], "not measured")) {
				t.Errorf("notes = %q", v.Notes)
			}
		})
	}
}
