package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// MaxCalls ends arrivals after this many starts of the whole run,
	// dropped ones included (0: no limit); a shard runs its own calls among
	// the run's first MaxCalls.
	MaxCalls uint64
	// Shard is this process's share of a sharded run (the zero value: the
	// whole run). The pacer is this shard's already (Shard.UniformPacer, or
	// a Poisson pacer of Scale(base, 1/Count) and Shard.Seed); Concurrent is
	// this shard's share; the scheduler numbers calls with Shard.Global and
	// splits MaxCalls.
	Shard Shard
	// Origin is the instant the schedule starts (zero: when Run is called).
	// Run waits for an Origin in the future (shards started together by
	// --start-at); from an Origin in the past, the starts already due are
	// counted as missed (Progress.Missed) and never replayed.
	Origin time.Time
	// FailurePause is how long a closed-model slot whose call failed waits
	// before starting the next call, so a refusing gateway is not hammered
	// in a tight loop (0: at once). A slot's next call is scheduled at the
	// instant the slot frees (plus the pause), so its lag is measured from
	// then: the closed model's coordinated omission stays visible.
	FailurePause time.Duration
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
	// Dropped is told about dropped starts, from the scheduler's goroutine
	// (optional); it must not block. n consecutive starts from first were
	// dropped at once: a start that finds the pool full, and every further
	// start already due then (they would find it full too), or starts the
	// generator fell too far behind to issue before the duration ended.
	Dropped func(first Job, n uint64)
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
	// Dropped counts starts refused because the cap was full, or due
	// before the duration ended but never issued in time.
	Dropped uint64
	// Missed counts starts due before the schedule's Origin had passed
	// when Run began (a shard that started late): never issued.
	Missed uint64
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
	missed    atomic.Uint64
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
	if cfg.Duration < 0 || cfg.Grace < 0 || cfg.FailurePause < 0 {
		errs = append(errs, fmt.Errorf("duration, grace and failure pause must be >= 0, got %s, %s and %s", cfg.Duration, cfg.Grace, cfg.FailurePause))
	}
	if cfg.Shard.Count != 0 {
		if err := cfg.Shard.Validate(); err != nil {
			errs = append(errs, err)
		}
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

	start := s.cfg.Origin
	if start.IsZero() {
		start = s.clock.Now()
	}
	// A start already past when Run begins is joined where the schedule
	// stands; one still ahead is waited for, and nothing is missed.
	late := time.Duration(0)
	if !s.cfg.Origin.IsZero() {
		late = max(s.clock.Now().Sub(start), 0)
	}
	if wait := start.Sub(s.clock.Now()); wait > 0 {
		t := s.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
		case <-s.stop:
		}
		t.Stop()
	}
	s.mu.Lock()
	s.start = start
	s.mu.Unlock()

	var windowEnd time.Time
	if s.cfg.Concurrent > 0 {
		s.closed(ctx, callCtx, start)
	} else {
		windowEnd = s.open(ctx, callCtx, start, late)
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

// limit is the number of this shard's starts that MaxCalls allows, and
// whether there is a limit at all.
func (s *Scheduler) limit() (uint64, bool) {
	if s.cfg.MaxCalls == 0 {
		return 0, false
	}
	return s.cfg.Shard.Local(s.cfg.MaxCalls), true
}

// skip returns the first start from n on that is not due at elapsed (nor
// before the end of the duration), within the limit.
func (s *Scheduler) skip(n uint64, elapsed time.Duration) uint64 {
	if d := s.cfg.Duration; d > 0 && elapsed >= d {
		elapsed = d - 1
	}
	m := skipDue(s.cfg.Pacer, n, elapsed)
	if limit, ok := s.limit(); ok && m > limit {
		m = limit
	}
	return max(m, n)
}

// job is this shard's start n, due at offset at from start.
func (s *Scheduler) job(start time.Time, n uint64, at time.Duration) Job {
	return Job{Index: s.cfg.Shard.Global(n), Scheduled: start.Add(at)}
}

// dueAt is when start n is due, from the pacer (elapsed+wait for a pacer
// that cannot say).
func (s *Scheduler) dueAt(n uint64, elapsed, wait time.Duration) time.Duration {
	if due, ok := s.cfg.Pacer.(DuePacer); ok {
		if d, ok := due.Due(n); ok {
			return d
		}
	}
	return elapsed + wait
}

// open issues the open model's starts until arrivals end. The clock bounds
// the schedule: whatever the backlog, no start is issued at or after the
// duration. Starts that cannot be issued (the pool is full, or the
// generator fell behind past the duration) are counted in bulk, never
// walked one by one.
func (s *Scheduler) open(ctx, callCtx context.Context, start time.Time, late time.Duration) (windowEnd time.Time) {
	timer := s.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	limit, limited := s.limit()
	n := uint64(0)
	if late > 0 {
		// A late start joins the schedule where it stands.
		n = s.skip(0, late)
		s.missed.Store(n)
	}
	for !limited || n < limit {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		default:
		}
		elapsed := s.clock.Now().Sub(start)
		if s.cfg.Duration > 0 && elapsed >= s.cfg.Duration {
			// The generator fell behind: what was due before the end of
			// the duration and not issued is dropped, not issued late.
			job := s.job(start, n, s.dueAt(n, elapsed, 0))
			s.drop(job, s.skip(n, s.cfg.Duration)-n)
			return
		}
		wait, stop := s.cfg.Pacer.Pace(elapsed, n)
		if stop {
			return
		}
		at := s.dueAt(n, elapsed, wait)
		if s.cfg.Duration > 0 && at >= s.cfg.Duration {
			s.sleepUntil(ctx, timer, start, s.cfg.Duration)
			return
		}
		if wait > 0 && !s.sleepUntil(ctx, timer, start, at) {
			return
		}
		job := s.job(start, n, at)
		s.attempted.Add(1)
		if s.pool.TryStart(callCtx, job) {
			n++
			continue
		}
		// The pool is full: so it is for every start already due.
		s.attempted.Add(^uint64(0))
		next := s.skip(n+1, s.clock.Now().Sub(start))
		s.drop(job, next-n)
		n = next
	}
	// MaxCalls ended arrivals: the window ends where the next start was due.
	if due, ok := s.cfg.Pacer.(DuePacer); ok {
		if d, ok := due.Due(limit); ok {
			if s.cfg.Duration > 0 && d > s.cfg.Duration {
				d = s.cfg.Duration
			}
			return start.Add(d)
		}
	}
	return time.Time{}
}

