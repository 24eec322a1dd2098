package worker

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// A Pacer decides when calls start in the open model. It is a pure function
// of the time elapsed since the run began and the number of starts already
// issued (dropped starts included, so a full pool never makes the pacer
// catch up later): no clock, no drift.
//
// The pacers here all derive from one planned rate r(t), in calls/s. The
// expected number of calls started by time t is its integral
//
//	N(t) = ∫₀ᵗ r(s) ds
//
// and call n (counting from 0) is due at the first instant its planned count
// is reached: uniform arrivals at N(t) = n (so call 0 starts at once), Poisson
// arrivals at N(t) = E(n+1), where E(k) is the sum of k draws of a unit-mean
// exponential (the time-rescaling of a Poisson process onto the rate). Each
// start time is computed from the start of the run, never by adding
// intervals, so rounding never accumulates.
type Pacer interface {
	// Pace returns how long to wait from elapsed until the next call (number
	// started, counting from 0) is due: 0 if it is already due. stop is true
	// when no further call will ever be due.
	Pace(elapsed time.Duration, started uint64) (wait time.Duration, stop bool)
	// Rate is the planned rate at elapsed, in calls/s.
	Rate(elapsed time.Duration) float64
}

// DuePacer is implemented by pacers that know the exact instant a call is
// due; the scheduler uses it to record scheduling lag exactly even for a
// call it starts late. Every pacer in this package implements it.
type DuePacer interface {
	Pacer
	// Due is the offset from the run's start at which call n is due; ok is
	// false if it never is.
	Due(n uint64) (at time.Duration, ok bool)
}

// maxSeconds is the longest offset a time.Duration can hold, in seconds.
const maxSeconds = float64(math.MaxInt64) / float64(time.Second)

// toDuration converts seconds to a Duration, rounding up to the next
// nanosecond (so that at the returned instant the call is due), and reports
// false when it does not fit.
func toDuration(sec float64) (time.Duration, bool) {
	if math.IsNaN(sec) || sec < 0 || sec >= maxSeconds {
		return 0, false
	}
	ns := math.Ceil(sec * float64(time.Second))
	if ns >= float64(math.MaxInt64) {
		return 0, false
	}
	return time.Duration(ns), true
}

// pace implements Pacer.Pace from Due.
func pace(due func(uint64) (time.Duration, bool), elapsed time.Duration, n uint64) (time.Duration, bool) {
	at, ok := due(n)
	if !ok {
		return 0, true
	}
	if at <= elapsed {
		return 0, false
	}
	return at - elapsed, false
}

// Constant starts calls evenly at a fixed rate, forever (the scheduler
// bounds the run). A rate of zero (or less, or NaN) starts nothing.
type Constant struct {
	// PerSecond is the rate in calls/s.
	PerSecond float64
}

// Pace implements Pacer.
func (c Constant) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	return pace(c.Due, elapsed, started)
}

// Rate implements Pacer.
func (c Constant) Rate(time.Duration) float64 { return max(c.PerSecond, 0) }

// Due implements DuePacer: call n is due at n/rate.
func (c Constant) Due(n uint64) (time.Duration, bool) {
	if !(c.PerSecond > 0) {
		return 0, false
	}
	return toDuration(float64(n) / c.PerSecond)
}

// at is Due for a real-valued planned count.
func (c Constant) at(x float64) (time.Duration, bool) {
	if !(c.PerSecond > 0) {
		return 0, false
	}
	return toDuration(x / c.PerSecond)
}

// count is the planned number of starts by elapsed, N(elapsed).
func (c Constant) count(elapsed time.Duration) float64 {
	if !(c.PerSecond > 0) || elapsed <= 0 {
		return 0
	}
	return c.PerSecond * elapsed.Seconds()
}

// Ramp changes the rate linearly from From to To over Over, then stops (as
// one stage of k6's ramping-arrival-rate). With From == To it is a constant
// rate for a bounded time.
type Ramp struct {
	// From and To are the rates in calls/s at the ramp's start and end.
	From, To float64
	// Over is the ramp's length.
	Over time.Duration
}

// Pace implements Pacer.
func (r Ramp) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	return pace(r.Due, elapsed, started)
}

// Rate implements Pacer: the linear interpolation, 0 outside the ramp.
func (r Ramp) Rate(elapsed time.Duration) float64 {
	if elapsed < 0 || elapsed >= r.Over || r.Over <= 0 {
		return 0
	}
	return r.From + (r.To-r.From)*elapsed.Seconds()/r.Over.Seconds()
}

// Due implements DuePacer.
func (r Ramp) Due(n uint64) (time.Duration, bool) { return r.at(float64(n)) }

// count is the planned number of starts by elapsed (the ramp's total
// after its end).
func (r Ramp) count(elapsed time.Duration) float64 {
	if elapsed <= 0 || r.Over <= 0 {
		return 0
	}
	if elapsed >= r.Over {
		return r.total()
	}
	d := elapsed.Seconds()
	return r.From*d + (r.To-r.From)/(2*r.Over.Seconds())*d*d
}

