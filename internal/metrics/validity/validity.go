// Package validity judges whether a run's numbers describe the system under
// test or the generator itself: scheduler lag, the process's CPU use
// against the CPUs actually available (cgroup quota included), late media
// writes and recording errors decide.
package validity

import (
	"fmt"
	"strconv"
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
	// DefaultMaxLateWrites bounds the media frames written more than a
	// frame period late, as a fraction of the packets sent: a generator
	// that cannot pace its media on time is saturated, whatever its CPU
	// reads (a quota it was not told about, a starved thread). Below it,
	// late writes are a note.
	DefaultMaxLateWrites = 0.001
	// MinLateWritesInvalid is the fewest late writes that can make a run
	// invalid: a handful in a short run is a hiccup of a busy host (a
	// note), not a generator that cannot pace its media.
	MinLateWritesInvalid = 50
)

// Options set the bounds beyond which the generator, not the
// gateway, was the bottleneck. Zero fields take the defaults.
type Options struct {
	MaxLagP99  time.Duration
	MaxCPU     float64
	MaxPeakCPU float64
	// MaxLateWrites is a fraction of the packets sent (see
	// DefaultMaxLateWrites).
	MaxLateWrites float64
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
	if opts.MaxLateWrites <= 0 {
		opts.MaxLateWrites = DefaultMaxLateWrites
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
			invalid("the %s used %.0f%% of the %s available on average, above %.0f%%: the generator was saturated",
				usage.Label(), 100*usage.Utilization, cpusText(*usage), 100*opts.MaxCPU)
		} else if usage.Peak > opts.MaxPeakCPU {
			invalid("the %s peaked at %.0f%% of the %s available, above %.0f%%: the generator was saturated at times",
				usage.Label(), 100*usage.Peak, cpusText(*usage), 100*opts.MaxPeakCPU)
		}
	} else {
		v.Notes = append(v.Notes, "the process's CPU use was not measured")
	}
	if m := s.Media; m.LateWrites > 0 {
		frac := float64(m.LateWrites) / float64(max(m.PacketsSent+m.LateWrites, 1))
		if frac > opts.MaxLateWrites && m.LateWrites >= MinLateWritesInvalid {
			invalid("%d media frames were written late (%.2f%% of the packets sent, above %.2f%%): the generator could not pace its media, so it was saturated",
				m.LateWrites, 100*frac, 100*opts.MaxLateWrites)
		} else {
			v.Notes = append(v.Notes, fmt.Sprintf("%d media frames were written late (%.3f%% of the packets sent)", m.LateWrites, 100*frac))
		}
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

// cpusText writes the CPUs available: "2 CPUs", "0.2 CPUs (cgroup quota)".
func cpusText(u cpu.Usage) string {
	t := strconv.FormatFloat(u.CPUs, 'g', 3, 64) + " CPUs"
	if u.Quota {
		t += " (cgroup quota)"
	}
	return t
}
