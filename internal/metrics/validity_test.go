package metrics

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestCheckValidity(t *testing.T) {
	mk := func(lag time.Duration, n int) *Snapshot {
		clk := newFakeClock()
		r := NewRecorder(RecorderOptions{Now: clk.Now})
		for range n {
			r.Record(call(clk.Now(), lag, OutcomeSuccess, nil))
		}
		return r.Snapshot()
	}
	tests := []struct {
		name   string
		s      *Snapshot
		cpu    *CPUUsage
		opts   ValidityOptions
		valid  bool
		reason string
	}{
		{"all fine", mk(time.Millisecond, 100), &CPUUsage{CPUs: 4, Utilization: 0.5, Peak: 0.9}, ValidityOptions{}, true, ""},
		{"lag at the bound", mk(50*time.Millisecond, 100), &CPUUsage{CPUs: 4}, ValidityOptions{}, true, ""},
		{"lag above", mk(51*time.Millisecond, 100), &CPUUsage{CPUs: 4}, ValidityOptions{}, false, "scheduler lag p99 was 51ms, above the 50ms bound"},
		{"custom lag bound", mk(20*time.Millisecond, 100), &CPUUsage{CPUs: 4}, ValidityOptions{MaxLagP99: 10 * time.Millisecond}, false, "above the 10ms bound"},
		{"cpu mean", mk(0, 1), &CPUUsage{CPUs: 4, Utilization: 0.9, Peak: 0.9}, ValidityOptions{}, false, "used 90% of its 4 CPUs"},
		{"cpu peak", mk(0, 1), &CPUUsage{CPUs: 4, Utilization: 0.5, Peak: 0.99}, ValidityOptions{}, false, "peaked at 99%"},
		{"no cpu", mk(0, 1), nil, ValidityOptions{}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := CheckValidity(tc.s, tc.cpu, tc.opts)
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

func TestCPUSampler(t *testing.T) {
	clk := newFakeClock()
	var cpu time.Duration
	var cpuErr error
	c, err := newCPUSampler(clk.Now, func() (time.Duration, error) { return cpu, cpuErr }, 4)
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
	if _, err := newCPUSampler(nil, func() (time.Duration, error) { return 0, cpuErr }, 1); err == nil {
		t.Error("constructor error lost")
	}
	// The real clock works here.
	real, err := NewCPUSampler(nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := real.Usage(); err != nil || u.CPUs < 1 {
		t.Errorf("real usage = %+v, %v", u, err)
	}
}
