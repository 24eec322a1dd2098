package ciout

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
)

const (
	pass = "✅"
	fail = "❌"
	// maxFailureRows bounds the failures table; the rest are summed.
	maxFailureRows = 10
)

// WriteMarkdown writes the run as GitHub-flavoured Markdown for a CI step
// summary: a verdict line, the calls, failures by phase and reason, phase
// percentiles, thresholds (✅/❌), validity and media.
func WriteMarkdown(w io.Writer, s *metrics.Snapshot, opts Options) error {
	ew := &errWriter{w: w}
	mdTitle(ew, opts)
	mdVerdict(ew, opts)
	mdMeta(ew, s, opts)
	mdCalls(ew, s)
	mdFailures(ew, s)
	mdPhases(ew, s)
	mdThresholds(ew, opts.Thresholds)
	mdValidity(ew, opts)
	mdMedia(ew, s)
	if ew.err != nil {
		return fmt.Errorf("ciout: markdown: %w", ew.err)
	}
	return nil
}

// mdTitle writes the heading: the run's name and whether it passed.
func mdTitle(ew *errWriter, opts Options) {
	title := "loadgen"
	if opts.Title != "" {
		title += ": " + mdEscape(opts.Title)
	}
	mark, word := pass, "passed"
	if !opts.Passed() {
		mark, word = fail, "failed"
	}
	ew.printf("## %s %s — %s\n\n", mark, title, word)
}

// mdVerdict writes the verdict line: validity and thresholds.
func mdVerdict(ew *errWriter, opts Options) {
	var parts []string
	if opts.Validity.Valid {
		parts = append(parts, "valid run")
	} else {
		parts = append(parts, "**run INVALID** (the generator was the bottleneck)")
	}
	if n := len(opts.Thresholds); n > 0 {
		if f := opts.failedThresholds(); f > 0 {
			parts = append(parts, fmt.Sprintf("**%d of %d thresholds crossed**", f, n))
		} else {
			parts = append(parts, fmt.Sprintf("%d of %d thresholds passed", n, n))
		}
	} else {
		parts = append(parts, "no thresholds")
	}
	ew.printf("**Verdict:** %s\n\n", strings.Join(parts, " · "))
}

// mdMeta writes the run's duration, id, version, labels and start.
func mdMeta(ew *errWriter, s *metrics.Snapshot, opts Options) {
	meta := []string{"duration " + metrics.FormatDuration(s.Elapsed().Round(time.Millisecond))}
	if opts.RunID != "" {
		meta = append(meta, "run `"+mdCode(opts.RunID)+"`")
	}
	if opts.Version != "" {
		meta = append(meta, "loadgen "+mdEscape(opts.Version))
	}
	for _, k := range slices.Sorted(maps.Keys(opts.Labels)) {
		meta = append(meta, mdEscape(k)+"="+mdEscape(opts.Labels[k]))
	}
	if !s.Start.IsZero() {
		meta = append(meta, "started "+s.Start.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	ew.printf("%s\n\n", strings.Join(meta, " · "))
}

// mdCalls writes the calls table: rates and outcomes.
func mdCalls(ew *errWriter, s *metrics.Snapshot) {
	ew.printf("### Calls\n\n")
	ew.printf("| rate achieved | rate target | attempted | succeeded | failed | aborted | dropped | in progress | success |\n")
	ew.printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	success := "–"
	if fin := s.Succeeded + s.Failed; fin > 0 {
		success = fmt.Sprintf("%.2f%%", 100*float64(s.Succeeded)/float64(fin))
	}
	ew.printf("| %.2f/s | %.2f/s | %d | %d | %d | %d | %d | %d | %s |\n\n",
		s.AchievedRate(), s.MeanTargetRate(), s.Attempted, s.Succeeded, s.Failed, s.Aborted, s.Dropped, s.InProgress, success)
}

// mdFailures writes the failures by phase and reason, the largest
// maxFailureRows of them and the rest summed.
func mdFailures(ew *errWriter, s *metrics.Snapshot) {
	if len(s.Failures) == 0 {
		return
	}
	ew.printf("| failed phase | reason | calls | of finished |\n|---|---|---:|---:|\n")
	share := func(n uint64) string { return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(max(s.Finished(), 1))) }
	fs := metrics.SortedFailures(s.Failures)
	for i, f := range fs {
		if i == maxFailureRows {
			var rest uint64
			for _, f := range fs[i:] {
				rest += f.Count
			}
			ew.printf("| … | %d more | %d | %s |\n", len(fs)-i, rest, share(rest))
			break
		}
		ew.printf("| %s | %s | %d | %s |\n", f.Phase, mdEscape(string(f.Reason)), f.Count, share(f.Count))
	}
	ew.printf("\n")
}

// mdPhases writes the phase percentiles and the scheduler lag.
func mdPhases(ew *errWriter, s *metrics.Snapshot) {
	ew.printf("### Phase times\n\n")
	ew.printf("From the scheduled start (service time: from the actual start; end: from hang-up).\n\n")
	ew.printf("| phase | count | p50 | p95 | p99 | p99.9 | max | service p50 | service p99 |\n")
	ew.printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	q := func(h interface{ ValueAtQuantile(float64) int64 }, p float64) string { return us(h.ValueAtQuantile(p)) }
	for p := range metrics.NumPhases {
		h, sv := s.Scheduled[p], s.Service[p]
		if h == nil || h.TotalCount() == 0 {
			ew.printf("| %s | 0 | – | – | – | – | – | – | – |\n", p)
			continue
		}
		sp50, sp99 := "–", "–"
		if p != metrics.PhaseEnd && sv != nil && sv.TotalCount() > 0 {
			sp50, sp99 = q(sv, 50), q(sv, 99)
		}
		ew.printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", p, h.TotalCount(),
			q(h, 50), q(h, 95), q(h, 99), q(h, 99.9), us(h.Max()), sp50, sp99)
	}
	if l := s.Lag; l != nil && l.TotalCount() > 0 {
		ew.printf("| *scheduler lag* | %d | %s | %s | %s | %s | %s | | |\n", l.TotalCount(), q(l, 50), q(l, 95), q(l, 99), q(l, 99.9), us(l.Max()))
	}
	ew.printf("\n")
}

