package worker

import (
	"math"
	"testing"
	"time"
)

func mustStages(t *testing.T, start float64, st ...Stage) *Stages {
	t.Helper()
	s, err := NewStages(start, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPace(t *testing.T) {
	upHoldDown := mustStages(t, 0,
		Stage{Duration: 10 * time.Second, Target: 10},
		Stage{Duration: 10 * time.Second, Target: 10},
		Stage{Duration: 10 * time.Second, Target: 0})
	pause := mustStages(t, 0,
		Stage{Duration: 5 * time.Second, Target: 0},
		Stage{Duration: 10 * time.Second, Target: 10})
	tests := []struct {
		name     string
		p        Pacer
		elapsed  time.Duration
		started  uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"constant first call at once", Constant{10}, 0, 0, 0, false},
		{"constant second call", Constant{10}, 0, 1, 100 * time.Millisecond, false},
		{"constant mid interval", Constant{10}, 150 * time.Millisecond, 2, 50 * time.Millisecond, false},
		{"constant late call due now", Constant{10}, time.Second, 5, 0, false},
		{"constant exactly due", Constant{10}, 500 * time.Millisecond, 5, 0, false},
		{"constant thirds round up", Constant{3}, 0, 1, 333333334 * time.Nanosecond, false},
		{"constant no drift after a million", Constant{3}, 0, 3_000_000, 1_000_000 * time.Second, false},
		{"constant zero rate", Constant{0}, 0, 0, 0, true},
		{"constant negative rate", Constant{-5}, 0, 0, 0, true},
		{"constant NaN rate", Constant{math.NaN()}, 0, 0, 0, true},
		{"constant overflow: tiny rate", Constant{1e-12}, 0, 1_000_000, 0, true},
		{"constant overflow: max started", Constant{1}, 0, math.MaxUint64, 0, true},
		{"constant huge rate", Constant{1e12}, 0, 1_000_000, time.Microsecond, false},
		{"ramp up first call at once", Ramp{0, 10, 10 * time.Second}, 0, 0, 0, false},
		{"ramp up quadratic", Ramp{0, 10, 10 * time.Second}, 0, 2, 2 * time.Second, false},
		{"ramp up last call", Ramp{0, 10, 10 * time.Second}, 9 * time.Second, 40, 0, false},
		{"ramp up past plan", Ramp{0, 10, 10 * time.Second}, 0, 50, 0, true},
		{"ramp down exact root", Ramp{10, 0, 10 * time.Second}, time.Second, 32, 3 * time.Second, false},
		{"ramp down past plan", Ramp{10, 0, 10 * time.Second}, 0, 50, 0, true},
		{"flat ramp is constant", Ramp{4, 4, 10 * time.Second}, 0, 6, 1500 * time.Millisecond, false},
		{"ramp zero rate", Ramp{0, 0, 10 * time.Second}, 0, 0, 0, true},
		{"ramp zero length", Ramp{1, 5, 0}, 0, 0, 0, true},
		{"ramp overflow started", Ramp{0, 10, time.Hour}, 0, math.MaxUint64, 0, true},
		{"stages end of ramp up", upHoldDown, 0, 50, 10 * time.Second, false},
		{"stages end of hold", upHoldDown, 0, 150, 20 * time.Second, false},
		{"stages inside ramp down", upHoldDown, 20 * time.Second, 182, 4 * time.Second, false},
		{"stages past plan", upHoldDown, 0, 200, 0, true},
		{"stages pause starts nothing", pause, 0, 0, 5 * time.Second, false},
		{"stages empty", mustStages(t, 0), 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := tt.p.Pace(tt.elapsed, tt.started)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Errorf("Pace(%v, %d) = %v, %v; want %v, %v", tt.elapsed, tt.started, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
}

func TestRate(t *testing.T) {
	s := mustStages(t, 2,
		Stage{Duration: 10 * time.Second, Target: 12},
		Stage{Duration: 10 * time.Second, Target: 12})
	tests := []struct {
		name    string
		p       Pacer
		elapsed time.Duration
		want    float64
	}{
		{"constant", Constant{7}, time.Hour, 7},
		{"constant negative reads 0", Constant{-1}, 0, 0},
		{"ramp start", Ramp{0, 10, 10 * time.Second}, 0, 0},
		{"ramp middle", Ramp{0, 10, 10 * time.Second}, 5 * time.Second, 5},
		{"ramp after end", Ramp{0, 10, 10 * time.Second}, 10 * time.Second, 0},
		{"stages from start rate", s, 0, 2},
		{"stages middle of ramp", s, 5 * time.Second, 7},
		{"stages hold", s, 15 * time.Second, 12},
		{"stages after end", s, 20 * time.Second, 0},
	}
	for _, tt := range tests {
		if got := tt.p.Rate(tt.elapsed); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: Rate(%v) = %v, want %v", tt.name, tt.elapsed, got, tt.want)
		}
	}
}

func TestNewStagesErrors(t *testing.T) {
	tests := []struct {
		name   string
		start  float64
		stages []Stage
	}{
		{"negative start", -1, nil},
		{"NaN start", math.NaN(), nil},
		{"zero duration", 0, []Stage{{Duration: 0, Target: 1}}},
		{"negative target", 0, []Stage{{Duration: time.Second, Target: -1}}},
		{"infinite target", 0, []Stage{{Duration: time.Second, Target: math.Inf(1)}}},
		{"duration overflow", 0, []Stage{{Duration: math.MaxInt64, Target: 1}, {Duration: time.Second, Target: 1}}},
	}
	for _, tt := range tests {
		if _, err := NewStages(tt.start, tt.stages); err == nil {
			t.Errorf("%s: NewStages() = nil error", tt.name)
		}
	}
}

// planned is ∫ rate over [from, to), by the midpoint rule on 1 ms steps
// (exact for piecewise-linear rates whose breaks fall on whole steps).
func planned(p Pacer, from, to time.Duration) float64 {
	var n float64
	for t := from; t < to; t += time.Millisecond {
		n += p.Rate(t+time.Millisecond/2) * 0.001
	}
	return n
}

// countDue counts the calls a pacer plans in each window of a run, from
// Pace alone (no clock).
func countDue(t *testing.T, p Pacer, window, total time.Duration) []int {
	t.Helper()
	counts := make([]int, total/window)
	var elapsed time.Duration
	for n := uint64(0); ; n++ {
		wait, stop := p.Pace(elapsed, n)
		if stop {
			break
		}
		elapsed += wait
		if elapsed >= total {
			break
		}
		counts[elapsed/window]++
	}
	return counts
}

// TestStartsPerInterval checks that every interval gets the number of starts
// the rate plans, within 1% (or one call, for small counts).
func TestStartsPerInterval(t *testing.T) {
	stages := mustStages(t, 0,
		Stage{Duration: 30 * time.Second, Target: 1000},
		Stage{Duration: 40 * time.Second, Target: 1000},
		Stage{Duration: 30 * time.Second, Target: 0})
	poissonConst, err := NewPoisson(Constant{10000}, 1)
	if err != nil {
		t.Fatal(err)
	}
	poissonStages, err := NewPoisson(mustStages(t, 0,
		Stage{Duration: 50 * time.Second, Target: 20000},
		Stage{Duration: 50 * time.Second, Target: 20000}), 7)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      Pacer
		window time.Duration
		total  time.Duration
	}{
		{"constant", Constant{337}, time.Second, 60 * time.Second},
		{"ramped", stages, time.Second, 100 * time.Second},
		{"poisson constant", poissonConst, 10 * time.Second, 100 * time.Second},
		{"poisson ramped", poissonStages, 10 * time.Second, 100 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := countDue(t, tt.p, tt.window, tt.total)
			for i, got := range counts {
				from := time.Duration(i) * tt.window
				want := planned(tt.p, from, from+tt.window)
				if diff := math.Abs(float64(got) - want); diff > max(0.01*want, 1) {
					t.Errorf("window %d [%v, %v): %d starts, want %.1f ±1%%", i, from, from+tt.window, got, want)
				}
			}
		})
	}
}

func TestPoissonReplay(t *testing.T) {
	a, _ := NewPoisson(Constant{50}, 42)
	b, _ := NewPoisson(Constant{50}, 42)
	c, _ := NewPoisson(Constant{50}, 43)
	var sameC int
	for n := uint64(0); n < 1000; n++ {
		da, _ := a.Due(n)
		db, _ := b.Due(n)
		dc, _ := c.Due(n)
		if da != db {
			t.Fatalf("seed 42 Due(%d) = %v and %v, want the same", n, da, db)
		}
		if da == dc {
			sameC++
		}
	}
	if sameC > 10 {
		t.Errorf("seeds 42 and 43 agree on %d of 1000 start times", sameC)
	}
	// Asking again for an earlier index replays the same instant.
	first, _ := b.Due(0)
	d5, _ := b.Due(5)
	again, _ := a.Due(5)
	if d5 != again || first <= 0 {
		t.Errorf("replayed Due(5) = %v, want %v (Due(0) = %v, want > 0)", d5, again, first)
	}
	if _, stop := a.Pace(0, 1<<40); !stop {
		t.Errorf("Pace with an index 2^40 ahead: stop = false, want true")
	}
	if _, err := NewPoisson(fakePacer{}, 1); err == nil {
		t.Errorf("NewPoisson(unsupported) = nil error")
	}
}

type fakePacer struct{}

func (fakePacer) Pace(time.Duration, uint64) (time.Duration, bool) { return 0, true }
func (fakePacer) Rate(time.Duration) float64                       { return 0 }
