// Package summary prints the end-of-run text summary: rate and outcomes,
// failures, phase times, media quality, thresholds and the validity verdict.
package summary

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

// us formats a microsecond value as a duration.
func us(v int64) string { return metrics.FormatDuration(time.Duration(v) * time.Microsecond) }

// Options add what the snapshot does not hold to the summary.
type Options struct {
	// Title heads the summary (e.g. the scenario name); optional.
	Title string
	// Engine names the media engine the calls were placed with, printed
	// under the title ("": no line).
	Engine string
	// Thresholds are the evaluated thresholds, printed with their verdicts.
	Thresholds []threshold.Result
	// Validity is the run's verdict (see validity.Check).
	Validity validity.Verdict
	// CPU is the process's CPU use, when measured (its Label says whether
	// the embedded gateway ran in the process).
	CPU *cpu.Usage
}

// Write prints the end-of-run summary: rate and outcomes, failures
// by phase and reason, a table per phase with both timings, the scheduler
// lag, media quality, thresholds and the validity verdict.
func Write(w io.Writer, s *metrics.Snapshot, opts Options) error {
	ew := &errWriter{w: w}
	writeHeader(ew, s, opts.Title, opts.Engine)
	writeFailures(ew, s)
	writePhases(ew, s)
	writeMedia(ew, s)
	writeCPU(ew, opts.CPU)
	writeThresholds(ew, opts.Thresholds)
	writeVerdict(ew, opts.Validity)
	return ew.err
}

// writeHeader writes the title, the media engine, the duration, the rate
// and the outcomes.
func writeHeader(ew *errWriter, s *metrics.Snapshot, name, engine string) {
	title := "loadgen summary"
	if name != "" {
		title += ": " + name
	}
	ew.printf("%s\n%s\n\n", title, strings.Repeat("=", len(title)))

	if engine != "" {
		ew.printf("engine     %s media engine\n", engine)
	}
	ew.printf("duration   %s\n", metrics.FormatDuration(s.Elapsed().Round(time.Millisecond)))
	ew.printf("rate       achieved %.2f calls/s, target %.2f calls/s (while calls were being started)\n", s.AchievedRate(), s.MeanTargetRate())
	ew.printf("calls      %d attempted, %d succeeded, %d failed, %d aborted, %d in progress, %d dropped (cap full)\n",
		s.Attempted, s.Succeeded, s.Failed, s.Aborted, s.InProgress, s.Dropped)
	if fin := s.Succeeded + s.Failed; fin > 0 {
		ew.printf("success    %.2f%% of %d completed calls\n", 100*float64(s.Succeeded)/float64(fin), fin)
	}
}

// writeFailures writes the failures by phase, reason and gateway status.
func writeFailures(ew *errWriter, s *metrics.Snapshot) {
	if len(s.Failures) > 0 {
		ew.printf("\nfailures (phase/reason, gateway status)\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, f := range metrics.SortedFailures(s.Failures) {
			ew.fprintf(tw, "  %s/%s\t%s\t%d\t%.2f%%\n", f.Phase, f.Reason, metrics.StatusLabel(f.Status), f.Count, 100*float64(f.Count)/float64(max(s.Finished(), 1)))
		}
		ew.check(tw.Flush())
	}
}

// writePhases writes the table of phase times, both timings, and the
// scheduler lag.
func writePhases(ew *errWriter, s *metrics.Snapshot) {
	ew.printf("\nphase times (scheduled: from the scheduled start; service: from the actual start; end: from hang-up; hold/unhold: each re-offer, request to answer applied)\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	ew.fprintf(tw, "phase\ttiming\tcount\tmin\tp50\tp90\tp99\tp99.9\tmax\t\n")
	row := func(name, timing string, h *hdrhistogram.Histogram) {
		st := metrics.StatsOf(h)
		if st.Count == 0 {
			ew.fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\t-\t-\t\n", name, timing)
			return
		}
		ew.fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, timing, st.Count,
			us(st.Min), us(st.P50), us(st.P90), us(st.P99), us(st.P999), us(st.Max))
	}
	for p := range metrics.NumPhases {
		if (p == metrics.PhaseHold || p == metrics.PhaseUnhold) && s.Scheduled[p].TotalCount() == 0 {
			continue // no call held: no rows
		}
		timing := "scheduled"
		if p.SelfTimed() {
			timing = "re-offer"
			if p == metrics.PhaseEnd {
				timing = "hang-up"
			}
		}
		row(p.String(), timing, s.Scheduled[p])
		if !p.SelfTimed() {
			row("", "service", s.Service[p])
		}
	}
	row("lag", "scheduler", s.Lag)
	ew.check(tw.Flush())
	if n := s.Clamped.Total(); n > 0 {
		ew.printf("  %d values were outside 1µs..1h and were recorded at the bound\n", n)
	}
}

