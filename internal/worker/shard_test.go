package worker

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/3", Shard{0, 3}, true},
		{"2/3", Shard{2, 3}, true},
		{" 1 / 2 ", Shard{1, 2}, true},
		{"3/3", Shard{}, false},
		{"-1/3", Shard{}, false},
		{"0/0", Shard{}, false},
		{"1", Shard{}, false},
		{"a/b", Shard{}, false},
	}
	for _, tt := range tests {
		got, err := ParseShard(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestShardSplits: counts split exactly (shares add up, call numbers are
// disjoint and cover the run), whatever the total and the shard count.
func TestShardSplits(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for total := range 13 {
			sum, seen := 0, map[uint64]int{}
			for i := range n {
				s := Shard{i, n}
				sum += s.Share(total)
				for k := range s.Local(uint64(total)) {
					seen[s.Global(k)]++
				}
			}
			if sum != total || len(seen) != total {
				t.Errorf("%d shards of %d: shares add to %d, %d distinct calls", n, total, sum, len(seen))
			}
			for g, c := range seen {
				if g >= uint64(total) || c != 1 {
					t.Errorf("%d shards of %d: call %d appears %d times", n, total, g, c)
				}
			}
		}
	}
}

// TestShardUniformUnion: the union of the shards' uniform schedules is the
// unsharded schedule, instant for instant.
func TestShardUniformUnion(t *testing.T) {
	base, err := NewStages(2, []Stage{{Duration: 10 * time.Second, Target: 40}, {Duration: 10 * time.Second, Target: 5}})
	if err != nil {
		t.Fatal(err)
	}
	var want []time.Duration
	for n := uint64(0); ; n++ {
		at, ok := base.Due(n)
		if !ok {
			break
		}
		want = append(want, at)
	}
	var got []time.Duration
	var rate float64
	for i := range 3 {
		sh := Shard{i, 3}
		p := sh.UniformPacer(base).(DuePacer)
		rate += p.Rate(5 * time.Second)
		for k := uint64(0); ; k++ {
			at, ok := p.Due(k)
			if !ok {
				break
			}
			if w, _ := base.Due(sh.Global(k)); w != at {
				t.Fatalf("shard %d call %d at %v, the run has call %d at %v", i, k, at, sh.Global(k), w)
			}
			got = append(got, at)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("union of %d starts differs from the run's %d", len(got), len(want))
	}
	if r := base.Rate(5 * time.Second); math.Abs(rate-r) > 1e-9 {
		t.Errorf("shard rates add to %g, the run's is %g", rate, r)
	}
}

// TestShardPoissonSuperpose: Poisson shards at 1/N of the rate with seeds
// derived from (seed, shard) superpose into a Poisson process at the full
// rate: mean inter-arrival 1/rate, coefficient of variation 1.
func TestShardPoissonSuperpose(t *testing.T) {
	const rate, horizon, n = 50.0, 2000 * time.Second, 3
	var all []float64
	seeds := map[uint64]bool{}
	for i := range n {
		sh := Shard{i, n}
		seeds[sh.Seed(7)] = true
		scaled, err := Scale(Constant{rate}, 1.0/n)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPoisson(scaled, sh.Seed(7))
		if err != nil {
			t.Fatal(err)
		}
		for k := uint64(0); ; k++ {
			at, ok := p.Due(k)
			if !ok || at > horizon {
				break
			}
			all = append(all, at.Seconds())
		}
	}
	if len(seeds) != n {
		t.Fatalf("shard seeds %v are not distinct", seeds)
	}
	slices.Sort(all)
	var sum, sq float64
	for i := 1; i < len(all); i++ {
		d := all[i] - all[i-1]
		sum += d
		sq += d * d
	}
	m := float64(len(all) - 1)
	mean := sum / m
	cv := math.Sqrt(sq/m-mean*mean) / mean
	if math.Abs(mean*rate-1) > 0.02 || math.Abs(cv-1) > 0.03 {
		t.Errorf("union of %d arrivals: mean gap %.5f s (want %.5f), CV %.3f (want 1)", len(all), mean, 1/rate, cv)
	}
}