// mdThresholds writes each threshold with ✅ or ❌.
func mdThresholds(ew *errWriter, results []threshold.Result) {
	ew.printf("### Thresholds\n\n")
	if len(results) == 0 {
		ew.printf("No thresholds were set.\n\n")
	} else {
		ew.printf("| | metric | expression | measured |\n|---|---|---|---:|\n")
		for _, r := range results {
			m := pass
			if !r.OK {
				m = fail
			}
			ew.printf("| %s | %s | `%s` | %s |\n", m, mdEscape(r.Threshold.Metric), mdCode(r.Threshold.Expr), r.Threshold.FormatValue(r.Measured))
		}
		ew.printf("\n")
	}
}

// mdValidity writes the validity verdict, its reasons and notes, and the
// CPU use.
func mdValidity(ew *errWriter, opts Options) {
	ew.printf("### Validity\n\n")
	if opts.Validity.Valid {
		ew.printf("%s **Valid**: the generator kept up, so these numbers describe the system under test.\n", pass)
	} else {
		ew.printf("%s **Invalid**: the generator itself was a bottleneck, so these numbers describe loadgen, not the system under test.\n", fail)
		for _, r := range opts.Validity.Reasons {
			ew.printf("- %s\n", mdEscape(r))
		}
	}
	for _, n := range opts.Validity.Notes {
		ew.printf("\n> note: %s\n", mdEscape(n))
	}
	if c := opts.CPU; c != nil {
		ew.printf("\n%s: %.0f%% of %g CPUs on average, peak %.0f%%.\n", upperFirst(c.Label()), 100*c.Utilization, c.CPUs, 100*c.Peak)
	}
	ew.printf("\n")
}

// mdMedia writes the media table.
func mdMedia(ew *errWriter, s *metrics.Snapshot) {
	ew.printf("### Media\n\n")
	m := s.Media
	if m.Calls == 0 {
		ew.printf("No call reported media.\n")
	} else {
		loss := "–"
		if lr := m.LossRate(); !math.IsNaN(lr) {
			loss = fmt.Sprintf("%.3f%%", 100*lr)
		}
		pq := func(h interface {
			TotalCount() int64
			ValueAtQuantile(float64) int64
		}) string {
			if h == nil || h.TotalCount() == 0 {
				return "–"
			}
			return us(h.ValueAtQuantile(50)) + " / " + us(h.ValueAtQuantile(99))
		}
		mos := "–"
		if s.MOS != nil && s.MOS.TotalCount() > 0 {
			mos = fmt.Sprintf("%.2f / %.2f", s.MOS.Mean()/metrics.MOSScale, float64(s.MOS.Min())/metrics.MOSScale)
		}
		ew.printf("| calls | packets sent | received | lost | loss | wrong stream | jitter p50 / p99 | RTT p50 / p99 | MOS avg / min |\n")
		ew.printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		ew.printf("| %d | %d | %d | %d | %s | %d | %s | %s | %s |\n", m.Calls, m.PacketsSent, m.PacketsReceived, m.PacketsLost,
			loss, m.IntegrityFailures, pq(s.Jitter), pq(s.RTT), mos)
	}
}

// mdEscape escapes the characters that would end a table cell or start
// markup in free text.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "`", "\\`", "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}

// mdCode prepares text for an inline code span inside a table: pipes are
// escaped (GitHub splits cells before parsing code spans), backticks
// replaced.
func mdCode(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}

// upperFirst capitalises a label's first letter.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
