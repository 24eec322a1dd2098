package run

import (
	"fmt"

	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/worker"
)

// newPacer builds the pacer of a scenario's open load model: Constant or
// Stages, wrapped in Poisson for arrivals: poisson. It fails for the closed
// model, which has no pacer.
func newPacer(l scenario.LoadModel) (worker.Pacer, error) {
	return newShardPacer(l, worker.Unsharded)
}

// newShardPacer builds shard's pacer of the open load model: uniform
// arrivals take every Count-th start of the whole schedule (phase
// interleaved); Poisson arrivals run at 1/Count of the rate with a seed
// derived from (seed, shard), so the shards' streams superpose into one
// Poisson process at the full rate.
func newShardPacer(l scenario.LoadModel, shard worker.Shard) (worker.Pacer, error) {
	if l.Closed() {
		return nil, fmt.Errorf("run: the closed model (concurrent) has no pacer")
	}
	var base worker.Pacer = worker.Constant{PerSecond: l.Rate}
	if len(l.Stages) > 0 {
		stages := make([]worker.Stage, len(l.Stages))
		for i, st := range l.Stages {
			stages[i] = worker.Stage{Duration: st.Duration, Target: st.Target}
		}
		s, err := worker.NewStages(l.Rate, stages)
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		base = s
	}
	switch l.Arrivals {
	case scenario.ArrivalsUniform, "":
		return shard.UniformPacer(base.(worker.DuePacer)), nil
	case scenario.ArrivalsPoisson:
		scaled, err := worker.Scale(base, 1/float64(shard.Count))
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		p, err := worker.NewPoisson(scaled, shard.Seed(l.Seed))
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		return p, nil
	default:
		return nil, fmt.Errorf("run: unknown arrivals %q", l.Arrivals)
	}
}

// Schedule builds the load engine's configuration of a validated scenario's
// load model; the run adds Call, Dropped, Grace and Clock.
func Schedule(l scenario.LoadModel) (worker.Config, error) {
	return ShardSchedule(l, worker.Unsharded)
}

// ShardSchedule is Schedule for shard's share of the load: the open
// model's arrivals split so that the shards' union is the one schedule,
// the closed model's concurrency split exactly, max_calls split exactly
// (the scheduler runs the shard's calls among the run's first max_calls),
// and calls numbered globally so no two shards share a call number.
func ShardSchedule(l scenario.LoadModel, shard worker.Shard) (worker.Config, error) {
	if shard.Count == 0 {
		shard = worker.Unsharded
	}
	if err := shard.Validate(); err != nil {
		return worker.Config{}, err
	}
	cfg := worker.Config{Duration: l.TotalDuration(), MaxCalls: l.MaxCalls, Shard: shard}
	if l.Closed() {
		cfg.Concurrent = shard.Share(l.Concurrent)
		return cfg, nil
	}
	p, err := newShardPacer(l, shard)
	if err != nil {
		return worker.Config{}, err
	}
	cfg.Pacer, cfg.MaxConcurrent = p, l.MaxConcurrent
	return cfg, nil
}
