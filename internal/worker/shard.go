package worker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Shard is one process's share of a run split over Count processes (the
// pods of a Kubernetes Indexed Job): shard Index runs 1/Count of the load,
// and the union of every shard's calls is the one run's schedule.
//
// Calls keep their global numbers: this shard's k-th call (from 0) is call
// k·Count + Index of the run, so call numbers ({n} in user and token
// templates) never collide across shards.
type Shard struct {
	// Index is this shard's number, 0 <= Index < Count.
	Index int
	// Count is the number of shards (>= 1).
	Count int
}

// Unsharded is the whole run in one process.
var Unsharded = Shard{Index: 0, Count: 1}

// ParseShard parses "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want I/N, for example 0/3", s)
	}
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	cnt, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N with whole numbers, for example 0/3", s)
	}
	sh := Shard{Index: idx, Count: cnt}
	if err := sh.Validate(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

// Validate checks 0 <= Index < Count.
func (s Shard) Validate() error {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 <= I < N and N >= 1", s.Index, s.Count)
	}
	return nil
}

// String is "I/N".
func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// norm returns s, with the zero value meaning Unsharded.
func (s Shard) norm() Shard {
	if s.Count == 0 {
		return Unsharded
	}
	return s
}

// Global is the run-wide number of this shard's k-th call.
func (s Shard) Global(k uint64) uint64 {
	s = s.norm()
	return k*uint64(s.Count) + uint64(s.Index)
}

// Local is the number of this shard's calls whose global number is below
// g: how many of the run's first g calls are this shard's.
func (s Shard) Local(g uint64) uint64 {
	s = s.norm()
	if g <= uint64(s.Index) {
		return 0
	}
	return (g-uint64(s.Index)-1)/uint64(s.Count) + 1
}

// Share splits a whole count (the closed model's concurrency) exactly:
// the shares of all shards add up to total, and differ by at most one.
func (s Shard) Share(total int) int {
	s = s.norm()
	n := total / s.Count
	if s.Index < total%s.Count {
		n++
	}
	return n
}

// Seed derives this shard's random seed from the run's (SplitMix64 of both),
// so Poisson shards draw independent streams that replay.
func (s Shard) Seed(seed uint64) uint64 {
	s = s.norm()
	if s.Count == 1 {
		return seed
	}
	z := seed ^ (uint64(s.Index)+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// UniformPacer returns this shard's part of uniform arrivals: every
// Count-th start of the whole run's schedule, from the Index-th, at the
// instant the whole schedule has it. The shards interleave by phase, and
// their union is exactly the unsharded schedule.
func (s Shard) UniformPacer(p DuePacer) Pacer {
	s = s.norm()
	if s.Count == 1 {
		return p
	}
	return shardPacer{base: p, shard: s}
}

// shardPacer is one shard's part of a uniform schedule.
type shardPacer struct {
	base  DuePacer
	shard Shard
}

// Pace implements Pacer.
func (p shardPacer) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	return pace(p.Due, elapsed, started)
}

// Rate implements Pacer: this shard's part of the planned rate.
func (p shardPacer) Rate(elapsed time.Duration) float64 {
	return p.base.Rate(elapsed) / float64(p.shard.Count)
}

// Due implements DuePacer: this shard's call k is the run's call
// Global(k).
func (p shardPacer) Due(k uint64) (time.Duration, bool) {
	if k > (math.MaxUint64-uint64(p.shard.Index))/uint64(p.shard.Count) {
		return 0, false
	}
	return p.base.Due(p.shard.Global(k))
}

// Scale returns base (a Constant, Ramp or *Stages from this package) with
// its rate multiplied by f > 0: the intensity of one of 1/f superposed
// Poisson shards.
func Scale(base Pacer, f float64) (Pacer, error) {
	pr, ok := base.(profile)
	if !ok || !(f > 0) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("worker: scale: need a Constant, Ramp or Stages and a factor > 0, got %T and %g", base, f)
	}
	if f == 1 {
		return base, nil
	}
	return scaled{base: pr, f: f}, nil
}

// scaled is a profile at f times its base's rate.
type scaled struct {
	base profile
	f    float64
}

// Pace implements Pacer.
func (s scaled) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	return pace(s.Due, elapsed, started)
}

// Rate implements Pacer.
func (s scaled) Rate(elapsed time.Duration) float64 { return s.base.Rate(elapsed) * s.f }

// Due implements DuePacer.
func (s scaled) Due(n uint64) (time.Duration, bool) { return s.at(float64(n)) }

func (s scaled) at(x float64) (time.Duration, bool)  { return s.base.at(x / s.f) }
func (s scaled) count(elapsed time.Duration) float64 { return s.base.count(elapsed) * s.f }
