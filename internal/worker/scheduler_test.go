package worker

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// outcome is how a test call ended.
type outcome int

const (
	outcomeSuccess outcome = iota + 1
	outcomeAborted
)

// record is what a test call reports: its job and how it ended.
type record struct {
	Job
	Outcome outcome
}

// recorder collects records from concurrent calls.
type recorder struct {
	mu      sync.Mutex
	recs    []record
	dropped []Job
}

// wrap returns a CallFunc that runs c and records its job and outcome: a
// call whose context ended is aborted, one that returned before succeeded.
func (r *recorder) wrap(c CallFunc) CallFunc {
	return func(ctx context.Context, job Job) bool {
		ok := c(ctx, job)
		o := outcomeSuccess
		if ctx.Err() != nil {
			o = outcomeAborted
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.recs = append(r.recs, record{Job: job, Outcome: o})
		return ok
	}
}

// drop records n dropped starts from j (scheduler goroutine only).
func (r *recorder) drop(j Job, n uint64) {
	r.dropped = append(r.dropped, j)
	for i := uint64(1); i < n; i++ {
		r.dropped = append(r.dropped, Job{Index: j.Index + i})
	}
}

// holdCall is a call that stays up for hold, or until its context ends.
func holdCall(hold time.Duration) CallFunc {
	return func(ctx context.Context, job Job) bool {
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
}

func runScheduler(t *testing.T, cfg Config) (*recorder, *Scheduler, error) {
	t.Helper()
	r := &recorder{}
	cfg.Call, cfg.Dropped = r.wrap(cfg.Call), r.drop
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, s, s.Run(t.Context())
}

// TestSchedulerStartsPerInterval runs the scheduler on the real clock inside
// a synctest bubble and checks the starts (and their scheduled instants)
// per interval against the plan, within 1%.
func TestSchedulerStartsPerInterval(t *testing.T) {
	tests := []struct {
		name     string
		pacer    func(t *testing.T) Pacer
		duration time.Duration
		window   time.Duration
		// exact: per-window counts must match the pacer's own plan exactly
		// (Poisson) on top of the 1% check against the rate.
		tolerance float64
	}{
		{"constant", func(*testing.T) Pacer { return Constant{200} }, 20 * time.Second, time.Second, 0.01},
		{"ramped", func(t *testing.T) Pacer {
			return mustStages(t, 0,
				Stage{Duration: 10 * time.Second, Target: 500},
				Stage{Duration: 10 * time.Second, Target: 500},
				Stage{Duration: 10 * time.Second, Target: 100})
		}, 0, time.Second, 0.01},
		{"poisson", func(t *testing.T) Pacer {
			p, err := NewPoisson(Constant{2000}, 3)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, 40 * time.Second, 10 * time.Second, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := tt.pacer(t)
				start := time.Now()
				r, s, err := runScheduler(t, Config{
					Pacer: p, MaxConcurrent: 100000, Duration: tt.duration,
					Call: holdCall(50 * time.Millisecond), Grace: time.Minute,
				})
				if err != nil {
					t.Fatalf("Run() = %v", err)
				}
				total := tt.duration
				if total == 0 {
					total = p.(*Stages).Duration()
				}
				pr := s.Progress()
				if pr.Dropped != 0 || pr.InFlight != 0 || int(pr.Completed) != len(r.recs) || pr.Started != pr.Attempted {
					t.Errorf("Progress() = %+v, want no drops, nothing in flight, %d completed", pr, len(r.recs))
				}
				counts := make([]int, total/tt.window)
				for _, rec := range r.recs {
					if lag := rec.Started.Sub(rec.Scheduled); lag != 0 {
						t.Fatalf("call %d lag = %v, want 0 in a bubble", rec.Index, lag)
					}
					if rec.Outcome != outcomeSuccess {
						t.Fatalf("call %d outcome %v, want success", rec.Index, rec.Outcome)
					}
					counts[rec.Scheduled.Sub(start)/tt.window]++
				}
				want := countDue(t, p, tt.window, total)
				for i, got := range counts {
					from := time.Duration(i) * tt.window
					plan := planned(p, from, from+tt.window)
					if got != want[i] {
						t.Errorf("window %d: %d starts, pacer planned %d", i, got, want[i])
					}
					if diff := math.Abs(float64(got) - plan); diff > max(tt.tolerance*plan, 1) {
						t.Errorf("window %d [%v, %v): %d starts, want %.1f ±1%%", i, from, from+tt.window, got, plan)
					}
				}
			})
		})
	}
}

func TestSchedulerDropsWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		r, s, err := runScheduler(t, Config{
			Pacer: Constant{100}, MaxConcurrent: 5, Duration: time.Second,
			Call: holdCall(2 * time.Second), Grace: time.Minute,
		})
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
		p := s.Progress()
		if p.Attempted != 100 || p.Started != 5 || p.Dropped != 95 || len(r.recs) != 5 || len(r.dropped) != 95 {
			t.Fatalf("attempted/started/dropped/recorded/drop callbacks = %d/%d/%d/%d/%d, want 100/5/95/5/95",
				p.Attempted, p.Started, p.Dropped, len(r.recs), len(r.dropped))
		}
		// Dropped starts keep their schedule: the pacer never blocked on
		// the pool, and never caught up afterwards.
		for i, j := range r.dropped {
			want := start.Add(time.Duration(i+5) * 10 * time.Millisecond)
			if j.Index != uint64(i+5) || !j.Scheduled.Equal(want) {
				t.Fatalf("dropped[%d] = index %d at %v, want index %d at %v", i, j.Index, j.Scheduled.Sub(start), i+5, want.Sub(start))
			}
		}
		// The five calls ran to completion: the run lasted the hold time.
		if got := time.Since(start); got != 2040*time.Millisecond {
			t.Errorf("run took %v, want 2.04s (the fifth call's start and hold)", got)
		}
	})
}

func TestSchedulerClosedModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		up, maxUp := 0, 0
		call := func(ctx context.Context, job Job) bool {
			mu.Lock()
			up++
			maxUp = max(maxUp, up)
			mu.Unlock()
			ok := holdCall(time.Second)(ctx, job)
			mu.Lock()
			up--
			mu.Unlock()
			return ok
		}
		start := time.Now()
		r, s, err := runScheduler(t, Config{Concurrent: 3, Duration: 9500 * time.Millisecond, Call: call, Grace: time.Minute})
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if len(r.recs) != 30 || maxUp != 3 || s.Progress().Dropped != 0 {
			t.Errorf("calls/max up/dropped = %d/%d/%d, want 30/3/0", len(r.recs), maxUp, s.Progress().Dropped)
		}
		for _, rec := range r.recs {
			if off := rec.Scheduled.Sub(start); off%time.Second != 0 || rec.Outcome != outcomeSuccess {
				t.Errorf("call %d scheduled at %v outcome %v, want whole seconds and success", rec.Index, off, rec.Outcome)
			}
		}
		if p := s.Progress(); p.TargetConcurrent != 3 || p.TargetRate != 0 {
			t.Errorf("Progress() = %+v", p)
		}
	})
}

func TestSchedulerMaxCalls(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"open", Config{Pacer: Constant{10}, MaxConcurrent: 100, MaxCalls: 7}},
		{"closed", Config{Concurrent: 2, MaxCalls: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := tt.cfg
				cfg.Call, cfg.Grace = holdCall(time.Second), time.Minute
				r, s, err := runScheduler(t, cfg)
				if err != nil || len(r.recs) != 7 || s.Progress().Attempted != 7 {
					t.Errorf("Run() = %v with %d calls, %d attempted; want nil, 7, 7", err, len(r.recs), s.Progress().Attempted)
				}
			})
		})
	}
}

