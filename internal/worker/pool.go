package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Job is one call start handed to the pool.
type Job struct {
	// Index is the call's sequence number in the run, from 0 (dropped
	// starts use up an index too).
	Index uint64
	// Scheduled is when the pacer meant the call to start.
	Scheduled time.Time
	// Started is when the call's goroutine began (set by the pool);
	// Started-Scheduled is the scheduling lag.
	Started time.Time
}

// CallFunc runs one call synchronously, records it itself (the pool knows
// nothing of what a call is) and reports whether it succeeded (the closed
// model pauses a slot whose call failed). ctx is cancelled when the run
// aborts, or when the grace period after the end of arrivals is over: the
// call must then end itself properly (hang up, unsubscribe) within its own
// bounded timeouts, and return. It must never panic.
type CallFunc func(ctx context.Context, job Job) (ok bool)

// Freed is a slot of the pool given back by a call that ended.
type Freed struct {
	// At is when the call ended.
	At time.Time
	// Failed is true when the call did not succeed.
	Failed bool
}

// Pool runs calls, each in its own goroutine, with at most a fixed number in
// flight. TryStart never blocks: a start that finds the pool full is refused
// and the caller counts it as dropped.
type Pool struct {
	sem   chan struct{}
	freed chan Freed
	call  CallFunc
	now   func() time.Time

	wg        sync.WaitGroup
	inFlight  atomic.Int64
	started   atomic.Uint64
	completed atomic.Uint64
}

// NewPool returns a pool of at most max (> 0) calls in flight running call;
// now is the clock (nil: time.Now).
func NewPool(max int, call CallFunc, now func() time.Time) (*Pool, error) {
	if max < 1 || call == nil {
		return nil, fmt.Errorf("worker: pool: need max > 0 (got %d) and a call function", max)
	}
	if now == nil {
		now = time.Now
	}
	return &Pool{
		sem:   make(chan struct{}, max),
		freed: make(chan Freed, max),
		call:  call,
		now:   now,
	}, nil
}

// TryStart starts job in a new goroutine if fewer than the pool's maximum
// are in flight, and reports whether it did. It never blocks. The call runs
// under ctx.
func (p *Pool) TryStart(ctx context.Context, job Job) bool {
	select {
	case p.sem <- struct{}{}:
	default:
		return false
	}
	p.inFlight.Add(1)
	p.started.Add(1)
	p.wg.Go(func() {
		ok := false
		defer func() {
			p.inFlight.Add(-1)
			p.completed.Add(1)
			f := Freed{At: p.now(), Failed: !ok}
			<-p.sem
			select { // at most cap tokens are ever outstanding
			case p.freed <- f:
			default:
			}
		}()
		job.Started = p.now()
		ok = p.call(ctx, job)
	})
	return true
}

// Freed delivers one token each time a call ends and frees a slot (the
// closed model replaces each call that ends). Tokens not taken are kept up to
// the pool's maximum.
func (p *Pool) Freed() <-chan Freed { return p.freed }

// Wait returns once every call started so far has ended.
func (p *Pool) Wait() { p.wg.Wait() }

// Cap is the most calls the pool runs at once.
func (p *Pool) Cap() int { return cap(p.sem) }

// InFlight is the number of calls running now.
func (p *Pool) InFlight() int { return int(p.inFlight.Load()) }

// Started is the number of calls the pool has started.
func (p *Pool) Started() uint64 { return p.started.Load() }

// Completed is the number of calls that have ended and been recorded.
func (p *Pool) Completed() uint64 { return p.completed.Load() }
