package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/loadgen/loadgen/internal/metrics/results"
)

// Window is a measured interval.
type Window struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Seconds float64   `json:"seconds"`
}

// NewWindow returns the window [from, to].
func NewWindow(from, to time.Time) Window {
	return Window{From: from, To: to, Seconds: to.Sub(from).Seconds()}
}

// ErrNoSamples is returned when a window holds too few samples to measure.
var ErrNoSamples = errors.New("bench: no samples cover the window")

// ticksAt interpolates the cumulative CPU ticks at t between the samples
// around it. Samples are in time order. ok is false when t is outside the
// sampled span (more than one sample interval's slack is not allowed: the
// caller passes the slack it tolerates).
func ticksAt(samples []Sample, t time.Time, slack time.Duration) (float64, bool) {
	if len(samples) == 0 {
		return 0, false
	}
	first, last := samples[0], samples[len(samples)-1]
	if t.Before(first.T) {
		return float64(first.CPUTicks), first.T.Sub(t) <= slack
	}
	if !t.Before(last.T) {
		return float64(last.CPUTicks), t.Sub(last.T) <= slack
	}
	i, found := slices.BinarySearchFunc(samples, t, func(s Sample, t time.Time) int { return s.T.Compare(t) })
	if found {
		return float64(samples[i].CPUTicks), true
	}
	// samples[i-1].T < t < samples[i].T (first.T < t < last.T here).
	a, b := samples[i-1], samples[i]
	span := b.T.Sub(a.T)
	if span <= 0 {
		return float64(b.CPUTicks), true
	}
	f := float64(t.Sub(a.T)) / float64(span)
	return float64(a.CPUTicks) + f*(float64(b.CPUTicks)-float64(a.CPUTicks)), true
}

// WindowCPU is the CPU seconds a sampled process used in w, with the
// cumulative tick counter interpolated linearly between samples at both
// ends; hz is the clock-tick rate and slack how far outside the sampled span
// an end may fall.
func WindowCPU(samples []Sample, w Window, hz int64, slack time.Duration) (float64, error) {
	if hz <= 0 {
		return 0, fmt.Errorf("bench: clock ticks %d", hz)
	}
	a, okA := ticksAt(samples, w.From, slack)
	b, okB := ticksAt(samples, w.To, slack)
	if !okA || !okB || !w.To.After(w.From) {
		return 0, ErrNoSamples
	}
	return (b - a) / float64(hz), nil
}

// WindowMedian is the median of f over the samples taken in w (NaN when none).
func WindowMedian(samples []Sample, w Window, f func(Sample) float64) float64 {
	var vs []float64
	for _, s := range samples {
		if !s.T.Before(w.From) && !s.T.After(w.To) {
			vs = append(vs, f(s))
		}
	}
	return median(vs)
}

// WindowMax is the largest f over the samples taken in w (NaN when none).
func WindowMax(samples []Sample, w Window, f func(Sample) float64) float64 {
	m := math.NaN()
	for _, s := range samples {
		if !s.T.Before(w.From) && !s.T.After(w.To) {
			if v := f(s); math.IsNaN(m) || v > m {
				m = v
			}
		}
	}
	return m
}

// median of vs (NaN when empty); vs is reordered.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// Scrape is one reading of the generator's /metrics.
type Scrape struct {
	T          time.Time `json:"t"`
	Goroutines float64   `json:"goroutines"`
}

// ScrapeMedian is the median goroutine count of the scrapes in w, or of the
// one nearest to its middle when none falls inside (NaN when there is none).
func ScrapeMedian(scrapes []Scrape, w Window) float64 {
	var vs []float64
	for _, s := range scrapes {
		if !s.T.Before(w.From) && !s.T.After(w.To) {
			vs = append(vs, s.Goroutines)
		}
	}
	if len(vs) > 0 {
		return median(vs)
	}
	mid := w.From.Add(w.To.Sub(w.From) / 2)
	best, bestD := math.NaN(), time.Duration(math.MaxInt64)
	for _, s := range scrapes {
		d := s.T.Sub(mid)
		if d < 0 {
			d = -d
		}
		if d < bestD {
			best, bestD = s.Goroutines, d
		}
	}
	return best
}

