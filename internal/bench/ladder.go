package bench

import (
	"context"
	"fmt"
	"time"
)

// Climb runs the levels of a ladder in order and stops after the first one
// that does not pass (there is no point offering more load to a generator
// that already failed), or when ctx ends. It returns the results of the
// levels that ran.
func Climb[L, R any](ctx context.Context, levels []L, run func(context.Context, L) (R, bool)) []R {
	var out []R
	for _, l := range levels {
		if ctx.Err() != nil {
			break
		}
		r, ok := run(ctx, l)
		out = append(out, r)
		if !ok {
			break
		}
	}
	return out
}

// SetupCriteria are what a setup step must meet.
type SetupCriteria struct {
	// MaxConnectP99 bounds p99 of the connect phase from the scheduled
	// start; MaxLagP99 bounds p99 of scheduler lag.
	MaxConnectP99, MaxLagP99 time.Duration
}

// JudgeSetup sets s.Pass and s.Reasons: the step ran to the end, no call
// failed, was aborted or dropped, and connect and lag p99 are under the
// criteria.
func JudgeSetup(s *SetupStep, c SetupCriteria) {
	var why []string
	if s.Error != "" {
		why = append(why, s.Error)
	}
	why = append(why, callReasons(s.Calls)...)
	if us := c.MaxConnectP99.Microseconds(); s.ConnectP99US >= us {
		why = append(why, fmt.Sprintf("connect p99 %s >= %s", usText(s.ConnectP99US), c.MaxConnectP99))
	}
	if us := c.MaxLagP99.Microseconds(); s.LagP99US >= us {
		why = append(why, fmt.Sprintf("lag p99 %s >= %s", usText(s.LagP99US), c.MaxLagP99))
	}
	s.Reasons = why
	s.Pass = len(why) == 0
}

// JudgeSteady sets s.Pass and s.Reasons: every one of the N calls
// succeeded, they were all up together for the whole window, and no packet
// was lost, late or from the wrong stream.
func JudgeSteady(s *SteadyStep) {
	var why []string
	if s.Error != "" {
		why = append(why, s.Error)
	}
	why = append(why, callReasons(s.Calls)...)
	if s.Calls.Succeeded != uint64(s.N) {
		why = append(why, fmt.Sprintf("%d of %d calls succeeded", s.Calls.Succeeded, s.N))
	}
	if s.Error == "" && !s.Full {
		why = append(why, fmt.Sprintf("the %d calls were up together for only %.1fs of the window", s.N, s.Window.Seconds))
	}
	m := s.Media
	if m.PacketsLost > 0 {
		why = append(why, fmt.Sprintf("%d packets lost", m.PacketsLost))
	}
	if s.LateWritesInWindow > 0 {
		why = append(why, fmt.Sprintf("%d late media writes in the window", s.LateWritesInWindow))
	}
	if m.IntegrityFailures > 0 {
		why = append(why, fmt.Sprintf("%d calls received the wrong stream", m.IntegrityFailures))
	}
	if s.Error == "" && m.PacketsReceived == 0 {
		why = append(why, "no media received")
	}
	s.Reasons = why
	s.Pass = len(why) == 0
}

// callReasons lists the call counters that fail a step.
func callReasons(c Calls) []string {
	var why []string
	if c.Attempted == 0 {
		why = append(why, "no call attempted")
	}
	if c.Failed > 0 {
		why = append(why, fmt.Sprintf("%d calls failed", c.Failed))
	}
	if c.Aborted > 0 {
		why = append(why, fmt.Sprintf("%d calls aborted", c.Aborted))
	}
	if c.Dropped > 0 {
		why = append(why, fmt.Sprintf("%d starts dropped", c.Dropped))
	}
	if c.InProgress > 0 {
		why = append(why, fmt.Sprintf("%d calls still in progress at the end", c.InProgress))
	}
	return why
}

// usText formats microseconds for a reason.
func usText(us int64) string {
	return (time.Duration(us) * time.Microsecond).String()
}

// DeriveSetup computes a setup step's derived figures from its raw ones
// (CPUSeconds, Window, Calls) and the idle generator's CPU rate.
func DeriveSetup(s *SetupStep, idle *IdleStep) {
	idleRate := NaN()
	if idle != nil {
		idleRate = idle.CPURate
	}
	s.IdleCPUSeconds = Float(float64(idleRate) * s.Window.Seconds)
	s.CPUMsPerCall = Float(1000 * perUnit(float64(s.CPUSeconds), float64(s.IdleCPUSeconds), float64(s.Calls.Attempted)))
	s.GeneratorCPU = Float(perUnit(float64(s.CPUSeconds), 0, s.Window.Seconds))
}

