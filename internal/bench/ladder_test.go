package bench

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
)

func TestClimb(t *testing.T) {
	tests := []struct {
		name    string
		levels  []int
		failAt  int // the level that fails (0: none)
		cancel  int // cancel the context after running this level (0: never)
		wantRan []int
	}{
		{name: "all pass", levels: []int{10, 20, 40}, wantRan: []int{10, 20, 40}},
		{name: "stops after the first failure", levels: []int{10, 20, 40, 80}, failAt: 20, wantRan: []int{10, 20}},
		{name: "first fails", levels: []int{10, 20}, failAt: 10, wantRan: []int{10}},
		{name: "last fails", levels: []int{10, 20}, failAt: 20, wantRan: []int{10, 20}},
		{name: "cancelled", levels: []int{10, 20, 40}, cancel: 10, wantRan: []int{10}},
		{name: "empty ladder", levels: nil, wantRan: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := Climb(ctx, tt.levels, func(_ context.Context, l int) (int, bool) {
				if l == tt.cancel {
					cancel()
				}
				return l, l != tt.failAt
			})
			if !slices.Equal(got, tt.wantRan) {
				t.Errorf("Climb() ran %v, want %v", got, tt.wantRan)
			}
		})
	}
}

func TestJudgeSetup(t *testing.T) {
	crit := SetupCriteria{MaxConnectP99: 250 * time.Millisecond, MaxLagP99: 5 * time.Millisecond}
	ok := Calls{Attempted: 100, Succeeded: 100}
	tests := []struct {
		name     string
		step     SetupStep
		wantPass bool
		wantWhy  []string
	}{
		{name: "pass", step: SetupStep{Calls: ok, ConnectP99US: 249999, LagP99US: 4999}, wantPass: true},
		{name: "connect at the bound", step: SetupStep{Calls: ok, ConnectP99US: 250000, LagP99US: 10},
			wantWhy: []string{"connect p99 250ms >= 250ms"}},
		{name: "lag", step: SetupStep{Calls: ok, ConnectP99US: 10, LagP99US: 90000}, wantWhy: []string{"lag p99 90ms >= 5ms"}},
		{name: "failed and dropped", step: SetupStep{Calls: Calls{Attempted: 100, Succeeded: 97, Failed: 3, Dropped: 2}},
			wantWhy: []string{"3 calls failed", "2 starts dropped"}},
		{name: "aborted and in progress", step: SetupStep{Calls: Calls{Attempted: 10, Aborted: 1, InProgress: 4}},
			wantWhy: []string{"1 calls aborted", "4 calls still in progress at the end"}},
		{name: "no call", step: SetupStep{}, wantWhy: []string{"no call attempted"}},
		{name: "child error", step: SetupStep{RunInfo: RunInfo{Error: "bench: generator exited with status 1"}, Calls: ok},
			wantWhy: []string{"bench: generator exited with status 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.step
			JudgeSetup(&s, crit)
			if s.Pass != tt.wantPass || !slices.Equal(s.Reasons, tt.wantWhy) {
				t.Errorf("JudgeSetup() = %v %q, want %v %q", s.Pass, s.Reasons, tt.wantPass, tt.wantWhy)
			}
		})
	}
}

func TestJudgeSteady(t *testing.T) {
	good := SteadyStep{N: 50, Calls: Calls{Attempted: 50, Succeeded: 50}, Full: true,
		Media: metrics.MediaTotals{PacketsSent: 1000, PacketsReceived: 1000}}
	tests := []struct {
		name     string
		edit     func(*SteadyStep)
		wantPass bool
		wantWhy  string // substring of the joined reasons
	}{
		{name: "pass", edit: func(*SteadyStep) {}, wantPass: true},
		{name: "loss", edit: func(s *SteadyStep) { s.Media.PacketsLost = 3 }, wantWhy: "3 packets lost"},
		{name: "late writes", edit: func(s *SteadyStep) { s.Media.LateWrites = 1; s.LateWritesInWindow = 1 }, wantWhy: "1 late media writes in the window"},
		{name: "wrong stream", edit: func(s *SteadyStep) { s.Media.IntegrityFailures = 2 }, wantWhy: "2 calls received the wrong stream"},
		{name: "not all up", edit: func(s *SteadyStep) { s.Calls.Succeeded, s.Calls.Failed = 48, 2 },
			wantWhy: "2 calls failed; 48 of 50 calls succeeded"},
		{name: "window short", edit: func(s *SteadyStep) { s.Full, s.Window.Seconds = false, 12.5 },
			wantWhy: "up together for only 12.5s"},
		{name: "no media", edit: func(s *SteadyStep) { s.Media = metrics.MediaTotals{} }, wantWhy: "no media received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.edit(&s)
			JudgeSteady(&s)
			why := strings.Join(s.Reasons, "; ")
			if s.Pass != tt.wantPass || (tt.wantWhy != "" && !strings.Contains(why, tt.wantWhy)) {
				t.Errorf("JudgeSteady() = %v %q, want %v with %q", s.Pass, why, tt.wantPass, tt.wantWhy)
			}
		})
	}
}

