package metrics

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Defaults for ValidityOptions.
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

// ValidityOptions set the bounds beyond which the generator, not the
// gateway, was the bottleneck. Zero fields take the defaults.
type ValidityOptions struct {
	MaxLagP99  time.Duration
	MaxCPU     float64
	MaxPeakCPU float64
}

// Validity is the verdict on whether a run's numbers describe the gateway.
type Validity struct {
	// Valid is false when the generator was the bottleneck or the
	// measurements are not trustworthy.
	Valid bool `json:"valid"`
	// Reasons say why, in plain words (empty when valid).
	Reasons []string `json:"reasons,omitempty"`
	// Notes are caveats that do not invalidate the run (drops, clamped
	// values, no CPU measurement).
	Notes []string `json:"notes,omitempty"`
}

// CheckValidity judges a snapshot (and the generator's CPU use, when
// measured; cpu may be nil).
func CheckValidity(s *Snapshot, cpu *CPUUsage, opts ValidityOptions) Validity {
	if opts.MaxLagP99 <= 0 {
		opts.MaxLagP99 = DefaultMaxLagP99
	}
	if opts.MaxCPU <= 0 {
		opts.MaxCPU = DefaultMaxCPU
	}
	if opts.MaxPeakCPU <= 0 {
		opts.MaxPeakCPU = DefaultMaxPeakCPU
	}
	v := Validity{Valid: true}
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
				FormatDuration(p99), FormatDuration(opts.MaxLagP99))
		}
	}
	if cpu != nil {
		if cpu.Utilization > opts.MaxCPU {
			invalid("the generator used %.0f%% of its %d CPUs on average, above %.0f%%: it was saturated",
				100*cpu.Utilization, cpu.CPUs, 100*opts.MaxCPU)
		} else if cpu.Peak > opts.MaxPeakCPU {
			invalid("the generator's CPU use peaked at %.0f%% of its %d CPUs, above %.0f%%: it was saturated at times",
				100*cpu.Peak, cpu.CPUs, 100*opts.MaxPeakCPU)
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

// CPUUsage is the generator process's CPU use over the run.
type CPUUsage struct {
	// CPUTime is user + system CPU time consumed since the sampler started.
	CPUTime time.Duration `json:"-"`
	// Wall is the elapsed wall time since the sampler started.
	Wall time.Duration `json:"-"`
	// CPUs is how many CPUs the process may use: min(NumCPU, GOMAXPROCS).
	CPUs int `json:"cpus"`
	// Utilization is CPUTime / (Wall × CPUs), 0..1.
	Utilization float64 `json:"utilization"`
	// Peak is the highest utilization of one sampled interval.
	Peak float64 `json:"peak_utilization"`
}

// CPUSampler measures the process's CPU use (getrusage user + system time)
// against wall time × usable CPUs. Call Sample periodically (each second
// from the progress loop) to track the peak; Usage reads the totals. Safe
// for concurrent use.
type CPUSampler struct {
	now  func() time.Time
	cpu  func() (time.Duration, error)
	cpus int

	mu       sync.Mutex
	start    time.Time
	startCPU time.Duration
	lastAt   time.Time
	lastCPU  time.Duration
	peak     float64
}

// NewCPUSampler starts measuring now. now may be nil (time.Now).
func NewCPUSampler(now func() time.Time) (*CPUSampler, error) {
	return newCPUSampler(now, processCPUTime, min(runtime.NumCPU(), runtime.GOMAXPROCS(0)))
}

// newCPUSampler is NewCPUSampler with the CPU clock injected (tests).
func newCPUSampler(now func() time.Time, cpu func() (time.Duration, error), cpus int) (*CPUSampler, error) {
	if now == nil {
		now = time.Now
	}
	c0, err := cpu()
	if err != nil {
		return nil, fmt.Errorf("metrics: cpu sampler: %w", err)
	}
	t0 := now()
	return &CPUSampler{now: now, cpu: cpu, cpus: max(cpus, 1), start: t0, startCPU: c0, lastAt: t0, lastCPU: c0}, nil
}

// Sample reads the CPU clock, updates the peak with the utilization of the
// interval since the previous sample, and returns that interval's
// utilization.
func (c *CPUSampler) Sample() (float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cpu, err := c.cpu()
	if err != nil {
		return 0, fmt.Errorf("metrics: cpu sample: %w", err)
	}
	now := c.now()
	wall := now.Sub(c.lastAt)
	if wall <= 0 {
		return 0, nil
	}
	u := float64(cpu-c.lastCPU) / (float64(wall) * float64(c.cpus))
	c.peak = max(c.peak, u)
	c.lastAt, c.lastCPU = now, cpu
	return u, nil
}

// Usage returns the CPU use from the sampler's start to now.
func (c *CPUSampler) Usage() (CPUUsage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cpu, err := c.cpu()
	if err != nil {
		return CPUUsage{}, fmt.Errorf("metrics: cpu usage: %w", err)
	}
	u := CPUUsage{CPUTime: cpu - c.startCPU, Wall: c.now().Sub(c.start), CPUs: c.cpus, Peak: c.peak}
	if u.Wall > 0 {
		u.Utilization = float64(u.CPUTime) / (float64(u.Wall) * float64(c.cpus))
	}
	return u, nil
}
