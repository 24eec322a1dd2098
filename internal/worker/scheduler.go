package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultGrace is how long in-flight calls may go on after arrivals stop
// before their contexts are cancelled, when the CLI does not say otherwise.
const DefaultGrace = 30 * time.Second

// Clock is the scheduler's source of time; the real one is SystemClock.
// Tests run the real clock inside testing/synctest, or inject their own.
type Clock interface {
	// Now returns the current instant.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the scheduler uses.
type Timer interface {
	// C delivers the instant the timer fired.
	C() <-chan time.Time
	// Reset re-arms the timer to fire after d.
	Reset(d time.Duration) bool
	// Stop stops the timer.
	Stop() bool
}

// SystemClock is the time package's clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer implements Clock.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time        { return t.t.C }
func (t sysTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
func (t sysTimer) Stop() bool                 { return t.t.Stop() }

// Config configures a Scheduler. Exactly one of Pacer (open model) and
// Concurrent (closed model) is set.
type Config struct {
	// Pacer decides when calls start (open model).
	Pacer Pacer
	// MaxConcurrent caps the calls in flight in the open model; a start
	// that finds the cap full is dropped (counted, never queued).
	MaxConcurrent int
	// Concurrent, when > 0, selects the closed model: keep this many calls
	// up, starting a replacement as soon as one ends.
	Concurrent int
	// Duration is how long calls start (0: until the pacer stops, MaxCalls
	// is reached, Stop is called or the context ends).
	Duration time.Duration
	// MaxCalls ends arrivals after this many starts, dropped ones included
	// (0: no limit).
	MaxCalls uint64
	// Grace is how long in-flight calls may go on once arrivals have
	// stopped, before their contexts are cancelled (0: cancelled at once).
	Grace time.Duration
	// Call runs one call (and records it), concurrently from the calls'
	// goroutines.
	Call CallFunc
	// ArrivalsEnded is told the end of the arrival window once arrivals stop
	// (the end of stage one): when they stopped or, when MaxCalls ended
	// them, when the next start would have been due, so N starts fill N
	// intervals and an achieved rate has no fencepost error. Called from
	// the scheduler's goroutine (optional).
	ArrivalsEnded func(at time.Time)
	// Dropped is told about every dropped start, from the scheduler's
	// goroutine (optional); it must not block.
	Dropped func(Job)
	// Clock is the time source (nil: SystemClock).
	Clock Clock
}

// Progress is a snapshot of a run, for the live progress line.
type Progress struct {
	// Elapsed is the time since the run began (0 before Run).
	Elapsed time.Duration
	// TargetRate is the pacer's planned rate now, in calls/s (0 in the
	// closed model and once arrivals have stopped).
	TargetRate float64
	// TargetConcurrent is the closed model's N (0 in the open model).
	TargetConcurrent int
	// Attempted counts starts issued: Started + Dropped.
	Attempted uint64
	// Started counts calls handed to the pool.
	Started uint64
	// Dropped counts starts refused because the cap was full.
	Dropped uint64
	// InFlight is the number of calls running now.
	InFlight int
	// Completed counts calls that have ended.
	Completed uint64
	// Stopping is true once arrivals have stopped.
	Stopping bool
}

// Scheduler runs one load test: it issues starts as its pacer (or the closed
// model) says, hands them to a bounded Pool, and shuts down in two stages.
type Scheduler struct {
	cfg   Config
	clock Clock
	pool  *Pool

	stopOnce sync.Once
	stop     chan struct{}
	ran      atomic.Bool
	stopping atomic.Bool

	mu    sync.Mutex
	start time.Time

	attempted atomic.Uint64
	dropped   atomic.Uint64
}

// New checks cfg and returns a Scheduler ready to Run once.
func New(cfg Config) (*Scheduler, error) {
	var errs []error
	switch {
	case cfg.Concurrent > 0 && cfg.Pacer != nil:
		errs = append(errs, errors.New("both a pacer and a closed-model concurrency"))
	case cfg.Concurrent < 0:
		errs = append(errs, fmt.Errorf("concurrent must be >= 0, got %d", cfg.Concurrent))
	case cfg.Concurrent == 0 && cfg.Pacer == nil:
		errs = append(errs, errors.New("no pacer and no closed-model concurrency"))
	case cfg.Concurrent == 0 && cfg.MaxConcurrent <= 0:
		errs = append(errs, fmt.Errorf("max concurrent must be > 0, got %d", cfg.MaxConcurrent))
	}
	if cfg.Call == nil {
		errs = append(errs, errors.New("no call function"))
	}
	if cfg.Duration < 0 || cfg.Grace < 0 {
		errs = append(errs, fmt.Errorf("duration and grace must be >= 0, got %s and %s", cfg.Duration, cfg.Grace))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	limit := cfg.MaxConcurrent
	if cfg.Concurrent > 0 {
		limit = cfg.Concurrent
	}
	pool, err := NewPool(limit, cfg.Call, cfg.Clock.Now)
	if err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, clock: cfg.Clock, pool: pool, stop: make(chan struct{})}, nil
}

// Stop ends arrivals gracefully (the first Ctrl-C): no new call starts, and
// in-flight calls get the grace period. Safe to call at any time, more than
// once, from any goroutine.
func (s *Scheduler) Stop() { s.stopOnce.Do(func() { close(s.stop) }) }

// Run runs the test and returns once every call it started has ended and
// been recorded. Arrivals end at the configured duration, after MaxCalls
// starts, when the pacer stops, or on Stop; in-flight calls then have Grace
// to end before their contexts are cancelled. Cancelling ctx (the second
// Ctrl-C) aborts: arrivals stop and every call's context is cancelled at
// once. Run returns ctx's error when aborted, nil otherwise.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("worker: scheduler already ran")
	}
	callCtx, cancelCalls := context.WithCancel(ctx)
	defer cancelCalls()

	start := s.clock.Now()
	s.mu.Lock()
	s.start = start
	s.mu.Unlock()

	var windowEnd time.Time
	if s.cfg.Concurrent > 0 {
		s.closed(ctx, callCtx, start)
	} else {
		windowEnd = s.open(ctx, callCtx, start)
	}
	s.stopping.Store(true)
	if s.cfg.ArrivalsEnded != nil {
		if now := s.clock.Now(); windowEnd.Before(now) {
			windowEnd = now
		}
		s.cfg.ArrivalsEnded(windowEnd)
	}

	// Stage two: in-flight calls end on their own within Grace, or are
	// cancelled. The waiter goroutine ends when the pool is empty, which
	// this function waits for on every path.
	done := make(chan struct{})
	go func() {
		s.pool.Wait()
		close(done)
	}()
	grace := s.clock.NewTimer(s.cfg.Grace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C():
		cancelCalls()
		<-done
	case <-ctx.Done():
		cancelCalls()
		<-done
	}
	return ctx.Err()
}