func TestDeriveSetup(t *testing.T) {
	tests := []struct {
		name       string
		cpu        Float
		window     float64
		calls      uint64
		idle       *IdleStep
		wantMs     float64
		wantGenCPU float64
	}{
		// 1.0 s of CPU over 10 s, idle 0.005 CPU => 0.05 s idle; 0.95 s / 300 calls.
		{name: "idle subtracted", cpu: 1, window: 10, calls: 300, idle: &IdleStep{CPURate: 0.005}, wantMs: 950.0 / 300, wantGenCPU: 0.1},
		{name: "zero idle", cpu: 0.6, window: 3, calls: 200, idle: &IdleStep{CPURate: 0}, wantMs: 3, wantGenCPU: 0.2},
		{name: "no idle measured", cpu: 0.6, window: 3, calls: 200, idle: nil, wantMs: math.NaN(), wantGenCPU: 0.2},
		{name: "no call", cpu: 0.6, window: 3, calls: 0, idle: &IdleStep{}, wantMs: math.NaN(), wantGenCPU: 0.2},
		{name: "CPU not measured", cpu: NaN(), window: 3, calls: 10, idle: &IdleStep{}, wantMs: math.NaN(), wantGenCPU: math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SetupStep{CPUSeconds: tt.cpu, Window: Window{Seconds: tt.window}, Calls: Calls{Attempted: tt.calls}}
			DeriveSetup(&s, tt.idle)
			if !near(float64(s.CPUMsPerCall), tt.wantMs) || !near(float64(s.GeneratorCPU), tt.wantGenCPU) {
				t.Errorf("DeriveSetup() = %g ms/call, %g CPU; want %g, %g", s.CPUMsPerCall, s.GeneratorCPU, tt.wantMs, tt.wantGenCPU)
			}
		})
	}
}

func TestDeriveSteady(t *testing.T) {
	idle := &IdleStep{CPURate: 0.01, RSSKB: 20000, Goroutines: 12, FDs: 30, Threads: 6}
	s := SteadyStep{N: 100, CPUSeconds: 2.1, Packets: 200000, Window: Window{Seconds: 10},
		RSSKB: 40000, Goroutines: 1412, FDs: 230, Threads: 8}
	DeriveSteady(&s, idle)
	tests := []struct {
		name      string
		got, want float64
	}{
		{"idle cpu seconds", float64(s.IdleCPUSeconds), 0.1},
		{"generator cpu", float64(s.GeneratorCPU), 0.21},
		{"packet rate", float64(s.PacketRate), 20000},
		{"cpu µs per packet", float64(s.CPUUsPerPacket), 10}, // (2.1 - 0.1) s / 200000
		{"rss KB per call", float64(s.RSSKBPerCall), 200},
		{"goroutines per call", float64(s.GoroutinesPerCall), 14},
		{"fds per call", float64(s.FDsPerCall), 2},
		{"threads per call", float64(s.ThreadsPerCall), 0.02},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want) && math.Abs(tt.got-tt.want) > 1e-9*math.Abs(tt.want) {
			t.Errorf("DeriveSteady() %s = %g, want %g", tt.name, tt.got, tt.want)
		}
	}
	empty := SteadyStep{N: 10, CPUSeconds: NaN(), Packets: NaN(), RSSKB: NaN(), Goroutines: NaN(), FDs: NaN(), Threads: NaN()}
	DeriveSteady(&empty, nil)
	for name, f := range map[string]Float{"cpu/packet": empty.CPUUsPerPacket, "rss/call": empty.RSSKBPerCall, "goroutines/call": empty.GoroutinesPerCall} {
		if f.Valid() {
			t.Errorf("DeriveSteady(nothing measured) %s = %g, want not measured", name, f)
		}
	}
}

func TestMaxPassing(t *testing.T) {
	setup := []SetupStep{{Rate: 10, Pass: true}, {Rate: 25, Pass: true}, {Rate: 50, Pass: false}}
	if got := MaxSetupRate(setup); got != 25 {
		t.Errorf("MaxSetupRate() = %g, want 25", got)
	}
	if got := MaxSetupRate([]SetupStep{{Rate: 10}}); got != 0 {
		t.Errorf("MaxSetupRate(none passed) = %g, want 0", got)
	}
	steady := []SteadyStep{{N: 50, Pass: true}, {N: 100, Pass: false}}
	if got := MaxSteadyCalls(steady); got != 50 {
		t.Errorf("MaxSteadyCalls() = %d, want 50", got)
	}
}