// mediaSpan is when a call carried media: from DTLS connected (media is
// paced from the moment the connection is up) to the moment it began to
// end; ok is false for a call that never had media.
func mediaSpan(c *results.CallLine) (from, to time.Time, ok bool) {
	if c.Media == nil || c.EndBegan == nil {
		return time.Time{}, time.Time{}, false
	}
	p, ok := c.Phases["dtls"]
	if !ok {
		if p, ok = c.Phases["media"]; !ok {
			return time.Time{}, time.Time{}, false
		}
	}
	from, to = p.At, *c.EndBegan
	return from, to, to.After(from)
}

// PacketsInWindow estimates the RTP packets (sent + received) the calls
// carried during w. A call's statistics are only known once it ends, so
// each call's packets are spread evenly over its media span (DTLS
// connected → began to end) and the share that overlaps w is counted. RTP
// is paced at a constant rate, so the estimate is good to a packet or two
// per call at the span's edges.
func PacketsInWindow(calls []results.CallLine, w Window) float64 {
	var total float64
	for i := range calls {
		from, to, ok := mediaSpan(&calls[i])
		if !ok {
			continue
		}
		lo, hi := maxTime(from, w.From), minTime(to, w.To)
		if !hi.After(lo) {
			continue
		}
		pkts := float64(calls[i].Media.PacketsSent + calls[i].Media.PacketsReceived)
		total += pkts * float64(hi.Sub(lo)) / float64(to.Sub(from))
	}
	return total
}

// LateWritesInWindow sums the late media writes of the calls that had a
// late write within w (between their first and last late write, which is
// exact for the usual single late frame).
func LateWritesInWindow(calls []results.CallLine, w Window) uint64 {
	var n uint64
	for i := range calls {
		m := calls[i].Media
		if m == nil || m.LateWrites == 0 {
			continue
		}
		first, last := m.FirstLateWrite, m.LastLateWrite
		if first.IsZero() || last.IsZero() {
			n += m.LateWrites // not placed in time: count it
			continue
		}
		if !first.After(w.To) && !last.Before(w.From) {
			n += m.LateWrites
		}
	}
	return n
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// AllUp returns when the last call got its first media (upAt) and when the
// first call began to end (firstEnd): all calls were up together in
// [upAt, firstEnd]. It fails when no call reached media or none ended.
func AllUp(calls []results.CallLine) (upAt, firstEnd time.Time, err error) {
	for i := range calls {
		c := &calls[i]
		if p, ok := c.Phases["media"]; ok && p.At.After(upAt) {
			upAt = p.At
		}
		if c.EndBegan != nil && (firstEnd.IsZero() || c.EndBegan.Before(firstEnd)) {
			firstEnd = *c.EndBegan
		}
	}
	if upAt.IsZero() {
		return upAt, firstEnd, errors.New("bench: no call reached media")
	}
	if firstEnd.IsZero() {
		return upAt, firstEnd, errors.New("bench: no call ended")
	}
	return upAt, firstEnd, nil
}

// SteadyWindow places the steady window: settle after every call is up,
// lasting want, cut short if a call began to end first. full reports
// whether it got the whole length.
func SteadyWindow(upAt, firstEnd time.Time, settle, want time.Duration) (w Window, full bool) {
	from := upAt.Add(settle)
	to := from.Add(want)
	full = !to.After(firstEnd)
	if !full {
		to = firstEnd
	}
	if to.Before(from) {
		to = from
	}
	return NewWindow(from, to), full
}

// perUnit returns (total − base) / n, or NaN when n is not positive or a
// value is missing; used for every "per call" and "per packet" figure.
func perUnit(total, base, n float64) float64 {
	if n <= 0 || math.IsNaN(total) || math.IsNaN(base) {
		return math.NaN()
	}
	return (total - base) / n
}

// ratio is b / a, NaN when either is missing or a is not positive.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || a <= 0 {
		return math.NaN()
	}
	return b / a
}
