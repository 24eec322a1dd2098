// Package validity judges whether a run's numbers describe the system under
// test or the generator itself: scheduler lag, the generator's CPU use and
// recording errors decide.
package validity

import (
	"fmt"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
)

// Defaults for Options.
const (
	// DefaultMaxLagP99 bounds the scheduler lag's p99. Call setup phases
	// take hundreds of milliseconds; a generator that starts 1 % of its
	// calls more than 50 ms late no longer offers the load the scenario
	// asks for, and its phase times from the scheduled start then measure
	// the generator's own queueing as much as the gateway.
	DefaultMaxLagP99 = 50 * time.Millisecond
	// DefaultMaxCPU bounds the generator's mean CPU use as a fraction of
	// the cores it may use: above 85 % the Go scheduler, the media pacers
	// and the DTLS handshakes compete and the timings stretch.
	DefaultMaxCPU = 0.85
	// DefaultMaxPeakCPU bounds the busiest sampled interval.
	DefaultMaxPeakCPU = 0.98
)

// Options set the bounds beyond which the generator, not the
// gateway, was the bottleneck. Zero fields take the defaults.
type Options struct {
	MaxLagP99  time.Duration
	MaxCPU     float64
	MaxPeakCPU float64
}

// Verdict says whether a run's numbers describe the gateway.
type Verdict struct {
	// Valid is false when the generator was the bottleneck or the
	// measurements are not trustworthy.
	Valid bool `json:"valid"`
	// Reasons say why, in plain words (empty when valid).
	Reasons []string `json:"reasons,omitempty"`
	// Notes are caveats that do not invalidate the run (drops, clamped
	// values, no CPU measurement).
	Notes []string `json:"notes,omitempty"`
}

// Check judges a snapshot (and the generator's CPU use, when
// measured; usage may be nil).
func Check(s *metrics.Snapshot, usage *cpu.Usage, opts Options) Verdict {
	if opts.MaxLagP99 <= 0 {
		opts.MaxLagP99 = DefaultMaxLagP99
	}
	if opts.MaxCPU <= 0 {
		opts.MaxCPU = DefaultMaxCPU
	}
	if opts.MaxPeakCPU <= 0 {
		opts.MaxPeakCPU = DefaultMaxPeakCPU
	}
	v := Verdict{Valid: true}
	invalid := func(format string, a ...any) {
		v.Valid = false
		v.Reasons = append(v.Reasons, fmt.Sprintf(format, a...))
	}
	if s.Lag.TotalCount() > 0 {
		v99, bound := s.Lag.ValueAtQuantile(99), opts.MaxLagP99.Microseconds()
		p99 := time.Duration(v99) * time.Microsecond
		// A p99 within the histogram's resolution of the bound is at it.
		if v99 > bound && !s.Lag.ValuesAreEquivalent(v99, bound) {
			invalid("scheduler lag p99 was %s, above the %s bound: the generator could not start calls on time",
				metrics.FormatDuration(p99), metrics.FormatDuration(opts.MaxLagP99))
		}
	}
	if usage != nil {
		if usage.Utilization > opts.MaxCPU {
			invalid("the generator used %.0f%% of its %d CPUs on average, above %.0f%%: it was saturated",
				100*usage.Utilization, usage.CPUs, 100*opts.MaxCPU)
		} else if usage.Peak > opts.MaxPeakCPU {
			invalid("the generator's CPU use peaked at %.0f%% of its %d CPUs, above %.0f%%: it was saturated at times",
				100*usage.Peak, usage.CPUs, 100*opts.MaxPeakCPU)
		}
	} else {
		v.Notes = append(v.Notes, "the generator's CPU use was not measured")
	}
	if s.RecordErrors > 0 {
		invalid("%d measured values could not be recorded (a loadgen bug)", s.RecordErrors)
	}
	if s.Dropped > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d scheduled calls were dropped because the concurrency cap was full: the offered load was lower than the target", s.Dropped))
	}
	if n := s.Clamped.Total(); n > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d values fell outside the histogram range (1 µs to 1 h) and were recorded at its bound", n))
	}
	return v
}