func TestGatewayBound(t *testing.T) {
	failed := []string{"3 calls failed"}
	tests := []struct {
		name    string
		gwCPU   Float
		pass    bool
		gwCPUs  int
		want    bool
		wantWhy []string
	}{
		{name: "failed, gateway saturated", gwCPU: 0.95, gwCPUs: 1, want: true,
			wantWhy: []string{"3 calls failed", "gateway-bound: the gateway used 95% of its 1 CPU(s) (>= 90%)"}},
		{name: "failed, gateway at the bound", gwCPU: 0.9, gwCPUs: 1, want: true,
			wantWhy: []string{"3 calls failed", "gateway-bound: the gateway used 90% of its 1 CPU(s) (>= 90%)"}},
		{name: "failed, gateway below the bound", gwCPU: 0.89, gwCPUs: 1, wantWhy: failed},
		{name: "failed, gateway on 8 CPUs, 1.5 busy", gwCPU: 1.5, gwCPUs: 8, wantWhy: failed},
		{name: "failed, gateway on 8 CPUs, 7.5 busy", gwCPU: 7.5, gwCPUs: 8, want: true,
			wantWhy: []string{"3 calls failed", "gateway-bound: the gateway used 750% of its 8 CPU(s) (>= 90%)"}},
		{name: "passed, gateway saturated", gwCPU: 1, pass: true, gwCPUs: 1},
		{name: "failed, gateway not measured", gwCPU: NaN(), gwCPUs: 1, wantWhy: failed},
		{name: "failed, no CPU count", gwCPU: 1, gwCPUs: 0, wantWhy: failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var why []string
			if !tt.pass {
				why = slices.Clone(failed)
			}
			setup := SetupStep{RunInfo: RunInfo{GatewayCPU: tt.gwCPU}, Rate: 50, Pass: tt.pass, Reasons: why}
			MarkSetupGatewayBound(&setup, tt.gwCPUs)
			if setup.GatewayBound != tt.want || !slices.Equal(setup.Reasons, tt.wantWhy) {
				t.Errorf("MarkSetupGatewayBound() = %v %q, want %v %q", setup.GatewayBound, setup.Reasons, tt.want, tt.wantWhy)
			}
			steady := SteadyStep{RunInfo: RunInfo{GatewayCPU: tt.gwCPU}, N: 100, Pass: tt.pass, Reasons: slices.Clone(why)}
			MarkSteadyGatewayBound(&steady, tt.gwCPUs)
			if steady.GatewayBound != tt.want || !slices.Equal(steady.Reasons, tt.wantWhy) {
				t.Errorf("MarkSteadyGatewayBound() = %v %q, want %v %q", steady.GatewayBound, steady.Reasons, tt.want, tt.wantWhy)
			}
		})
	}
}

func TestLadderLimit(t *testing.T) {
	gw := func(s SetupStep) SetupStep { s.GatewayBound = true; return s }
	tests := []struct {
		name          string
		setup         []SetupStep
		wantMax, want float64 // highest passing rate, gateway-bound rate
		wantText      string  // the table's limit line
	}{
		{name: "generator limit", setup: []SetupStep{{Rate: 10, Pass: true}, {Rate: 25}},
			wantMax: 10, wantText: "lean pion: highest rate sustained 10 calls/s\n"},
		{name: "gateway-bound", setup: []SetupStep{{Rate: 10, Pass: true}, gw(SetupStep{Rate: 25})},
			wantMax: 10, want: 25, wantText: "lean pion: highest rate sustained 10 calls/s; limit not reached: gateway-bound at 25/s\n"},
		{name: "gateway-bound at the first rate", setup: []SetupStep{gw(SetupStep{Rate: 10})},
			want: 10, wantText: "lean pion: highest rate sustained none; limit not reached: gateway-bound at 10/s\n"},
		{name: "top of the ladder", setup: []SetupStep{{Rate: 10, Pass: true}, {Rate: 25, Pass: true}},
			wantMax: 25, wantText: "lean pion: highest rate sustained 25 calls/s\n"},
		{name: "first rate failed", setup: []SetupStep{{Rate: 10}},
			wantText: "lean pion: highest rate sustained none (the first rate failed)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaxSetupRate(tt.setup); got != tt.wantMax {
				t.Errorf("MaxSetupRate() = %g, want %g", got, tt.wantMax)
			}
			if got := SetupGatewayBound(tt.setup); got != tt.want {
				t.Errorf("SetupGatewayBound() = %g, want %g", got, tt.want)
			}
			p := Pass{Mode: ModeLean, Setup: tt.setup, MaxSetupRate: MaxSetupRate(tt.setup), SetupGatewayBoundAt: SetupGatewayBound(tt.setup)}
			r := &Result{Options: Options{SetupRates: []float64{10, 25}}, Passes: []Pass{p}}
			var buf bytes.Buffer
			if err := r.WriteTable(&buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), tt.wantText) {
				t.Errorf("WriteTable() lacks %q:\n%s", tt.wantText, buf.String())
			}
			if tt.want > 0 && !strings.Contains(buf.String(), "gw-bound") {
				t.Errorf("WriteTable() does not mark the step gw-bound:\n%s", buf.String())
			}
		})
	}
	steady := []SteadyStep{{N: 50, Pass: true}, {N: 100, RunInfo: RunInfo{GatewayBound: true}}}
	if got := SteadyGatewayBound(steady); got != 100 {
		t.Errorf("SteadyGatewayBound() = %d, want 100", got)
	}
	if got := SteadyGatewayBound(steady[:1]); got != 0 {
		t.Errorf("SteadyGatewayBound(all passed) = %d, want 0", got)
	}
}
