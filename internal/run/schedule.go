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
		return base, nil
	case scenario.ArrivalsPoisson:
		p, err := worker.NewPoisson(base, l.Seed)
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
	cfg := worker.Config{Duration: l.TotalDuration(), MaxCalls: l.MaxCalls}
	if l.Closed() {
		cfg.Concurrent = l.Concurrent
		return cfg, nil
	}
	p, err := newPacer(l)
	if err != nil {
		return worker.Config{}, err
	}
	cfg.Pacer, cfg.MaxConcurrent = p, l.MaxConcurrent
	return cfg, nil
}