// total is the ramp's planned count, the trapezoid's area.
func (r Ramp) total() float64 { return (r.From + r.To) / 2 * r.Over.Seconds() }

// at returns the offset at which the planned count reaches x, if within the
// ramp (strictly before its end). Solving
//
//	N(d) = From·d + a·d² = x,   a = (To-From) / (2·Over)
//
// for the smallest d >= 0 gives d = (-From + √(From² + 4·a·x)) / (2a); it is
// computed in the form 2x / (From + √(From² + 4·a·x)), which is exact for
// a = 0 and does not cancel when a is tiny or negative.
func (r Ramp) at(x float64) (time.Duration, bool) {
	if r.Over <= 0 || !(r.From >= 0) || !(r.To >= 0) || x < 0 || !(x < r.total()) {
		return 0, false
	}
	if x == 0 {
		return 0, true
	}
	T := r.Over.Seconds()
	a := (r.To - r.From) / (2 * T)
	disc := r.From*r.From + 4*a*x
	if disc < 0 {
		return 0, false
	}
	den := r.From + math.Sqrt(disc)
	if den <= 0 {
		return 0, false
	}
	d := 2 * x / den
	if d >= T {
		return 0, false
	}
	return toDuration(d)
}

// Stages is a piecewise-linear rate: ramps played one after another, each
// starting where the previous one ended. It stops after the last one.
type Stages struct {
	ramps  []Ramp
	starts []time.Duration // offset of each ramp
	counts []float64       // planned count at each ramp's start
}

// Stage is one step of a ramping profile: the rate moves linearly to Target
// calls/s over Duration.
type Stage struct {
	// Duration is how long the ramp lasts (> 0).
	Duration time.Duration
	// Target is the rate at the end of the ramp, in calls/s (>= 0).
	Target float64
}

// NewStages builds the k6 ramping-arrival-rate profile: from start calls/s,
// each stage ramps linearly to its target over its duration.
func NewStages(start float64, stages []Stage) (*Stages, error) {
	if !(start >= 0) {
		return nil, fmt.Errorf("worker: stages: start rate must be >= 0, got %g", start)
	}
	s := &Stages{}
	from := start
	var at time.Duration
	var count float64
	for i, st := range stages {
		if st.Duration <= 0 || !(st.Target >= 0) || math.IsInf(st.Target, 0) {
			return nil, fmt.Errorf("worker: stage %d: duration must be > 0 and target >= 0, got %s and %g", i, st.Duration, st.Target)
		}
		if at > math.MaxInt64-st.Duration {
			return nil, errors.New("worker: stages: total duration overflows")
		}
		r := Ramp{From: from, To: st.Target, Over: st.Duration}
		s.ramps = append(s.ramps, r)
		s.starts = append(s.starts, at)
		s.counts = append(s.counts, count)
		at += st.Duration
		count += r.total()
		from = st.Target
	}
	return s, nil
}

// Pace implements Pacer.
func (s *Stages) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	return pace(s.Due, elapsed, started)
}

// Rate implements Pacer.
func (s *Stages) Rate(elapsed time.Duration) float64 {
	for i, r := range s.ramps {
		if d := elapsed - s.starts[i]; d >= 0 && d < r.Over {
			return r.Rate(d)
		}
	}
	return 0
}

// Due implements DuePacer.
func (s *Stages) Due(n uint64) (time.Duration, bool) { return s.at(float64(n)) }

// at finds the first ramp whose planned count passes x (a ramp at rate 0
// never does, so no call starts during a pause) and solves inside it.
func (s *Stages) at(x float64) (time.Duration, bool) {
	for i, r := range s.ramps {
		if x < s.counts[i]+r.total() {
			d, ok := r.at(max(x-s.counts[i], 0))
			if !ok {
				// Rounding put x at the very end of this ramp: it is due
				// at the ramp's end.
				d = r.Over
			}
			return s.starts[i] + d, true
		}
	}
	return 0, false
}

// count is the planned number of starts by elapsed.
func (s *Stages) count(elapsed time.Duration) float64 {
	var n float64
	for i, r := range s.ramps {
		if elapsed < s.starts[i] {
			break
		}
		n = s.counts[i] + r.count(elapsed-s.starts[i])
	}
	return n
}

// Duration is the total length of the stages.
func (s *Stages) Duration() time.Duration {
	if len(s.ramps) == 0 {
		return 0
	}
	return s.starts[len(s.starts)-1] + s.ramps[len(s.ramps)-1].Over
}

// profile is a planned rate that can be inverted at a real-valued count.
type profile interface {
	Pacer
	// at is the offset at which the planned count reaches x.
	at(x float64) (time.Duration, bool)
	// count is the planned count N(elapsed).
	count(elapsed time.Duration) float64
}

// maxPoissonJump bounds how far past the last asked index a Poisson pacer
// draws; an index further ahead is treated as never due (the scheduler asks
// for indexes one after another).
const maxPoissonJump = 1 << 26

