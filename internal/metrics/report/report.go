// Package report renders a run's result directory (summary.json, the
// HdrHistogram interval logs and calls.jsonl written by package results)
// as one self-contained HTML file: inline SVG and CSS, no script, nothing
// fetched from the network. Compare renders two runs side by side.
package report

import (
	"bufio"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// FileName is the report's name inside the result directory.
const FileName = "report.html"

// maxReasons is how many failure reasons get their own colour over time;
// the rest are "other".
const maxReasons = 6

// Write reads the result directory and writes dir/report.html, returning
// its path.
func Write(dir string) (string, error) {
	d, err := Load(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName)
	return path, writeFile(path, func(w io.Writer) error { return WriteHTML(w, d) })
}

// writeFile creates path and writes it with fn through a buffer.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := fn(bw); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := bw.Flush(); err != nil {
		return errors.Join(fmt.Errorf("report: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// page is the template's data.
type page struct {
	Title      string
	S          *results.SummaryFile
	Verdict    string
	Cards      []card
	RateChart  template.HTML
	LoadChart  template.HTML
	P99Chart   template.HTML
	PhaseTime  []plot
	LagChart   template.HTML
	FailChart  template.HTML
	MediaTime  []plot
	Overview   template.HTML
	Phases     []plot
	PhaseRows  []phaseRow
	Failures   []failureRow
	Thresholds []results.ThresholdSummary
	MediaRows  [][2]string
	Lag        string
	Width      string
	Generated  string
}

// card is one headline figure.
type card struct{ Value, Label string }

// plot is a titled chart.
type plot struct {
	Name string
	SVG  template.HTML
}

type phaseRow struct {
	Phase, Timing                        string
	Count                                string
	Min, P50, P90, P99, P999, P9999, Max string
	First                                bool
}

type failureRow struct {
	Phase, Reason string
	Count         string
	Share         string
}

// WriteHTML renders the report.
func WriteHTML(w io.Writer, d *Data) error {
	s := d.Summary
	if s == nil {
		return errors.New("report: no summary")
	}
	pg := page{Title: "loadgen report", S: s, Generated: s.End.UTC().Format(time.RFC3339),
		Width: fmtAxisSeconds(d.Width)}
	if name := runName(s); name != "" {
		pg.Title += ": " + name
	}
	pg.Verdict = "VALID: the generator kept up; these numbers describe the system under test."
	if !s.Valid {
		pg.Verdict = "INVALID: the generator itself was a bottleneck; these numbers describe loadgen, not the system under test."
	}
	pg.Cards = cards(s)
	pg.RateChart, pg.LoadChart = timelineCharts(s.Timeline, s.Duration)
	pg.P99Chart, pg.PhaseTime, pg.LagChart = latencyOverTime(d)
	pg.FailChart = failuresOverTime(d)
	pg.MediaTime = mediaOverTime(d)

	pg.Phases, pg.Overview = phasePlots(d)
	pg.PhaseRows = phaseRows(s.Phases)
	pg.Failures = failureRows(s)
	pg.Thresholds = s.Thresholds
	if l := s.Lag; l.Count > 0 {
		pg.Lag = fmt.Sprintf("p50 %s · p90 %s · p99 %s · p99.9 %s · max %s", fmtUSi(l.P50), fmtUSi(l.P90), fmtUSi(l.P99), fmtUSi(l.P999), fmtUSi(l.Max))
	}
	pg.MediaRows = mediaRows(s.Media)
	t, err := template.New("report").Funcs(templateFuncs()).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report: template: %w", err)
	}
	if err := t.Execute(w, pg); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// phasePlots draws the percentile plot of each phase (both timings) and
// the overview of every phase's time from the scheduled start.
func phasePlots(d *Data) (phases []plot, overview template.HTML) {
	var all []series
	for p := range metrics.NumPhases {
		var ss []series
		if h := d.Scheduled[p]; h != nil && h.TotalCount() > 0 {
			ss = append(ss, series{Name: "from scheduled start", Color: "#1f6feb", H: h})
			all = append(all, series{Name: p.String(), Color: phaseColor(p), H: h})
		}
		if h := d.Service[p]; h != nil && h.TotalCount() > 0 && p != metrics.PhaseEnd {
			ss = append(ss, series{Name: "service time", Color: "#d97706", Dashed: true, H: h})
		}
		if len(ss) == 0 {
			continue
		}
		phases = append(phases, plot{Name: p.String(), SVG: percentilePlot(ss, 560, 300)})
	}
	if len(all) > 0 {
		overview = percentilePlot(all, 1120, 420)
	}
	return phases, overview
}

// phaseRows is the phase table: a scheduled and a service row per phase
// (the end phase has no service time).
func phaseRows(phases []results.PhaseSummary) []phaseRow {
	var rows []phaseRow
	for _, ps := range phases {
		for i, t := range []struct {
			name string
			st   metrics.HistogramStats
		}{{"scheduled", ps.Scheduled}, {"service", ps.Service}} {
			if ps.Phase == metrics.PhaseEnd.String() && i == 1 {
				continue
			}
			r := phaseRow{Phase: ps.Phase, Timing: t.name, Count: fmtInt(uint64(t.st.Count)), First: i == 0}
			if t.st.Count > 0 {
				r.Min, r.P50, r.P90, r.P99 = fmtUSi(t.st.Min), fmtUSi(t.st.P50), fmtUSi(t.st.P90), fmtUSi(t.st.P99)
				r.P999, r.P9999, r.Max = fmtUSi(t.st.P999), fmtUSi(t.st.P9999), fmtUSi(t.st.Max)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// failureRows is the failures table, with each row's share of the
// finished calls.
func failureRows(s *results.SummaryFile) []failureRow {
	var rows []failureRow
	finished := max(s.Calls.Succeeded+s.Calls.Failed+s.Calls.Aborted, 1)
	for _, f := range s.Failures {
		rows = append(rows, failureRow{Phase: f.Phase, Reason: f.Reason, Count: fmtInt(f.Count),
			Share: fmtPct(float64(f.Count) / float64(finished))})
	}
	return rows
}

// runName names a run: its scenario label, else its title.
func runName(s *results.SummaryFile) string {
	if n := s.Labels["scenario"]; n != "" {
		return n
	}
	return s.Title
}

// templateFuncs are the templates' functions.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"dur":     func(sec float64) string { return fmtUS(math.Round(sec*1e3) * 1e3) },
		"runName": runName,
	}
}

// cards are the headline figures of a run.
func cards(s *results.SummaryFile) []card {
	cs := []card{
		{fmtCount(s.Rate.Achieved) + "/s", "achieved calls/s"},
		{fmtCount(s.Rate.TargetMean) + "/s", "target calls/s (mean)"},
		{fmtCount(float64(s.Calls.Attempted)), "attempted"},
		{fmtCount(float64(s.Calls.Succeeded)), "succeeded"},
		{fmtCount(float64(s.Calls.Failed)), "failed"},
		{fmtCount(float64(s.Calls.Aborted)), "aborted"},
		{fmtCount(float64(s.Calls.Dropped)), "dropped (cap full)"},
	}
	if fin := s.Calls.Succeeded + s.Calls.Failed; fin > 0 {
		cs = append(cs, card{fmtPct(float64(s.Calls.Succeeded) / float64(fin)), "success of completed"})
	}
	if c := s.CPU; c != nil {
		cs = append(cs, card{fmtPct(c.Utilization), fmt.Sprintf("%s of %g (peak %s)", c.Label(), c.CPUs, fmtPct(c.Peak))})
	}
	return cs
}

// mediaRows is the media table.
func mediaRows(m results.MediaSummary) [][2]string {
	if m.Calls == 0 {
		return nil
	}
	loss := "n/a"
	if m.LossRate != nil {
		loss = fmtPct(*m.LossRate)
	}
	rows := [][2]string{
		{"calls with media", fmtInt(m.Calls)},
		{"packets sent / received / lost", fmtInt(m.PacketsSent) + " / " + fmtInt(m.PacketsReceived) + " / " + fmtInt(m.PacketsLost)},
		{"bytes sent / received", fmtBytes(m.BytesSent) + " / " + fmtBytes(m.BytesReceived)},
		{"loss", loss},
		{"wrong stream received", fmtInt(m.IntegrityFailures)},
	}
	if m.Jitter.Count > 0 {
		rows = append(rows, [2]string{"jitter p50 / p99 / max", fmtUSi(m.Jitter.P50) + " / " + fmtUSi(m.Jitter.P99) + " / " + fmtUSi(m.Jitter.Max)})
	}
	if m.RTT.Count > 0 {
		rows = append(rows, [2]string{"RTT p50 / p99 / max", fmtUSi(m.RTT.P50) + " / " + fmtUSi(m.RTT.P99) + " / " + fmtUSi(m.RTT.Max)})
	}
	if m.MOS.Count > 0 {
		rows = append(rows, [2]string{"MOS avg / min / max (E-model)",
			fmt.Sprintf("%.2f / %.2f / %.2f", m.MOS.Mean/metrics.MOSScale, float64(m.MOS.Min)/metrics.MOSScale, float64(m.MOS.Max)/metrics.MOSScale)})
	}
	return rows
}

// fmtInt prints an exact count with thin-space thousands separators.
func fmtInt(v uint64) string {
	s := strconv.FormatUint(v, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fmtBytes prints a byte count: 950 B, 1.2 kB, 35 MB.
func fmtBytes(v uint64) string {
	if v < 1000 {
		return strconv.FormatUint(v, 10) + " B"
	}
	return fmtCount(float64(v)) + "B"
}

// bucketMid is the middle of bucket i of width w, the last one cut at the
// run's end.
func bucketMid(i int, w, end float64) float64 {
	lo := float64(i) * w
	hi := min(lo+w, end)
	if hi <= lo {
		return lo
	}
	return (lo + hi) / 2
}

// quantileCurve is a percentile of each bucket's histogram over time.
func quantileCurve(name, color string, dashed bool, hs []*hdrhistogram.Histogram, q, w, end float64) curve {
	c := curve{Name: name, Color: color, Dashed: dashed}
	for i, h := range hs {
		y := math.NaN()
		if h.TotalCount() > 0 {
			y = float64(h.ValueAtQuantile(q))
		}
		c.Pts = append(c.Pts, pt{bucketMid(i, w, end), y})
	}
	return c
}

// yRange is the smallest and largest finite Y of the curves (1, 1 when
// there is none).
func yRange(cs []curve) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, c := range cs {
		for _, p := range c.Pts {
			if !math.IsNaN(p.Y) {
				lo, hi = min(lo, p.Y), max(hi, p.Y)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return 1, 1
	}
	return lo, hi
}

// nonEmpty reports whether any histogram holds a value.
func nonEmpty(hs []*hdrhistogram.Histogram) bool {
	for _, h := range hs {
		if h.TotalCount() > 0 {
			return true
		}
	}
	return false
}

// latencyOverTime draws the p99 of every phase over time on a log axis,
// then per phase p50/p95/p99 from the scheduled start and the service
// p99, then the scheduler lag.
func latencyOverTime(d *Data) (all template.HTML, per []plot, lag template.HTML) {
	end := d.Summary.Duration
	markers := int(math.Ceil(end/d.Width)) <= 30
	var p99s []curve
	for p := range metrics.NumPhases {
		hs := d.ScheduledOverTime[p]
		if !nonEmpty(hs) {
			continue
		}
		p99s = append(p99s, quantileCurve(p.String(), phaseColor(p), false, hs, 99, d.Width, end))
		cs := []curve{
			quantileCurve("p50", "#16a34a", false, hs, 50, d.Width, end),
			quantileCurve("p95", "#d97706", false, hs, 95, d.Width, end),
			quantileCurve("p99", "#dc2626", false, hs, 99, d.Width, end),
		}
		if sv := d.ServiceOverTime[p]; p != metrics.PhaseEnd && nonEmpty(sv) {
			cs = append(cs, quantileCurve("service p99", "#7c3aed", true, sv, 99, d.Width, end))
		}
		lo, hi := yRange(cs)
		per = append(per, plot{Name: p.String(), SVG: chart{W: 560, H: 260, X: timeAxis(end), Y: durationAxis(lo, hi, false),
			Curves: cs, Markers: markers}.svg()})
	}
	if len(p99s) > 0 {
		lo, hi := yRange(p99s)
		all = chart{W: 1120, H: 400, X: timeAxis(end), Y: durationAxis(lo, hi, true), XLabel: "time since the start",
			YLabel: "p99 (log scale)", Curves: p99s, Markers: markers}.svg()
	}
	if nonEmpty(d.LagOverTime) {
		cs := []curve{
			quantileCurve("max", "#9ca3af", true, d.LagOverTime, 100, d.Width, end),
			quantileCurve("p50", "#16a34a", false, d.LagOverTime, 50, d.Width, end),
			quantileCurve("p99", "#dc2626", false, d.LagOverTime, 99, d.Width, end),
		}
		lo, hi := yRange(cs)
		lag = chart{W: 1120, H: 240, X: timeAxis(end), Y: durationAxis(lo, hi, false), YLabel: "scheduler lag", Curves: cs, Markers: markers}.svg()
	}
	return all, per, lag
}

// failuresOverTime stacks the failed calls per bucket by phase/reason
// (the most frequent reasons, the rest as "other"); empty when no call
// failed or calls.jsonl is absent.
func failuresOverTime(d *Data) template.HTML {
	c := d.Calls
	if c == nil || len(c.Reasons) == 0 {
		return ""
	}
	end := d.Summary.Duration
	keys := c.Reasons
	other := len(keys) > maxReasons
	if other {
		keys = keys[:maxReasons-1]
	}
	var cs []curve
	var hi float64
	for ki, k := range keys {
		cv := curve{Name: k, Color: categoryColor(ki), Bars: true, Width: d.Width}
		for i, b := range c.Buckets {
			cv.Pts = append(cv.Pts, pt{float64(i) * d.Width, float64(b.Failures[k])})
		}
		cs = append(cs, cv)
	}
	if other {
		cv := curve{Name: "other", Color: categoryColor(maxReasons), Bars: true, Width: d.Width}
		for i, b := range c.Buckets {
			n := 0
			for k, v := range b.Failures {
				if !containsString(keys, k) {
					n += v
				}
			}
			cv.Pts = append(cv.Pts, pt{float64(i) * d.Width, float64(n)})
		}
		cs = append(cs, cv)
	}
	for i := range c.Buckets {
		var sum float64
		for _, cv := range cs {
			sum += cv.Pts[i].Y
		}
		hi = max(hi, sum)
	}
	return chart{W: 1120, H: 260, X: timeAxis(end), Y: linearAxis(max(hi, 1), fmtCount),
		YLabel: "failed calls per " + fmtAxisSeconds(d.Width), Curves: cs}.svg()
}

// containsString reports whether ss holds s.
func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// mediaOverTime draws, from the calls that ended in each bucket, the
// downlink loss, jitter and RTT percentiles and the MOS estimate.
func mediaOverTime(d *Data) []plot {
	c := d.Calls
	if c == nil {
		return nil
	}
	end := d.Summary.Duration
	markers := int(math.Ceil(end/d.Width)) <= 30
	mk := func(name, color string, dashed bool, f func(b CallBucket) float64) curve {
		cv := curve{Name: name, Color: color, Dashed: dashed}
		for i, b := range c.Buckets {
			cv.Pts = append(cv.Pts, pt{bucketMid(i, d.Width, end), f(b)})
		}
		return cv
	}
	var out []plot
	loss := mk("downlink loss", "#dc2626", false, func(b CallBucket) float64 {
		if n := b.PacketsReceived + b.PacketsLost; n > 0 {
			return 100 * float64(b.PacketsLost) / float64(n)
		}
		return math.NaN()
	})
	if _, hi := yRange([]curve{loss}); !allNaN(loss) {
		out = append(out, plot{"Downlink loss", chart{W: 560, H: 240, X: timeAxis(end),
			Y: linearAxis(max(hi, 0.1), func(v float64) string { return trimFloat(v) + "%" }), Curves: []curve{loss}, Markers: markers}.svg()})
	}
	jr := []curve{
		mk("jitter p50", "#0891b2", false, func(b CallBucket) float64 { return quantile(b.Jitter, 0.5) }),
		mk("jitter p99", "#0891b2", true, func(b CallBucket) float64 { return quantile(b.Jitter, 0.99) }),
		mk("RTT p50", "#b45309", false, func(b CallBucket) float64 { return quantile(b.RTT, 0.5) }),
		mk("RTT p99", "#b45309", true, func(b CallBucket) float64 { return quantile(b.RTT, 0.99) }),
	}
	if lo, hi := yRange(jr); !allNaN(jr...) {
		out = append(out, plot{"Jitter and RTT (per call)", chart{W: 560, H: 240, X: timeAxis(end), Y: durationAxis(lo, hi, false),
			Curves: jr, Markers: markers}.svg()})
	}
	mos := []curve{
		mk("MOS min", "#dc2626", true, func(b CallBucket) float64 { return quantile(b.MOS, 0) }),
		mk("MOS avg", "#16a34a", false, func(b CallBucket) float64 { return mean(b.MOS) }),
	}
	if !allNaN(mos...) {
		ya := axis{lo: 1, hi: 5, ticks: []float64{1, 2, 3, 4, 5}, format: trimFloat}
		out = append(out, plot{"MOS estimate (E-model)", chart{W: 560, H: 240, X: timeAxis(end), Y: ya, Curves: mos, Markers: markers}.svg()})
	}
	ended := mk("calls ended", "#1f6feb", false, func(b CallBucket) float64 { return float64(b.Ended) })
	if _, hi := yRange([]curve{ended}); !allNaN(ended) {
		out = append(out, plot{"Calls ended per " + fmtAxisSeconds(d.Width), chart{W: 560, H: 240, X: timeAxis(end),
			Y: linearAxis(max(hi, 1), fmtCount), Curves: []curve{ended}, Markers: markers}.svg()})
	}
	return out
}

// allNaN reports whether no curve has a finite point.
func allNaN(cs ...curve) bool {
	for _, c := range cs {
		for _, p := range c.Pts {
			if !math.IsNaN(p.Y) {
				return false
			}
		}
	}
	return true
}

// timelineCharts draws the per-second rates (target, started, succeeded,
// failed and dropped) and the calls in progress, over an axis that ends
// with the run. The last second is usually partial: its counts are scaled
// to a rate over the part the run covered (dropped when under a quarter
// second, where the scaling would amplify noise).
func timelineCharts(tl []metrics.TimelineBucket, duration float64) (rate, load template.HTML) {
	width := func(i int) float64 { return min(1, duration-float64(i)) }
	for len(tl) > 1 && width(len(tl)-1) < 0.25 {
		tl = tl[:len(tl)-1]
	}
	if len(tl) == 0 {
		return "", ""
	}
	end := max(duration, float64(len(tl)-1)+width(len(tl)-1))
	get := func(name, color string, dashed, bars, perSecond bool, f func(b metrics.TimelineBucket) float64) curve {
		c := curve{Name: name, Color: color, Dashed: dashed, Bars: bars, Width: 1}
		for i, b := range tl {
			w := max(width(i), 0.25)
			x, y := float64(i)+w/2, f(b)
			if bars {
				x = float64(i)
			}
			if perSecond {
				y /= w
			}
			c.Pts = append(c.Pts, pt{x, y})
		}
		return c
	}
	rates := []curve{
		get("failed", "#dc2626", false, true, true, func(b metrics.TimelineBucket) float64 { return float64(b.Failed) }),
		get("dropped", "#9333ea", false, true, true, func(b metrics.TimelineBucket) float64 { return float64(b.Dropped) }),
		get("target rate", "#6b7280", true, false, false, func(b metrics.TimelineBucket) float64 { return b.TargetRate }),
		get("started", "#1f6feb", false, false, true, func(b metrics.TimelineBucket) float64 { return float64(b.Started) }),
		get("succeeded", "#16a34a", false, false, true, func(b metrics.TimelineBucket) float64 { return float64(b.Succeeded) }),
	}
	_, hi := yRange(rates)
	for i := range tl {
		hi = max(hi, rates[0].Pts[i].Y+rates[1].Pts[i].Y)
	}
	markers := len(tl) <= 30
	rate = chart{W: 1120, H: 300, X: timeAxis(end), Y: linearAxis(max(hi, 1), fmtCount), YLabel: "calls/s", Curves: rates, Markers: markers}.svg()
	prog := []curve{get("in progress", "#0e7490", false, false, false, func(b metrics.TimelineBucket) float64 { return float64(b.InProgress) })}
	_, hi = yRange(prog)
	load = chart{W: 1120, H: 220, X: timeAxis(end), Y: linearAxis(max(hi, 1), fmtCount), YLabel: "calls", Curves: prog, Markers: markers}.svg()
	return rate, load
}

// styles is the pages' CSS.
const styles = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111;background:#fafafa;max-width:1160px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}
.verdict{padding:10px 14px;border-radius:6px;margin:14px 0;font-weight:600}
.valid{background:#dcfce7;border:1px solid #16a34a}.invalid{background:#fee2e2;border:1px solid #dc2626}
.verdict ul{margin:6px 0 0;font-weight:normal}.notes{color:#555;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px;font-variant-numeric:tabular-nums}th,td{border:1px solid #ddd;padding:4px 10px;text-align:right}
th{background:#f3f4f6}td.l,th.l{text-align:left}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}.plot{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px}
.plot h3{font-size:14px;margin:2px 6px 4px}svg{max-width:100%;height:auto}
.ok{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}
.better{color:#15803d;background:#f0fdf4}.worse{color:#b91c1c;background:#fef2f2}.same{color:#6b7280}
.hint{color:#555;font-size:13px;margin:4px 0 8px}
`

// pageTemplate is the whole report page.
const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + styles + `</style></head><body>
<h1>{{.Title}}</h1>
<div class="meta">started {{.S.Start.UTC.Format "2006-01-02 15:04:05 MST"}} · duration {{dur .S.Duration}} · schema {{.S.Schema}}{{range $k, $v := .S.Labels}} · {{$k}}={{$v}}{{end}}</div>
<div class="verdict {{if .S.Valid}}valid{{else}}invalid{{end}}">{{.Verdict}}{{if .S.InvalidReasons}}<ul>{{range .S.InvalidReasons}}<li>{{.}}</li>{{end}}</ul>{{end}}</div>
{{if .S.Notes}}<div class="notes">{{range .S.Notes}}<div>note: {{.}}</div>{{end}}</div>{{end}}

<h2 id="calls">Calls</h2>
<div class="cards">
{{range .Cards}}<div class="card"><b>{{.Value}}</b><span>{{.Label}}</span></div>
{{end}}</div>

<h2 id="timeline">Timeline</h2>
{{if .RateChart}}<div class="plot"><h3>Rate per second</h3>{{.RateChart}}</div>
<div class="plot" style="margin-top:12px"><h3>Calls in progress</h3>{{.LoadChart}}</div>{{else}}<p>No timeline.</p>{{end}}

<h2 id="latency-over-time">Latency over time</h2>
<p class="hint">From the HdrHistogram interval logs, in buckets of {{.Width}}; each point is the bucket's percentile.</p>
{{if .P99Chart}}<div class="plot"><h3>p99 of every phase</h3>{{.P99Chart}}</div>
<div class="grid" style="margin-top:12px">
{{range .PhaseTime}}<div class="plot"><h3>{{.Name}}</h3>{{.SVG}}</div>
{{end}}</div>{{else}}<p>No phase was measured.</p>{{end}}
{{if .LagChart}}<div class="plot" style="margin-top:12px"><h3>Scheduler lag</h3>{{.LagChart}}</div>{{end}}

<h2 id="failures-over-time">Failures over time</h2>
{{if .FailChart}}<div class="plot"><h3>Failed calls by phase/reason</h3>{{.FailChart}}</div>{{else}}<p>No call failed{{if not .S.Failures}}.{{else}} (no calls.jsonl to place the failures in time).{{end}}</p>{{end}}

<h2 id="media-over-time">Media over time</h2>
{{if .MediaTime}}<p class="hint">Per call, placed at the call's end.</p><div class="grid">
{{range .MediaTime}}<div class="plot"><h3>{{.Name}}</h3>{{.SVG}}</div>
{{end}}</div>{{else}}<p>No calls.jsonl or no call reported media.</p>{{end}}

<h2 id="percentiles">Latency by percentile</h2>
{{if .Overview}}<div class="plot"><h3>All phases, from the scheduled start</h3>{{.Overview}}</div>{{else}}<p>No phase was measured.</p>{{end}}
<div class="grid" style="margin-top:12px">
{{range .Phases}}<div class="plot"><h3>{{.Name}}</h3>{{.SVG}}</div>
{{end}}</div>

<h2 id="phase-times">Phase times</h2>
<table><tr><th class="l">phase</th><th class="l">timing</th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr>
{{range .PhaseRows}}<tr><td class="l">{{if .First}}{{.Phase}}{{end}}</td><td class="l">{{.Timing}}</td><td>{{.Count}}</td><td>{{.Min}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.P9999}}</td><td>{{.Max}}</td></tr>
{{end}}<tr><td class="l">scheduler lag</td><td class="l"></td><td>{{.S.Lag.Count}}</td><td colspan="7" class="l">{{.Lag}}</td></tr>
</table>

<h2 id="failures">Failures</h2>
{{if .Failures}}<table><tr><th class="l">phase</th><th class="l">reason</th><th>calls</th><th>of finished</th></tr>
{{range .Failures}}<tr><td class="l">{{.Phase}}</td><td class="l">{{.Reason}}</td><td>{{.Count}}</td><td>{{.Share}}</td></tr>
{{end}}</table>{{else}}<p>No call failed.</p>{{end}}

<h2 id="media">Media</h2>
{{if .MediaRows}}<table>{{range .MediaRows}}<tr><td class="l">{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>{{else}}<p>No call reported media.</p>{{end}}

{{if .Thresholds}}<h2 id="thresholds">Thresholds</h2>
<table><tr><th class="l">metric</th><th class="l">expression</th><th>measured</th><th class="l">result</th></tr>
{{range .Thresholds}}<tr><td class="l">{{.Metric}}</td><td class="l">{{.Expr}}</td><td>{{.MeasuredText}}</td><td class="l">{{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAILED</span>{{end}}</td></tr>
{{end}}</table>{{end}}
<p class="meta">Generated by loadgen from {{.S.Schema}}, the HdrHistogram interval logs and calls.jsonl; snapshot taken {{.Generated}}.</p>
</body></html>
`