// writeMedia writes media counts and quality.
func writeMedia(ew *errWriter, s *metrics.Snapshot) {
	ew.printf("\nmedia\n")
	if s.Media.Calls == 0 {
		ew.printf("  no call reported media\n")
		return
	}
	m := s.Media
	ew.printf("  calls      %d with media, %d with the wrong stream (where checked)\n", m.Calls, m.IntegrityFailures)
	ew.printf("  packets    sent %d (%d bytes), received %d (%d bytes)\n",
		m.PacketsSent, m.BytesSent, m.PacketsReceived, m.BytesReceived)
	for k := range metrics.NumStreams {
		st := s.Streams[k]
		if st.PacketsSent+st.PacketsReceived == 0 {
			continue
		}
		ew.printf("  %-10s sent %d, received %d, lost %d downlink, %d uplink\n", k.String(), st.PacketsSent, st.PacketsReceived, st.PacketsLostDownlink, st.PacketsLostUplink)
	}
	ew.printf("  downlink   lost %d (%d in stalls, %d after the stream stopped)", m.PacketsLost, m.StallMissing, m.TailMissing)
	if lr := m.LossRate(); !math.IsNaN(lr) {
		ew.printf(", loss %.3f%%", 100*lr)
	}
	ew.printf("\n")
	if lr := m.UplinkLossRate(); !math.IsNaN(lr) {
		ew.printf("  uplink     lost %d of %d (gateway's RTCP reports, %d calls), loss %.3f%%\n", m.UplinkPacketsLost, m.UplinkPacketsSent, m.UplinkCalls, 100*lr)
	} else {
		ew.printf("  uplink     no RTCP receiver reports from the far end\n")
	}
	if m.WriteErrors+m.LateWrites > 0 {
		ew.printf("  writes     %d failed, %d late\n", m.WriteErrors, m.LateWrites)
	}
	for _, x := range []struct {
		name string
		h    *hdrhistogram.Histogram
	}{{"jitter", s.Jitter}, {"jitter up", s.UplinkJitter}, {"rtt", s.RTT}, {"gap", s.Gap}} {
		if st := metrics.StatsOf(x.h); st.Count > 0 && st.Max > 0 {
			ew.printf("  %-10s p50 %s, p99 %s, max %s (%d calls)\n", x.name, us(st.P50), us(st.P99), us(st.Max), st.Count)
		}
	}
	if st := metrics.StatsOf(s.MOS); st.Count > 0 {
		ew.printf("  MOS        avg %.2f, p1 %.2f, min %.2f, max %.2f (E-model estimate, worse direction, %d calls)\n",
			st.Mean/metrics.MOSScale, float64(s.MOS.ValueAtQuantile(1))/metrics.MOSScale, float64(st.Min)/metrics.MOSScale, float64(st.Max)/metrics.MOSScale, st.Count)
	}
	if m.MOSDelaySignalling+m.MOSDelayUnknown > 0 {
		ew.printf("  MOS delay  %d calls from RTCP, %d from signalling (no RTCP RTT), %d unknown (not scored)\n",
			m.MOSDelayRTCP, m.MOSDelaySignalling, m.MOSDelayUnknown)
	}
}

// writeCPU writes the process's CPU use, when measured.
func writeCPU(ew *errWriter, u *cpu.Usage) {
	if u == nil {
		return
	}
	quota := ""
	if u.Quota {
		quota = " (cgroup quota)"
	}
	ew.printf("\ncpu        %s: %.0f%% of %g CPUs%s on average, peak %.0f%%\n",
		u.Label(), 100*u.Utilization, u.CPUs, quota, 100*u.Peak)
}

// writeThresholds writes each threshold's verdict and measured value.
func writeThresholds(ew *errWriter, results []threshold.Result) {
	if len(results) == 0 {
		return
	}
	passed := 0
	for _, r := range results {
		if r.OK {
			passed++
		}
	}
	ew.printf("\nthresholds (%d of %d passed)\n", passed, len(results))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, r := range results {
		verdict := "ok"
		if !r.OK {
			verdict = "FAILED"
		}
		ew.fprintf(tw, "  %s\t%s: %s\tmeasured %s\n", verdict, r.Threshold.Metric, r.Threshold.Expr, r.Threshold.FormatValue(r.Measured))
	}
	ew.check(tw.Flush())
}

// writeVerdict writes the validity verdict with its reasons and notes.
func writeVerdict(ew *errWriter, v validity.Verdict) {
	ew.printf("\n")
	if v.Valid {
		ew.printf("verdict    VALID: the generator kept up, so these numbers describe the system under test.\n")
	} else {
		ew.printf("verdict    INVALID: the generator itself was a bottleneck, so these numbers describe loadgen, not the system under test.\n")
		for _, r := range v.Reasons {
			ew.printf("  - %s\n", r)
		}
	}
	for _, n := range v.Notes {
		ew.printf("  note: %s\n", n)
	}
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
func (e *errWriter) printf(format string, a ...any) { e.fprintf(e, format, a...) }

// fprintf formats into w, a writer over e (a tabwriter), and keeps the
// first error.
func (e *errWriter) fprintf(w io.Writer, format string, a ...any) {
	_, err := fmt.Fprintf(w, format, a...)
	e.check(err)
}

// check keeps err if it is the first error.
func (e *errWriter) check(err error) {
	if e.err == nil {
		e.err = err
	}
}