// Poisson starts calls as a Poisson process whose intensity follows a base
// profile (Constant, Ramp or Stages): inter-arrival times are exponential at
// the planned rate. The draws come from a PCG generator seeded with Seed, so
// the same seed replays the same start times. Safe for concurrent use.
type Poisson struct {
	base profile
	seed uint64

	mu  sync.Mutex
	rng *rand.Rand
	k   uint64  // draws so far
	sum float64 // E(k)
}

// NewPoisson returns Poisson arrivals following base, which must be a
// Constant, Ramp or *Stages from this package.
func NewPoisson(base Pacer, seed uint64) (*Poisson, error) {
	p, ok := base.(profile)
	if !ok {
		return nil, fmt.Errorf("worker: poisson: unsupported base pacer %T", base)
	}
	return &Poisson{base: p, seed: seed}, nil
}

// Pace implements Pacer.
func (p *Poisson) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	return pace(p.Due, elapsed, started)
}

// Rate implements Pacer: the base profile's rate (the process's intensity).
func (p *Poisson) Rate(elapsed time.Duration) float64 { return p.base.Rate(elapsed) }

// Due implements DuePacer: call n is due when the planned count reaches
// E(n+1).
func (p *Poisson) Due(n uint64) (time.Duration, bool) {
	if n == math.MaxUint64 {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drawTo(n + 1) {
		return 0, false
	}
	return p.base.at(p.sum)
}

// drawTo advances the draws to E(want) (starting over when want is behind
// them), and reports false when want is too far ahead; p.mu is held.
func (p *Poisson) drawTo(want uint64) bool {
	if p.rng == nil || want < p.k {
		p.rng = rand.New(rand.NewPCG(p.seed, 0x9e3779b97f4a7c15))
		p.k, p.sum = 0, 0
	}
	if want-p.k > maxPoissonJump {
		return false
	}
	for p.k < want {
		p.sum += p.rng.ExpFloat64()
		p.k++
	}
	return true
}

// skip implements skipper: when calls from n on are already due at elapsed
// (the scheduler fell behind, or the pool is full), it moves the process
// past them in one step. The number of arrivals between E(n+1) and the
// planned count at elapsed is itself Poisson-distributed, and by
// memorylessness the next arrival lies one exponential draw past that
// count, so no missed slot is drawn one by one.
func (p *Poisson) skip(n uint64, elapsed time.Duration) uint64 {
	if n >= math.MaxUint64-1 {
		return n
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drawTo(n + 1) {
		return n
	}
	c := p.base.count(elapsed)
	if at, ok := p.base.at(p.sum); !ok || at > elapsed || p.sum > c {
		return n
	}
	next := n + 1 + poissonCount(p.rng, c-p.sum)
	p.k, p.sum = next+1, c+p.rng.ExpFloat64()
	return next
}

// poissonCount draws from a Poisson distribution of mean lambda: Knuth's
// product of uniforms for small means, the normal approximation (rounded,
// at least 0) for large ones, where it is accurate to well under one count
// per thousand.
func poissonCount(rng *rand.Rand, lambda float64) uint64 {
	switch {
	case !(lambda > 0):
		return 0
	case lambda < 50:
		limit, prod, k := math.Exp(-lambda), rng.Float64(), uint64(0)
		for prod > limit {
			prod *= rng.Float64()
			k++
		}
		return k
	default:
		v := math.Round(lambda + math.Sqrt(lambda)*rng.NormFloat64())
		if v <= 0 {
			return 0
		}
		if v >= math.MaxUint64/2 {
			return math.MaxUint64 / 2
		}
		return uint64(v)
	}
}

// skipper is implemented by pacers that move past every call already due
// without computing each one's instant.
type skipper interface {
	// skip returns the first call from n on that is not yet due at
	// elapsed (n itself when it is not due).
	skip(n uint64, elapsed time.Duration) uint64
}

// firstNotDue returns the first call from n on that is not due at elapsed,
// for a pacer whose Due is a pure, non-decreasing function of n: an
// exponential probe then a binary search, O(log missed) calls of due.
func firstNotDue(due func(uint64) (time.Duration, bool), n uint64, elapsed time.Duration) uint64 {
	isDue := func(m uint64) bool {
		at, ok := due(m)
		return ok && at <= elapsed
	}
	if !isDue(n) {
		return n
	}
	lo, hi := n, n // lo is due
	for step := uint64(1); ; step *= 2 {
		hi = lo + step
		if hi < lo || step == 0 { // overflow: nothing that far is due
			hi = math.MaxUint64
			break
		}
		if !isDue(hi) {
			break
		}
		lo = hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if isDue(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// skipDue returns the first call from n on that p does not have due at
// elapsed, without walking the missed calls one by one where p allows.
func skipDue(p Pacer, n uint64, elapsed time.Duration) uint64 {
	switch sp := p.(type) {
	case skipper:
		return sp.skip(n, elapsed)
	case DuePacer:
		return firstNotDue(sp.Due, n, elapsed)
	default:
		if wait, stop := p.Pace(elapsed, n); !stop && wait == 0 {
			return n + 1
		}
		return n
	}
}