// sleepUntil waits until offset at from start, and reports false if the run
// stopped first.
func (s *Scheduler) sleepUntil(ctx context.Context, t Timer, start time.Time, at time.Duration) bool {
	d := at - s.clock.Now().Sub(start)
	if d <= 0 {
		return true
	}
	t.Reset(d)
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	case <-s.stop:
		return false
	}
}

// open issues the open model's starts until arrivals end.
func (s *Scheduler) open(ctx, callCtx context.Context, start time.Time) (windowEnd time.Time) {
	timer := s.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	due, _ := s.cfg.Pacer.(DuePacer)
	for n := uint64(0); s.cfg.MaxCalls == 0 || n < s.cfg.MaxCalls; n++ {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		default:
		}
		elapsed := s.clock.Now().Sub(start)
		wait, stop := s.cfg.Pacer.Pace(elapsed, n)
		if stop {
			return
		}
		at := elapsed + wait
		if due != nil {
			if d, ok := due.Due(n); ok {
				at = d
			}
		}
		if s.cfg.Duration > 0 && at >= s.cfg.Duration {
			s.sleepUntil(ctx, timer, start, s.cfg.Duration)
			return
		}
		if wait > 0 && !s.sleepUntil(ctx, timer, start, at) {
			return
		}
		s.issue(callCtx, Job{Index: n, Scheduled: start.Add(at)})
	}
	// MaxCalls ended arrivals: the window ends where the next start was due.
	if due != nil {
		if d, ok := due.Due(s.cfg.MaxCalls); ok {
			if s.cfg.Duration > 0 && d > s.cfg.Duration {
				d = s.cfg.Duration
			}
			return start.Add(d)
		}
	}
	return time.Time{}
}

// closed keeps Concurrent calls up until arrivals end.
func (s *Scheduler) closed(ctx, callCtx context.Context, start time.Time) {
	var deadline <-chan time.Time
	if s.cfg.Duration > 0 {
		t := s.clock.NewTimer(s.cfg.Duration)
		defer t.Stop()
		deadline = t.C()
	}
	n := uint64(0)
	more := func() bool { return s.cfg.MaxCalls == 0 || n < s.cfg.MaxCalls }
	for ; int(n) < s.cfg.Concurrent && more(); n++ {
		s.issue(callCtx, Job{Index: n, Scheduled: start})
	}
	for ; more(); n++ {
		select {
		case <-s.pool.Freed():
			s.issue(callCtx, Job{Index: n, Scheduled: s.clock.Now()})
		case <-deadline:
			return
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
	}
}

// issue hands one start to the pool without blocking.
func (s *Scheduler) issue(callCtx context.Context, job Job) {
	s.attempted.Add(1)
	if s.pool.TryStart(callCtx, job) {
		return
	}
	s.dropped.Add(1)
	if s.cfg.Dropped != nil {
		s.cfg.Dropped(job)
	}
}

// Progress returns the run's counters now; safe to call from any goroutine.
func (s *Scheduler) Progress() Progress {
	s.mu.Lock()
	start := s.start
	s.mu.Unlock()
	p := Progress{
		TargetConcurrent: s.cfg.Concurrent,
		Attempted:        s.attempted.Load(),
		Started:          s.pool.Started(),
		Dropped:          s.dropped.Load(),
		InFlight:         s.pool.InFlight(),
		Completed:        s.pool.Completed(),
		Stopping:         s.stopping.Load(),
	}
	if !start.IsZero() {
		p.Elapsed = s.clock.Now().Sub(start)
	}
	if s.cfg.Pacer != nil && !p.Stopping {
		p.TargetRate = s.cfg.Pacer.Rate(p.Elapsed)
	}
	return p
}
