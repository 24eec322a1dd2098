package cpu

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSampler(t *testing.T) {
	clk := newFakeClock()
	var cpu time.Duration
	var cpuErr error
	c, err := newSampler(clk.Now, func() (time.Duration, error) { return cpu, cpuErr }, 4)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	cpu = 2 * time.Second // 2 of 4 CPUs busy
	if u, err := c.Sample(); err != nil || u != 0.5 {
		t.Errorf("Sample = %v, %v; want 0.5", u, err)
	}
	clk.Advance(time.Second)
	cpu += 4 * time.Second // all busy
	if u, _ := c.Sample(); u != 1 {
		t.Errorf("Sample = %v, want 1", u)
	}
	clk.Advance(2 * time.Second)
	u, err := c.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUs != 4 || u.CPUTime != 6*time.Second || u.Wall != 4*time.Second || math.Abs(u.Utilization-0.375) > 1e-12 || u.Peak != 1 {
		t.Errorf("usage = %+v", u)
	}
	cpuErr = errors.New("boom")
	if _, err := c.Sample(); err == nil {
		t.Error("sample error lost")
	}
	if _, err := c.Usage(); err == nil {
		t.Error("usage error lost")
	}
	if _, err := newSampler(nil, func() (time.Duration, error) { return 0, cpuErr }, 1); err == nil {
		t.Error("constructor error lost")
	}
	// The real clock works here.
	real, err := NewSampler(nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := real.Usage(); err != nil || u.CPUs < 1 {
		t.Errorf("real usage = %+v, %v", u, err)
	}
}