// DeriveSteady computes a steady step's derived figures from its raw ones
// (CPUSeconds, Packets, Window and the medians) and the idle generator.
func DeriveSteady(s *SteadyStep, idle *IdleStep) {
	base := IdleStep{CPURate: NaN(), RSSKB: NaN(), Goroutines: NaN(), FDs: NaN(), Threads: NaN()}
	if idle != nil {
		base = *idle
	}
	n := float64(s.N)
	s.IdleCPUSeconds = Float(float64(base.CPURate) * s.Window.Seconds)
	s.GeneratorCPU = Float(perUnit(float64(s.CPUSeconds), 0, s.Window.Seconds))
	s.PacketRate = Float(perUnit(float64(s.Packets), 0, s.Window.Seconds))
	s.CPUUsPerPacket = Float(1e6 * perUnit(float64(s.CPUSeconds), float64(s.IdleCPUSeconds), float64(s.Packets)))
	s.RSSKBPerCall = Float(perUnit(float64(s.RSSKB), float64(base.RSSKB), n))
	s.GoroutinesPerCall = Float(perUnit(float64(s.Goroutines), float64(base.Goroutines), n))
	s.FDsPerCall = Float(perUnit(float64(s.FDs), float64(base.FDs), n))
	s.ThreadsPerCall = Float(perUnit(float64(s.Threads), float64(base.Threads), n))
}

// MaxSetupRate is the highest rate among the passing steps (0: none).
func MaxSetupRate(steps []SetupStep) float64 {
	var m float64
	for _, s := range steps {
		if s.Pass && s.Rate > m {
			m = s.Rate
		}
	}
	return m
}

// MaxSteadyCalls is the highest N among the passing steps (0: none).
func MaxSteadyCalls(steps []SteadyStep) int {
	var m int
	for _, s := range steps {
		if s.Pass && s.N > m {
			m = s.N
		}
	}
	return m
}

// GatewayBoundShare is the share of the gateway's CPUs at or above which a
// failing step is gateway-bound: the built-in gateway, not the generator,
// was the bottleneck, so the step says nothing about the generator's limit.
const GatewayBoundShare = 0.9

// gatewayBound reports whether a step that did not pass had its gateway at
// GatewayBoundShare or more of the gwCPUs CPUs it could run on, and says so.
func gatewayBound(r RunInfo, pass bool, gwCPUs int) (bool, string) {
	if pass || gwCPUs <= 0 || !r.GatewayCPU.Valid() || float64(r.GatewayCPU) < GatewayBoundShare*float64(gwCPUs) {
		return false, ""
	}
	return true, fmt.Sprintf("gateway-bound: the gateway used %s of its %d CPU(s) (>= %.0f%%)", pct(r.GatewayCPU), gwCPUs, 100*GatewayBoundShare)
}

// MarkSetupGatewayBound sets s.GatewayBound, after JudgeSetup, when the
// step failed with its gateway saturated (see GatewayBoundShare); gwCPUs is
// how many CPUs the gateway could run on. The reason is added to s.Reasons.
func MarkSetupGatewayBound(s *SetupStep, gwCPUs int) {
	var why string
	s.GatewayBound, why = gatewayBound(s.RunInfo, s.Pass, gwCPUs)
	if s.GatewayBound {
		s.Reasons = append(s.Reasons, why)
	}
}

// MarkSteadyGatewayBound is MarkSetupGatewayBound for a steady step, after
// JudgeSteady.
func MarkSteadyGatewayBound(s *SteadyStep, gwCPUs int) {
	var why string
	s.GatewayBound, why = gatewayBound(s.RunInfo, s.Pass, gwCPUs)
	if s.GatewayBound {
		s.Reasons = append(s.Reasons, why)
	}
}

// SetupGatewayBound is the rate of the first failing setup step that was
// gateway-bound (0: none): the ladder stopped there without reaching the
// generator's limit.
func SetupGatewayBound(steps []SetupStep) float64 {
	for _, s := range steps {
		if !s.Pass && s.GatewayBound {
			return s.Rate
		}
	}
	return 0
}

// SteadyGatewayBound is the N of the first failing steady step that was
// gateway-bound (0: none).
func SteadyGatewayBound(steps []SteadyStep) int {
	for _, s := range steps {
		if !s.Pass && s.GatewayBound {
			return s.N
		}
	}
	return 0
}
