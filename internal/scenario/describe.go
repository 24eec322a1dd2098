package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Describe returns the plan in one line, for `loadgen validate` and the
// start of a run: name, target, mode, load model with rates and ramps, cap,
// duration or call count, hold time and media (and the media engine when it
// is not the default).
func (s *Scenario) Describe() string {
	var parts []string
	target := "embedded gateway"
	if !s.Target.Embedded() {
		target = s.Target.RESTURL
		if s.Target.ICETransportPolicy == ICERelay {
			target += " (relay only)"
		}
	}
	parts = append(parts, s.Name+": "+string(s.Mode)+" calls to "+target)
	l := s.Load
	if l.Closed() {
		load := fmt.Sprintf("closed model, %d calls up", l.Concurrent)
		if l.Duration > 0 {
			load += " for " + l.Duration.String()
		}
		parts = append(parts, load)
	} else {
		load := string(l.Arrivals) + " arrivals"
		if l.Arrivals == ArrivalsPoisson {
			load += fmt.Sprintf(" (seed %d)", l.Seed)
		}
		if len(l.Stages) == 0 {
			load += " at " + rate(l.Rate)
			if l.Duration > 0 {
				load += " for " + l.Duration.String()
			}
		} else {
			from := l.Rate
			var ss []string
			for _, st := range l.Stages {
				if st.Target == from {
					ss = append(ss, rate(from)+" for "+st.Duration.String())
				} else {
					ss = append(ss, fmt.Sprintf("%s→%s over %s", trimRate(from), rate(st.Target), st.Duration))
				}
				from = st.Target
			}
			load += ": " + strings.Join(ss, ", ") + " (" + l.TotalDuration().String() + ")"
		}
		if uncapped := s.plannedCalls(); l.MaxCalls > 0 && float64(l.MaxCalls) <= uncapped {
			load += fmt.Sprintf(", %d calls (max_calls)", l.MaxCalls)
		} else {
			load += fmt.Sprintf(", ~%d calls", int64(math.Round(uncapped)))
		}
		parts = append(parts, load)
		parts = append(parts, fmt.Sprintf("cap %d in flight", l.MaxConcurrent))
	}
	if l.MaxCalls > 0 && l.Closed() {
		parts = append(parts, fmt.Sprintf("at most %d calls", l.MaxCalls))
	}
	parts = append(parts, "hold "+s.Call.Hold.String())
	media := "audio"
	if s.Call.Video {
		media = "audio+video"
	}
	if n := len(s.Call.HoldUnhold); n > 0 {
		media += ", " + plural(n, "mid-call hold")
	}
	parts = append(parts, media)
	if s.Call.EndedBy == EndedByGateway {
		parts = append(parts, "ended by the gateway")
	}
	if e := s.Call.MediaEngine; e != "" && e != DefaultMediaEngine {
		parts = append(parts, string(e)+" media engine")
	}
	if n := len(s.Thresholds); n > 0 {
		parts = append(parts, plural(n, "threshold"))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func trimRate(r float64) string { return strconv.FormatFloat(r, 'g', 4, 64) }

func rate(r float64) string { return trimRate(r) + "/s" }

// ExpectedCalls is how many calls the open model plans to start (the
// integral of the rate over the run, capped by max_calls); for the closed
// model it is max_calls, or 0 when only a duration bounds it.
func (s *Scenario) ExpectedCalls() float64 {
	l := s.Load
	n := s.plannedCalls()
	if l.MaxCalls > 0 && (n > float64(l.MaxCalls) || l.Closed()) {
		n = float64(l.MaxCalls)
	}
	return n
}

// plannedCalls is the integral of the open model's rate (+Inf when only
// max_calls bounds it; 0 for the closed model).
func (s *Scenario) plannedCalls() float64 {
	l := s.Load
	var n float64
	switch {
	case l.Closed():
		n = 0
	case len(l.Stages) == 0:
		if l.Duration > 0 {
			n = l.Rate * l.Duration.Seconds()
		} else {
			n = math.Inf(1)
		}
	default:
		from := l.Rate
		for _, st := range l.Stages {
			n += (from + st.Target) / 2 * st.Duration.Seconds()
			from = st.Target
		}
	}
	return n
}

// String describes the hold time: "10s", "uniform 5s..15s",
// "exponential mean 10s [0s..1m0s]", "normal 10s±2s [0s..∞]".
func (h Hold) String() string {
	bounds := func() string {
		hi := "∞"
		if h.Max > 0 {
			hi = h.Max.String()
		}
		return " [" + h.Min.String() + ".." + hi + "]"
	}
	switch h.Distribution {
	case DistFixed:
		return h.Fixed.String()
	case DistUniform:
		return "uniform " + h.Min.String() + ".." + h.Max.String()
	case DistExponential:
		return "exponential mean " + h.Mean.String() + bounds()
	case DistNormal:
		return "normal " + h.Mean.String() + "±" + h.StdDev.String() + bounds()
	default:
		return "unknown"
	}
}

// Sample draws one hold time from r. Samples outside [Min, Max] (Max zero:
// no upper bound) are clamped to the bounds, as the scenario documents.
func (h Hold) Sample(r *rand.Rand) time.Duration {
	var d float64
	switch h.Distribution {
	case DistFixed:
		return h.Fixed
	case DistUniform:
		return h.Min + time.Duration(r.Int64N(int64(h.Max-h.Min)+1))
	case DistExponential:
		d = r.ExpFloat64() * float64(h.Mean)
	case DistNormal:
		d = r.NormFloat64()*float64(h.StdDev) + float64(h.Mean)
	default:
		return 0
	}
	lo, hi := float64(h.Min), float64(math.MaxInt64)
	if h.Max > 0 {
		hi = float64(h.Max)
	}
	d = math.Max(lo, math.Min(hi, d))
	if d >= float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}