// TestSchedulerArrivalWindow: the arrival window ends at the duration, or,
// after MaxCalls starts, where the next start was due (N starts fill N
// intervals), not at the last start.
func TestSchedulerArrivalWindow(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want time.Duration
	}{
		{"max calls", Config{Pacer: Constant{2}, MaxConcurrent: 100, MaxCalls: 5}, 2500 * time.Millisecond},
		{"duration", Config{Pacer: Constant{2}, MaxConcurrent: 100, Duration: 3 * time.Second}, 3 * time.Second},
		{"duration before the next due start", Config{Pacer: Constant{2}, MaxConcurrent: 100, MaxCalls: 5, Duration: 2200 * time.Millisecond}, 2200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var got time.Duration
				cfg := tt.cfg
				cfg.Call, cfg.Grace = holdCall(100*time.Millisecond), time.Minute
				cfg.ArrivalsEnded = func(at time.Time) { got = at.Sub(start) }
				if _, _, err := runScheduler(t, cfg); err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("arrival window ended at %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestSchedulerGrace: arrivals stop at the duration; calls still up get the
// grace period, then their contexts are cancelled and they end as aborted.
func TestSchedulerGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		r, s, err := runScheduler(t, Config{
			Pacer: Constant{2}, MaxConcurrent: 100, Duration: 2 * time.Second,
			Call: holdCall(3 * time.Second), Grace: 1750 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
		// Calls at 0, 0.5, 1, 1.5 s; arrivals end at 2 s; grace ends at
		// 3.75 s: the first two (ending at 3 and 3.5 s) succeed, the others
		// abort.
		if got := time.Since(start); got != 3750*time.Millisecond {
			t.Errorf("Run took %v, want 3.75s", got)
		}
		outcomes := map[outcome]int{}
		for _, rec := range r.recs {
			outcomes[rec.Outcome]++
		}
		if len(r.recs) != 4 || outcomes[outcomeSuccess] != 2 || outcomes[outcomeAborted] != 2 {
			t.Errorf("outcomes = %v over %d calls, want 2 success and 2 aborted", outcomes, len(r.recs))
		}
		if p := s.Progress(); !p.Stopping || p.InFlight != 0 || p.TargetRate != 0 {
			t.Errorf("Progress() after Run = %+v", p)
		}
	})
}

// TestSchedulerStopAndAbort: Stop ends arrivals and leaves calls their
// grace; cancelling the context then aborts them at once, and Run returns
// only after every call has returned.
func TestSchedulerStopAndAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r := &recorder{}
		s, err := New(Config{
			Pacer: Constant{10}, MaxConcurrent: 100, Duration: time.Hour,
			Call: r.wrap(holdCall(time.Hour)), Grace: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if p := s.Progress(); p.Started != 10 || p.InFlight != 10 || p.TargetRate != 10 || p.Elapsed != time.Second-time.Nanosecond {
			t.Errorf("Progress() at 1s = %+v, want 10 started and in flight at 10/s", p)
		}
		s.Stop() // first Ctrl-C
		s.Stop() // idempotent
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if p := s.Progress(); p.Started != 10 || p.InFlight != 10 || !p.Stopping {
			t.Errorf("Progress() after Stop = %+v, want no new starts, 10 calls still up", p)
		}
		cancel() // second Ctrl-C
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want context.Canceled", err)
		}
		if len(r.recs) != 10 {
			t.Fatalf("%d records, want 10", len(r.recs))
		}
		for _, rec := range r.recs {
			if rec.Outcome != outcomeAborted {
				t.Errorf("call %d outcome %v, want aborted", rec.Index, rec.Outcome)
			}
		}
		if err := s.Run(ctx); err == nil {
			t.Errorf("second Run() = nil, want an error")
		}
	})
}

func TestNewErrors(t *testing.T) {
	call := holdCall(0)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no model", Config{Call: call}},
		{"both models", Config{Pacer: Constant{1}, Concurrent: 2, Call: call}},
		{"no cap", Config{Pacer: Constant{1}, Call: call}},
		{"negative concurrent", Config{Concurrent: -1, Call: call}},
		{"no call", Config{Pacer: Constant{1}, MaxConcurrent: 1}},
		{"negative grace", Config{Pacer: Constant{1}, MaxConcurrent: 1, Call: call, Grace: -1}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("%s: New() = nil error", tt.name)
		}
	}
}
