package metrics

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// HistogramStats are the figures the summary prints for one histogram, in
// the histogram's unit (µs for latencies). Percentiles are HdrHistogram's:
// the highest value equivalent to the one at that rank.
type HistogramStats struct {
	Count   int64   `json:"count"`
	Min     int64   `json:"min"`
	Mean    float64 `json:"mean"`
	P50     int64   `json:"p50"`
	P90     int64   `json:"p90"`
	P99     int64   `json:"p99"`
	P999    int64   `json:"p99_9"`
	P9999   int64   `json:"p99_99"`
	Max     int64   `json:"max"`
	Clamped uint64  `json:"clamped,omitempty"`
}

// StatsOf computes the summary figures of h (all zero when h is empty).
func StatsOf(h *hdrhistogram.Histogram) HistogramStats {
	if h == nil || h.TotalCount() == 0 {
		return HistogramStats{}
	}
	return HistogramStats{
		Count: h.TotalCount(),
		Min:   h.Min(),
		Mean:  math.Round(h.Mean()*1000) / 1000,
		P50:   h.ValueAtQuantile(50),
		P90:   h.ValueAtQuantile(90),
		P99:   h.ValueAtQuantile(99),
		P999:  h.ValueAtQuantile(99.9),
		P9999: h.ValueAtQuantile(99.99),
		Max:   h.Max(),
	}
}

// FormatDuration prints a duration with at most 3 significant digits and a
// unit that suits it: 850µs, 12.3ms, 1.23s, 2m3s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return sig3(d.Seconds()) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

// sig3 formats v (< 1000) with 3 significant digits, trailing zeros cut.
func sig3(v float64) string {
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// FailureCount is one row of the failure breakdown.
type FailureCount struct {
	Phase  Phase  `json:"-"`
	Reason Reason `json:"reason"`
	// Status is the normalised gateway status (see StatusLabel).
	Status int    `json:"status"`
	Count  uint64 `json:"count"`
}

// SortedFailures lists failures by descending count, then phase, reason,
// status.
func SortedFailures(m map[FailureKey]uint64) []FailureCount {
	out := make([]FailureCount, 0, len(m))
	for k, v := range m {
		out = append(out, FailureCount{Phase: k.Phase, Reason: k.Reason, Status: k.Status, Count: v})
	}
	slices.SortFunc(out, func(a, b FailureCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Status, b.Status))
	})
	return out
}
