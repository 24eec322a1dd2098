// Package cpu measures the process's own CPU use against wall time and the
// CPUs it may use, so a run can tell whether the generator was saturated.
package cpu

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Usage is the loadgen process's CPU use over the run: the generator's,
// and the embedded gateway's too when it runs in the process
// (EmbeddedGateway).
type Usage struct {
	// CPUTime is user + system CPU time consumed since the sampler started.
	CPUTime time.Duration `json:"-"`
	// Wall is the elapsed wall time since the sampler started.
	Wall time.Duration `json:"-"`
	// CPUs is how many CPUs the process may use: min(NumCPU, GOMAXPROCS,
	// the cgroup v2 CPU quota), fractional under a quota (0.2 for 20 %).
	CPUs float64 `json:"cpus"`
	// Quota reports that a cgroup CPU quota set CPUs.
	Quota bool `json:"cgroup_quota,omitempty"`
	// EmbeddedGateway reports that the process also ran the embedded
	// gateway (its answerers' media included in CPUTime); Label says so.
	EmbeddedGateway bool `json:"includes_embedded_gateway"`
	// Utilization is CPUTime / (Wall × CPUs), 0..1.
	Utilization float64 `json:"utilization"`
	// Peak is the highest utilization of one sampled interval.
	Peak float64 `json:"peak_utilization"`
}

// Label names what Usage measures, for a summary line: "process CPU
// (generator + embedded gateway)" or "process CPU (generator)".
func (u Usage) Label() string {
	if u.EmbeddedGateway {
		return "process CPU (generator + embedded gateway)"
	}
	return "process CPU (generator)"
}

// Options configure a Sampler. The zero value samples this process with
// the real clock and cgroup files.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// EmbeddedGateway marks the process as also running the embedded
	// gateway (copied into Usage).
	EmbeddedGateway bool
	// CgroupRoot and ProcSelfCgroup locate the cgroup v2 files
	// (DefaultCgroupRoot, DefaultProcSelfCgroup when empty); tests point
	// them at a fake hierarchy.
	CgroupRoot     string
	ProcSelfCgroup string
}

// Available returns how many CPUs this process may use: min(NumCPU,
// GOMAXPROCS) and, below it, the cgroup v2 CPU quota (CgroupQuota);
// quota reports that the quota decided. (Go's GOMAXPROCS follows the
// quota but rounds it up, to at least 2, so a 20 % quota reads as 2 CPUs
// there and as 0.2 here.)
func Available(cgroupRoot, procSelfCgroup string) (cpus float64, quota bool, err error) {
	if cgroupRoot == "" {
		cgroupRoot = DefaultCgroupRoot
	}
	if procSelfCgroup == "" {
		procSelfCgroup = DefaultProcSelfCgroup
	}
	n := float64(min(runtime.NumCPU(), runtime.GOMAXPROCS(0)))
	q, limited, err := CgroupQuota(cgroupRoot, procSelfCgroup)
	if err != nil {
		return n, false, err
	}
	if limited && q < n {
		return q, true, nil
	}
	return n, false, nil
}

// Sampler measures the process's CPU use (getrusage user + system time)
// against wall time × the CPUs available (cgroup quota included). Call Sample periodically (each second
// from the progress loop) to track the peak; Usage reads the totals. Safe
// for concurrent use.
type Sampler struct {
	now      func() time.Time
	cpu      func() (time.Duration, error)
	cpus     float64
	quota    bool
	embedded bool

	mu       sync.Mutex
	start    time.Time
	startCPU time.Duration
	lastAt   time.Time
	lastCPU  time.Duration
	peak     float64
}

// NewSampler starts measuring now, against the CPUs available (see
// Available). now may be nil (time.Now). It is New(Options{Now: now}).
func NewSampler(now func() time.Time) (*Sampler, error) {
	return New(Options{Now: now})
}

// New starts measuring now with opts. An unreadable cgroup quota is an
// error (the CPUs available would be a guess).
func New(opts Options) (*Sampler, error) {
	cpus, quota, err := Available(opts.CgroupRoot, opts.ProcSelfCgroup)
	if err != nil {
		return nil, fmt.Errorf("cpu: start sampler: %w", err)
	}
	s, err := newSampler(opts.Now, processCPUTime, cpus)
	if err != nil {
		return nil, err
	}
	s.quota, s.embedded = quota, opts.EmbeddedGateway
	return s, nil
}

// newSampler is NewSampler with the CPU clock injected (tests).
func newSampler(now func() time.Time, cpu func() (time.Duration, error), cpus float64) (*Sampler, error) {
	if now == nil {
		now = time.Now
	}
	c0, err := cpu()
	if err != nil {
		return nil, fmt.Errorf("cpu: start sampler: %w", err)
	}
	t0 := now()
	if cpus <= 0 {
		cpus = 1
	}
	return &Sampler{now: now, cpu: cpu, cpus: cpus, start: t0, startCPU: c0, lastAt: t0, lastCPU: c0}, nil
}

// CPUs returns how many CPUs the sampler measures against (see
// Available): promexport's CPUsAvailable option takes it.
func (c *Sampler) CPUs() float64 { return c.cpus }

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
	u := float64(cpu-c.lastCPU) / (float64(wall) * c.cpus)
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
	u := Usage{CPUTime: cpu - c.startCPU, Wall: c.now().Sub(c.start), CPUs: c.cpus, Peak: c.peak,
		Quota: c.quota, EmbeddedGateway: c.embedded}
	if u.Wall > 0 {
		u.Utilization = float64(u.CPUTime) / (float64(u.Wall) * c.cpus)
	}
	return u, nil
}
