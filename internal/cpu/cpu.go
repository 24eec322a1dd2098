// Package cpu measures the process's own CPU use against wall time and the
// CPUs it may use, so a run can tell whether the generator was saturated.
package cpu

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Usage is the generator process's CPU use over the run.
type Usage struct {
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

// Sampler measures the process's CPU use (getrusage user + system time)
// against wall time × usable CPUs. Call Sample periodically (each second
// from the progress loop) to track the peak; Usage reads the totals. Safe
// for concurrent use.
type Sampler struct {
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

// NewSampler starts measuring now. now may be nil (time.Now).
func NewSampler(now func() time.Time) (*Sampler, error) {
	return newSampler(now, processCPUTime, min(runtime.NumCPU(), runtime.GOMAXPROCS(0)))
}

// newSampler is NewSampler with the CPU clock injected (tests).
func newSampler(now func() time.Time, cpu func() (time.Duration, error), cpus int) (*Sampler, error) {
	if now == nil {
		now = time.Now
	}
	c0, err := cpu()
	if err != nil {
		return nil, fmt.Errorf("cpu: start sampler: %w", err)
	}
	t0 := now()
	return &Sampler{now: now, cpu: cpu, cpus: max(cpus, 1), start: t0, startCPU: c0, lastAt: t0, lastCPU: c0}, nil
}

// Sample reads the CPU clock, updates the peak with the utilization of the
// interval since the previous sample, and returns that interval's
// utilization.
func (c *Sampler) Sample() (float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cpu, err := c.cpu()
	if err != nil {
		return 0, fmt.Errorf("cpu: sample: %w", err)
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
func (c *Sampler) Usage() (Usage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cpu, err := c.cpu()
	if err != nil {
		return Usage{}, fmt.Errorf("cpu: usage: %w", err)
	}
	u := Usage{CPUTime: cpu - c.startCPU, Wall: c.now().Sub(c.start), CPUs: c.cpus, Peak: c.peak}
	if u.Wall > 0 {
		u.Utilization = float64(u.CPUTime) / (float64(u.Wall) * float64(c.cpus))
	}
	return u, nil
}
