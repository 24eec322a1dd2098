package worker

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// steppingClock is a clock on which every reading costs step, as if the
// scheduler's own work took that long, and timers fire at once after moving
// the clock to their deadline: a scheduler that walks every missed slot
// would never reach the end of its duration on it.
type steppingClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *steppingClock) NewTimer(d time.Duration) Timer {
	t := &steppingTimer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// steppingTimer fires when waited on: reading C moves the clock to the
// deadline of an active timer.
type steppingTimer struct {
	c      *steppingClock
	ch     chan time.Time
	d      time.Duration
	active bool
}

func (t *steppingTimer) C() <-chan time.Time {
	if t.active {
		t.active = false
		t.c.mu.Lock()
		t.c.now = t.c.now.Add(max(t.d, 0))
		now := t.c.now
		t.c.mu.Unlock()
		t.ch <- now
	}
	return t.ch
}

func (t *steppingTimer) Reset(d time.Duration) bool {
	was := t.Stop()
	t.d, t.active = d, true
	return was
}

func (t *steppingTimer) Stop() bool {
	was := t.active
	t.active = false
	select {
	case <-t.ch:
	default:
	}
	return was
}

// blockCall holds its slot until the run cancels it.
func blockCall(ctx context.Context, _ Job) bool {
	<-ctx.Done()
	return false
}

// TestSchedulerClockBoundsSchedule: a rate far beyond what the process can
// issue still ends at its duration, and every start due before it is
// counted (dropped) without walking the slots one by one.
func TestSchedulerClockBoundsSchedule(t *testing.T) {
	tests := []struct {
		name  string
		pacer func(t *testing.T) Pacer
	}{
		{"uniform", func(*testing.T) Pacer { return Constant{1e9} }},
		{"poisson", func(t *testing.T) Pacer {
			p, err := NewPoisson(Constant{1e9}, 7)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &steppingClock{now: time.Unix(1e9, 0), step: time.Microsecond}
			var drops int
			var dropped uint64
			s, err := New(Config{
				Pacer: tt.pacer(t), MaxConcurrent: 5, Duration: time.Second,
				Call: blockCall, Clock: clk,
				Dropped: func(_ Job, n uint64) { drops++; dropped += n },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Run(t.Context()); err != nil {
				t.Fatalf("Run() = %v", err)
			}
			p := s.Progress()
			if p.Started != 5 || p.Dropped != dropped || p.Attempted != p.Started+p.Dropped {
				t.Errorf("started/dropped/attempted = %d/%d/%d (callbacks counted %d), want 5 and the rest dropped", p.Started, p.Dropped, p.Attempted, dropped)
			}
			// 1e9 starts were due in the second (a Poisson count within
			// a few standard deviations of it).
			if d := math.Abs(float64(p.Attempted) - 1e9); d > 2e5 {
				t.Errorf("attempted %d, want about 1e9", p.Attempted)
			}
			// Each bulk drop covers every start due at its instant: with
			// 1 µs per clock reading, about one callback per few µs of the
			// schedule, not one per start.
			if drops > 1e6 {
				t.Errorf("%d drop callbacks for %d drops: slots walked one by one", drops, dropped)
			}
		})
	}
}

// TestSchedulerLateOrigin: a shard whose start instant has passed joins the
// schedule where it stands: the starts already due are counted as missed,
// never replayed, and the rest keep their instants.
func TestSchedulerLateOrigin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		origin := time.Now().Add(-2500 * time.Millisecond)
		r, s, err := runScheduler(t, Config{
			Pacer: Constant{2}, MaxConcurrent: 10, Duration: 5 * time.Second, Origin: origin,
			Call: holdCall(100 * time.Millisecond), Grace: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if p := s.Progress(); p.Missed != 6 || p.Started != 4 || p.Dropped != 0 {
			t.Errorf("missed/started/dropped = %d/%d/%d, want 6/4/0", p.Missed, p.Started, p.Dropped)
		}
		for _, rec := range r.recs {
			if off := rec.Scheduled.Sub(origin); off < 3*time.Second || off%(500*time.Millisecond) != 0 || rec.Index != uint64(off/(500*time.Millisecond)) {
				t.Errorf("call %d scheduled at %v from the origin", rec.Index, off)
			}
		}
	})
}

// TestSchedulerWaitsForOrigin: an origin in the future delays the first
// start to it exactly.
func TestSchedulerWaitsForOrigin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		origin := time.Now().Add(3 * time.Second)
		r, _, err := runScheduler(t, Config{
			Pacer: Constant{1}, MaxConcurrent: 10, MaxCalls: 2, Origin: origin,
			Call: holdCall(0), Grace: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.recs) != 2 || !r.recs[0].Started.Equal(origin) {
			t.Errorf("records %+v, want 2 with the first started at the origin", r.recs)
		}
	})
}

// TestSchedulerClosedPausesAfterFailure: in the closed model a slot whose
// call failed waits FailurePause, and its next call is scheduled at the
// end of the pause (so lag is measured from when the slot was due).
func TestSchedulerClosedPausesAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		fail := func(context.Context, Job) bool { return false }
		r, s, err := runScheduler(t, Config{
			Concurrent: 2, Duration: 9500 * time.Millisecond, FailurePause: time.Second,
			Call: fail, Grace: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if p := s.Progress(); p.Started != 20 || len(r.recs) != 20 {
			t.Errorf("started %d, recorded %d, want 20 (2 slots, one call a second each)", p.Started, len(r.recs))
		}
		for _, rec := range r.recs {
			off := rec.Scheduled.Sub(start)
			if off%time.Second != 0 || !rec.Started.Equal(rec.Scheduled) {
				t.Errorf("call %d scheduled at %v started %v, want whole seconds and no lag", rec.Index, off, rec.Started.Sub(start))
			}
		}
	})
}
