package run

import (
	"fmt"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/scenario"
)

func TestNewPacer(t *testing.T) {
	tests := []struct {
		name    string
		l       scenario.LoadModel
		want    string
		wantErr bool
	}{
		{"uniform constant", scenario.LoadModel{Rate: 5, Arrivals: scenario.ArrivalsUniform}, "worker.Constant", false},
		{"uniform stages", scenario.LoadModel{Stages: []scenario.Stage{{Duration: time.Second, Target: 1}}, Arrivals: scenario.ArrivalsUniform}, "*worker.Stages", false},
		{"poisson", scenario.LoadModel{Rate: 5, Arrivals: scenario.ArrivalsPoisson}, "*worker.Poisson", false},
		{"closed", scenario.LoadModel{Concurrent: 3}, "", true},
		{"bad arrivals", scenario.LoadModel{Rate: 5, Arrivals: "bursty"}, "", true},
		{"bad stage", scenario.LoadModel{Stages: []scenario.Stage{{Duration: 0, Target: 1}}}, "", true},
	}
	for _, tt := range tests {
		p, err := newPacer(tt.l)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: newPacer() error = %v, wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil {
			if got := fmt.Sprintf("%T", p); got != tt.want {
				t.Errorf("%s: newPacer() = %s, want %s", tt.name, got, tt.want)
			}
		}
	}
}

func TestSchedule(t *testing.T) {
	cfg, err := Schedule(scenario.LoadModel{Rate: 3, Arrivals: scenario.ArrivalsUniform, Duration: time.Minute, MaxConcurrent: 9, MaxCalls: 4})
	if err != nil || cfg.Duration != time.Minute || cfg.MaxConcurrent != 9 || cfg.MaxCalls != 4 || cfg.Pacer == nil {
		t.Errorf("Schedule(open) = %+v, %v", cfg, err)
	}
	cfg, err = Schedule(scenario.LoadModel{Concurrent: 4, Duration: time.Minute})
	if err != nil || cfg.Concurrent != 4 || cfg.Pacer != nil {
		t.Errorf("Schedule(closed) = %+v, %v", cfg, err)
	}
	cfg, err = Schedule(scenario.LoadModel{Stages: []scenario.Stage{{Duration: 5 * time.Second, Target: 1}, {Duration: 5 * time.Second, Target: 1}}, Arrivals: scenario.ArrivalsUniform, MaxConcurrent: 1})
	if err != nil || cfg.Duration != 10*time.Second {
		t.Errorf("Schedule(stages) = %+v, %v", cfg, err)
	}
}