// drop counts n consecutive starts from first as dropped.
func (s *Scheduler) drop(first Job, n uint64) {
	if n == 0 {
		return
	}
	s.attempted.Add(n)
	s.dropped.Add(n)
	if s.cfg.Dropped != nil {
		s.cfg.Dropped(first, n)
	}
}

// closed keeps Concurrent calls up until arrivals end. Each slot starts its
// next call when its call ends (after FailurePause when that call failed),
// and that instant is the next call's scheduled start.
func (s *Scheduler) closed(ctx, callCtx context.Context, start time.Time) {
	var deadline <-chan time.Time
	if s.cfg.Duration > 0 {
		t := s.clock.NewTimer(s.cfg.Duration - s.clock.Now().Sub(start))
		defer t.Stop()
		deadline = t.C()
	}
	wake := s.clock.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	limit, limited := s.limit()
	n := uint64(0)
	more := func() bool { return !limited || n < limit }
	issue := func(at time.Time) {
		s.attempted.Add(1)
		if !s.pool.TryStart(callCtx, Job{Index: s.cfg.Shard.Global(n), Scheduled: at}) {
			s.dropped.Add(1) // cannot happen: a slot was free
		}
		n++
	}
	now := s.clock.Now()
	for int(n) < s.cfg.Concurrent && more() {
		issue(now)
	}
	var pending []time.Time // paused slots' next starts, in order
	for more() {
		var woke <-chan time.Time
		if len(pending) > 0 {
			wake.Reset(max(pending[0].Sub(s.clock.Now()), 0))
			woke = wake.C()
		}
		select {
		case f := <-s.pool.Freed():
			at := f.At
			if f.Failed {
				at = at.Add(s.cfg.FailurePause)
			}
			if !at.After(s.clock.Now()) {
				issue(at)
				continue
			}
			i, _ := slices.BinarySearchFunc(pending, at, time.Time.Compare)
			pending = slices.Insert(pending, i, at)
		case <-woke:
			if at := pending[0]; !at.After(s.clock.Now()) {
				pending = pending[1:]
				issue(at)
			}
		case <-deadline:
			return
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
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
		Missed:           s.missed.Load(),
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
