package metrics

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
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

// us formats a microsecond value as a duration.
func us(v int64) string { return FormatDuration(time.Duration(v) * time.Microsecond) }

// SummaryOptions add what the snapshot does not hold to the summary.
type SummaryOptions struct {
	// Title heads the summary (e.g. the scenario name); optional.
	Title string
	// Thresholds are the evaluated thresholds, printed with their verdicts.
	Thresholds []ThresholdResult
	// Validity is the run's verdict (see CheckValidity).
	Validity Validity
	// CPU is the generator's CPU use, when measured.
	CPU *CPUUsage
}

// WriteSummary prints the end-of-run summary: rate and outcomes, failures
// by phase and reason, a table per phase with both timings, the scheduler
// lag, media quality, thresholds and the validity verdict.
func WriteSummary(w io.Writer, s *Snapshot, opts SummaryOptions) error {
	ew := &errWriter{w: w}
	title := "loadgen summary"
	if opts.Title != "" {
		title += ": " + opts.Title
	}
	ew.printf("%s\n%s\n\n", title, strings.Repeat("=", len(title)))

	ew.printf("duration   %s\n", FormatDuration(s.Elapsed().Round(time.Millisecond)))
	ew.printf("rate       achieved %.2f calls/s, target %.2f calls/s (while calls were being started)\n", s.AchievedRate(), s.MeanTargetRate())
	ew.printf("calls      %d attempted, %d succeeded, %d failed, %d aborted, %d in progress, %d dropped (cap full)\n",
		s.Attempted, s.Succeeded, s.Failed, s.Aborted, s.InProgress, s.Dropped)
	if fin := s.Succeeded + s.Failed; fin > 0 {
		ew.printf("success    %.2f%% of %d completed calls\n", 100*float64(s.Succeeded)/float64(fin), fin)
	}

	if len(s.Failures) > 0 {
		ew.printf("\nfailures (phase/reason)\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, f := range SortedFailures(s.Failures) {
			fmt.Fprintf(tw, "  %s/%s\t%d\t%.2f%%\n", f.Phase, f.Reason, f.Count, 100*float64(f.Count)/float64(max(s.Finished(), 1)))
		}
		ew.check(tw.Flush())
	}

	ew.printf("\nphase times (scheduled: from the scheduled start; service: from the actual start; end: from hang-up)\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "phase\ttiming\tcount\tmin\tp50\tp90\tp99\tp99.9\tmax\t\n")
	row := func(name, timing string, h *hdrhistogram.Histogram) {
		st := StatsOf(h)
		if st.Count == 0 {
			fmt.Fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\t-\t-\t\n", name, timing)
			return
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, timing, st.Count,
			us(st.Min), us(st.P50), us(st.P90), us(st.P99), us(st.P999), us(st.Max))
	}
	for p := range NumPhases {
		row(p.String(), "scheduled", s.Scheduled[p])
		if p != PhaseEnd {
			row("", "service", s.Service[p])
		}
	}
	row("lag", "scheduler", s.Lag)
	ew.check(tw.Flush())
	if n := s.Clamped.Total(); n > 0 {
		ew.printf("  %d values were outside 1µs..1h and were recorded at the bound\n", n)
	}

	ew.printf("\nmedia\n")
	if s.Media.Calls == 0 {
		ew.printf("  no call reported media\n")
	} else {
		m := s.Media
		ew.printf("  calls      %d with media, %d with the wrong stream\n", m.Calls, m.IntegrityFailures)
		ew.printf("  packets    sent %d (%d bytes), received %d (%d bytes), lost %d\n",
			m.PacketsSent, m.BytesSent, m.PacketsReceived, m.BytesReceived, m.PacketsLost)
		if lr := m.LossRate(); !math.IsNaN(lr) {
			ew.printf("  loss       %.3f%%\n", 100*lr)
		}
		for _, x := range []struct {
			name string
			h    *hdrhistogram.Histogram
		}{{"jitter", s.Jitter}, {"rtt", s.RTT}} {
			if st := StatsOf(x.h); st.Count > 0 {
				ew.printf("  %-10s p50 %s, p99 %s, max %s (%d calls)\n", x.name, us(st.P50), us(st.P99), us(st.Max), st.Count)
			}
		}
		if st := StatsOf(s.MOS); st.Count > 0 {
			ew.printf("  MOS        avg %.2f, p1 %.2f, min %.2f, max %.2f (E-model estimate, %d calls)\n",
				st.Mean/MOSScale, float64(s.MOS.ValueAtQuantile(1))/MOSScale, float64(st.Min)/MOSScale, float64(st.Max)/MOSScale, st.Count)
		}
	}

	if opts.CPU != nil {
		ew.printf("\ngenerator  CPU %.0f%% of %d CPUs on average, peak %.0f%%\n", 100*opts.CPU.Utilization, opts.CPU.CPUs, 100*opts.CPU.Peak)
	}

	if len(opts.Thresholds) > 0 {
		passed := 0
		for _, r := range opts.Thresholds {
			if r.OK {
				passed++
			}
		}
		ew.printf("\nthresholds (%d of %d passed)\n", passed, len(opts.Thresholds))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, r := range opts.Thresholds {
			verdict := "ok"
			if !r.OK {
				verdict = "FAILED"
			}
			fmt.Fprintf(tw, "  %s\t%s: %s\tmeasured %s\n", verdict, r.Threshold.Metric, r.Threshold.Expr, r.Threshold.FormatValue(r.Measured))
		}
		ew.check(tw.Flush())
	}

	ew.printf("\n")
	if opts.Validity.Valid {
		ew.printf("verdict    VALID: the generator kept up, so these numbers describe the system under test.\n")
	} else {
		ew.printf("verdict    INVALID: the generator itself was a bottleneck, so these numbers describe loadgen, not the system under test.\n")
		for _, r := range opts.Validity.Reasons {
			ew.printf("  - %s\n", r)
		}
	}
	for _, n := range opts.Validity.Notes {
		ew.printf("  note: %s\n", n)
	}
	return ew.err
}

// FailureCount is one row of the failure breakdown.
type FailureCount struct {
	Phase  Phase  `json:"-"`
	Reason Reason `json:"reason"`
	Count  uint64 `json:"count"`
}

// SortedFailures lists failures by descending count, then phase, reason.
func SortedFailures(m map[FailureKey]uint64) []FailureCount {
	out := make([]FailureCount, 0, len(m))
	for k, v := range m {
		out = append(out, FailureCount{Phase: k.Phase, Reason: k.Reason, Count: v})
	}
	slices.SortFunc(out, func(a, b FailureCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// errWriter keeps the first write error so the summary code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

// Write writes unless an earlier write failed.
func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// printf formats into the writer.
func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

// check keeps err if it is the first error.
func (e *errWriter) check(err error) {
	if e.err == nil {
		e.err = err
	}
}
