package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// CompareFileName is the default name of a comparison report.
const CompareFileName = "compare.html"

// Unit is what a compared figure measures.
type Unit int

// The units of compared figures.
const (
	// UnitUnknown is the zero value.
	UnitUnknown Unit = iota
	// UnitMicroseconds is a duration in µs.
	UnitMicroseconds
	// UnitCount is a number of calls or packets.
	UnitCount
	// UnitPerSecond is a rate in calls/s.
	UnitPerSecond
	// UnitRatio is a fraction, 0..1, shown as a percentage.
	UnitRatio
	// UnitScore is a MOS estimate, 1..5.
	UnitScore
)

// format prints a value in the unit; NaN reads "–".
func (u Unit) format(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	switch u {
	case UnitMicroseconds:
		return fmtUS(v)
	case UnitPerSecond:
		return fmtCount(v) + "/s"
	case UnitRatio:
		return fmtPct(v)
	case UnitScore:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmtCount(v)
	}
}

// noise is the smallest absolute difference worth colouring.
func (u Unit) noise() float64 {
	switch u {
	case UnitMicroseconds:
		return 100
	case UnitRatio:
		return 0.0005
	case UnitScore:
		return 0.05
	case UnitPerSecond:
		return 0.05
	default:
		return 0.5
	}
}

// Direction says which way a figure improves.
type Direction int

// The directions.
const (
	// Neutral figures are shown without a judgement.
	Neutral Direction = iota
	// LowerIsBetter for latencies, failures and loss.
	LowerIsBetter
	// HigherIsBetter for success, rate and MOS.
	HigherIsBetter
)

// RelativeNoise is the relative change below which a difference is
// shown as unchanged (grey): run-to-run noise.
const RelativeNoise = 0.05

// Delta is one figure of a baseline and a candidate run.
type Delta struct {
	// Group and Name label the figure ("connect", "p99").
	Group, Name string
	// Base and Cand are the two runs' values (NaN: no data).
	Base, Cand float64
	Unit       Unit
	Better     Direction
}

// Change is the candidate's relative change from the baseline (NaN when
// either is missing, ±Inf from a zero baseline).
func (d Delta) Change() float64 {
	if math.IsNaN(d.Base) || math.IsNaN(d.Cand) {
		return math.NaN()
	}
	if d.Base == 0 {
		switch {
		case d.Cand == 0:
			return 0
		case d.Cand > 0:
			return math.Inf(1)
		default:
			return math.Inf(-1)
		}
	}
	return (d.Cand - d.Base) / math.Abs(d.Base)
}

// Verdict is "better", "worse" or "same": the change's judgement, "same"
// when it is within RelativeNoise or the unit's noise, or the figure is
// neutral.
func (d Delta) Verdict() string {
	ch := d.Change()
	if d.Better == Neutral || math.IsNaN(ch) || math.Abs(ch) < RelativeNoise || math.Abs(d.Cand-d.Base) < d.Unit.noise() {
		return "same"
	}
	if (ch < 0) == (d.Better == LowerIsBetter) {
		return "better"
	}
	return "worse"
}

// Diff prints the absolute and relative change: "+12 ms (+4.5%)".
func (d Delta) Diff() string {
	ch := d.Change()
	if math.IsNaN(ch) {
		return "–"
	}
	diff := d.Cand - d.Base
	sign := "+"
	if diff < 0 {
		sign = "−"
	}
	abs := sign + d.Unit.format(math.Abs(diff))
	if d.Unit == UnitRatio {
		abs = sign + trimFloat(math.Round(math.Abs(diff)*1e5)/1e3) + " pp"
	}
	switch {
	case diff == 0:
		return "0"
	case math.IsInf(ch, 0):
		return abs
	case ch >= 1:
		// Past +100 % a factor reads better than a percentage.
		return fmt.Sprintf("%s (×%s)", abs, sig3(d.Cand/d.Base))
	default:
		return fmt.Sprintf("%s (%s%s%%)", abs, sign, trimFloat(math.Round(math.Abs(ch)*1000)/10))
	}
}

// Compare lists the key figures of a baseline and a candidate run: rates
// and outcomes, per phase percentiles from the scheduled start, the
// scheduler lag, media quality and generator CPU.
func Compare(base, cand *Data) []Delta {
	a, b := base.Summary, cand.Summary
	var ds []Delta
	add := func(group, name string, u Unit, better Direction, f func(s *results.SummaryFile) float64) {
		ds = append(ds, Delta{Group: group, Name: name, Base: f(a), Cand: f(b), Unit: u, Better: better})
	}
	add("run", "duration", UnitMicroseconds, Neutral, func(s *results.SummaryFile) float64 { return s.Duration * 1e6 })
	add("run", "target rate (mean)", UnitPerSecond, Neutral, func(s *results.SummaryFile) float64 { return s.Rate.TargetMean })
	add("run", "achieved rate", UnitPerSecond, HigherIsBetter, func(s *results.SummaryFile) float64 { return s.Rate.Achieved })
	add("run", "attempted", UnitCount, Neutral, func(s *results.SummaryFile) float64 { return float64(s.Calls.Attempted) })
	add("run", "succeeded", UnitCount, Neutral, func(s *results.SummaryFile) float64 { return float64(s.Calls.Succeeded) })
	add("run", "success of completed", UnitRatio, HigherIsBetter, func(s *results.SummaryFile) float64 {
		return ratio(s.Calls.Succeeded, s.Calls.Succeeded+s.Calls.Failed)
	})
	add("run", "failed", UnitCount, LowerIsBetter, func(s *results.SummaryFile) float64 { return float64(s.Calls.Failed) })
	add("run", "aborted", UnitCount, LowerIsBetter, func(s *results.SummaryFile) float64 { return float64(s.Calls.Aborted) })
	add("run", "dropped (cap full)", UnitCount, LowerIsBetter, func(s *results.SummaryFile) float64 { return float64(s.Calls.Dropped) })
	for p := range metrics.NumPhases {
		ha, hb := base.Scheduled[p], cand.Scheduled[p]
		if empty(ha) && empty(hb) {
			continue
		}
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"max", 100}} {
			ds = append(ds, Delta{Group: p.String(), Name: q.name, Base: quantileOf(ha, q.q), Cand: quantileOf(hb, q.q),
				Unit: UnitMicroseconds, Better: LowerIsBetter})
		}
	}
	if !empty(base.Lag) || !empty(cand.Lag) {
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 50}, {"p99", 99}, {"max", 100}} {
			ds = append(ds, Delta{Group: "scheduler lag", Name: q.name, Base: quantileOf(base.Lag, q.q), Cand: quantileOf(cand.Lag, q.q),
				Unit: UnitMicroseconds, Better: LowerIsBetter})
		}
	}
	if a.Media.Calls > 0 || b.Media.Calls > 0 {
		stat := func(st metrics.HistogramStats, v int64) float64 {
			if st.Count == 0 {
				return math.NaN()
			}
			return float64(v)
		}
		add("media", "calls with media", UnitCount, Neutral, func(s *results.SummaryFile) float64 { return float64(s.Media.Calls) })
		add("media", "downlink loss", UnitRatio, LowerIsBetter, func(s *results.SummaryFile) float64 {
			if s.Media.LossRate == nil {
				return math.NaN()
			}
			return *s.Media.LossRate
		})
		add("media", "wrong stream received", UnitCount, LowerIsBetter, func(s *results.SummaryFile) float64 { return float64(s.Media.IntegrityFailures) })
		add("media", "jitter p50", UnitMicroseconds, LowerIsBetter, func(s *results.SummaryFile) float64 { return stat(s.Media.Jitter, s.Media.Jitter.P50) })
		add("media", "jitter p99", UnitMicroseconds, LowerIsBetter, func(s *results.SummaryFile) float64 { return stat(s.Media.Jitter, s.Media.Jitter.P99) })
		add("media", "RTT p50", UnitMicroseconds, LowerIsBetter, func(s *results.SummaryFile) float64 { return stat(s.Media.RTT, s.Media.RTT.P50) })
		add("media", "RTT p99", UnitMicroseconds, LowerIsBetter, func(s *results.SummaryFile) float64 { return stat(s.Media.RTT, s.Media.RTT.P99) })
		add("media", "MOS avg", UnitScore, HigherIsBetter, func(s *results.SummaryFile) float64 {
			if s.Media.MOS.Count == 0 {
				return math.NaN()
			}
			return s.Media.MOS.Mean / metrics.MOSScale
		})
	}
	if a.CPU != nil || b.CPU != nil {
		add("generator", "CPU", UnitRatio, Neutral, func(s *results.SummaryFile) float64 {
			if s.CPU == nil {
				return math.NaN()
			}
			return s.CPU.Utilization
		})
	}
	return ds
}

// ratio is num/den, NaN when den is zero.
func ratio(num, den uint64) float64 {
	if den == 0 {
		return math.NaN()
	}
	return float64(num) / float64(den)
}

// empty reports whether h holds nothing.
func empty(h *hdrhistogram.Histogram) bool { return h == nil || h.TotalCount() == 0 }

// quantileOf is h's percentile q (100: the max), NaN when empty.
func quantileOf(h *hdrhistogram.Histogram, q float64) float64 {
	if empty(h) {
		return math.NaN()
	}
	if q >= 100 {
		return float64(h.Max())
	}
	return float64(h.ValueAtQuantile(q))
}

// WriteCompare reads two result directories, a baseline and a
// candidate, and writes a report comparing them to outPath (see
// CompareFileName).
func WriteCompare(outPath, baseDir, candDir string) error {
	base, err := Load(baseDir)
	if err != nil {
		return fmt.Errorf("baseline %s: %w", baseDir, err)
	}
	cand, err := Load(candDir)
	if err != nil {
		return fmt.Errorf("candidate %s: %w", candDir, err)
	}
	return writeFile(outPath, func(w io.Writer) error {
		return WriteCompareHTML(w, base, cand, CompareOptions{BaseName: filepath.Base(filepath.Clean(baseDir)), CandName: filepath.Base(filepath.Clean(candDir))})
	})
}

// CompareOptions name the two runs in a comparison.
type CompareOptions struct {
	// BaseName and CandName label the runs (their directories, say);
	// empty: "baseline" and "candidate".
	BaseName, CandName string
}

// compareRun is one side of the comparison's header.
type compareRun struct {
	Role, Name string
	S          *results.SummaryFile
	Color      string
}

// compareRow is one line of the comparison table.
type compareRow struct {
	Group, Name, Base, Cand, Diff, Verdict string
	First                                  bool
}

// thresholdPair is one threshold's result in both runs.
type thresholdPair struct {
	Metric, Expr string
	Base, Cand   *results.ThresholdSummary
}

// failurePair is one phase/reason count in both runs.
type failurePair struct {
	Phase, Reason, Base, Cand string
}

// comparePage is the comparison template's data.
type comparePage struct {
	Title      string
	Runs       [2]compareRun
	Rows       []compareRow
	Better     int
	Worse      int
	Thresholds []thresholdPair
	Failures   []failurePair
	RateChart  template.HTML
	P99Time    []plot
	Percentile []plot
}

// Colours of the baseline and the candidate in the comparison's plots.
const (
	baseColor = "#2563eb"
	candColor = "#ea580c"
)

// WriteCompareHTML renders a comparison of a baseline and a candidate run.
func WriteCompareHTML(w io.Writer, base, cand *Data, opts CompareOptions) error {
	if base == nil || cand == nil || base.Summary == nil || cand.Summary == nil {
		return errors.New("report: compare: no summary")
	}
	if opts.BaseName == "" {
		opts.BaseName = "baseline"
	}
	if opts.CandName == "" {
		opts.CandName = "candidate"
	}
	pg := comparePage{Title: "loadgen comparison: " + opts.BaseName + " → " + opts.CandName,
		Runs: [2]compareRun{{"baseline", opts.BaseName, base.Summary, baseColor}, {"candidate", opts.CandName, cand.Summary, candColor}}}
	prev := ""
	for _, d := range Compare(base, cand) {
		v := d.Verdict()
		switch v {
		case "better":
			pg.Better++
		case "worse":
			pg.Worse++
		}
		pg.Rows = append(pg.Rows, compareRow{Group: d.Group, Name: d.Name, Base: d.Unit.format(d.Base), Cand: d.Unit.format(d.Cand),
			Diff: d.Diff(), Verdict: v, First: d.Group != prev})
		prev = d.Group
	}
	pg.Thresholds = pairThresholds(base.Summary.Thresholds, cand.Summary.Thresholds)
	pg.Failures = pairFailures(base.Summary.Failures, cand.Summary.Failures)
	pg.RateChart = compareRates(base.Summary, cand.Summary, opts)
	end := max(base.Summary.Duration, cand.Summary.Duration)
	for p := range metrics.NumPhases {
		var ss []series
		var cs []curve
		for _, x := range []struct {
			d     *Data
			name  string
			color string
		}{{base, opts.BaseName, baseColor}, {cand, opts.CandName, candColor}} {
			if h := x.d.Scheduled[p]; !empty(h) {
				ss = append(ss, series{Name: x.name, Color: x.color, H: h})
			}
			if hs := x.d.ScheduledOverTime[p]; nonEmpty(hs) {
				cs = append(cs, quantileCurve(x.name+" p99", x.color, false, hs, 99, x.d.Width, x.d.Summary.Duration),
					quantileCurve(x.name+" p50", x.color, true, hs, 50, x.d.Width, x.d.Summary.Duration))
			}
		}
		if len(ss) > 0 {
			pg.Percentile = append(pg.Percentile, plot{Name: p.String(), SVG: percentilePlot(ss, 560, 300)})
		}
		if len(cs) > 0 {
			lo, hi := yRange(cs)
			few := int(math.Ceil(end/min(base.Width, cand.Width))) <= 30
			pg.P99Time = append(pg.P99Time, plot{Name: p.String(), SVG: chart{W: 560, H: 260, X: timeAxis(end),
				Y: durationAxis(lo, hi, false), Curves: cs, Markers: few}.svg()})
		}
	}
	t, err := template.New("compare").Funcs(templateFuncs()).Parse(compareTemplate)
	if err != nil {
		return fmt.Errorf("report: compare template: %w", err)
	}
	if err := t.Execute(w, pg); err != nil {
		return fmt.Errorf("report: compare: %w", err)
	}
	return nil
}

// pairThresholds lines up both runs' thresholds by metric and expression,
// in the baseline's order then the candidate's new ones.
func pairThresholds(a, b []results.ThresholdSummary) []thresholdPair {
	var out []thresholdPair
	idx := map[[2]string]int{}
	for i := range a {
		k := [2]string{a[i].Metric, a[i].Expr}
		idx[k] = len(out)
		out = append(out, thresholdPair{Metric: a[i].Metric, Expr: a[i].Expr, Base: &a[i]})
	}
	for i := range b {
		k := [2]string{b[i].Metric, b[i].Expr}
		if j, ok := idx[k]; ok {
			out[j].Cand = &b[i]
			continue
		}
		out = append(out, thresholdPair{Metric: b[i].Metric, Expr: b[i].Expr, Cand: &b[i]})
	}
	return out
}

// pairFailures lines up both runs' failure counts by phase and reason.
func pairFailures(a, b []results.FailureRow) []failurePair {
	var out []failurePair
	idx := map[[2]string]int{}
	for _, f := range a {
		idx[[2]string{f.Phase, f.Reason}] = len(out)
		out = append(out, failurePair{Phase: f.Phase, Reason: f.Reason, Base: fmtInt(f.Count), Cand: "0"})
	}
	for _, f := range b {
		if j, ok := idx[[2]string{f.Phase, f.Reason}]; ok {
			out[j].Cand = fmtInt(f.Count)
			continue
		}
		out = append(out, failurePair{Phase: f.Phase, Reason: f.Reason, Base: "0", Cand: fmtInt(f.Count)})
	}
	return out
}

// compareRates draws both runs' started and succeeded calls per second.
func compareRates(a, b *results.SummaryFile, opts CompareOptions) template.HTML {
	var cs []curve
	end := max(a.Duration, b.Duration)
	for _, x := range []struct {
		s     *results.SummaryFile
		name  string
		color string
	}{{a, opts.BaseName, baseColor}, {b, opts.CandName, candColor}} {
		tl := x.s.Timeline
		if len(tl) > 1 && float64(len(tl)) > x.s.Duration {
			tl = tl[:len(tl)-1]
		}
		started := curve{Name: x.name + " started", Color: x.color}
		failed := curve{Name: x.name + " failed", Color: x.color, Dashed: true}
		for i, bk := range tl {
			started.Pts = append(started.Pts, pt{float64(i) + 0.5, float64(bk.Started)})
			failed.Pts = append(failed.Pts, pt{float64(i) + 0.5, float64(bk.Failed)})
		}
		cs = append(cs, started, failed)
	}
	if allNaN(cs...) {
		return ""
	}
	_, hi := yRange(cs)
	return chart{W: 1120, H: 280, X: timeAxis(end), Y: linearAxis(max(hi, 1), fmtCount), YLabel: "calls/s",
		XLabel: "time since each run's start", Curves: cs, Markers: end <= 30}.svg()
}

// compareTemplate is the comparison page.
const compareTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + styles + `.runs{display:grid;grid-template-columns:1fr 1fr;gap:12px}.run{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;border-top-width:5px}
</style></head><body>
<h1>{{.Title}}</h1>
<div class="runs">
{{range .Runs}}<div class="run" style="border-top-color:{{.Color}}"><b>{{.Role}}: {{.Name}}</b>{{with runName .S}} ({{.}}){{end}}
<div class="meta">started {{.S.Start.UTC.Format "2006-01-02 15:04:05 MST"}} · duration {{dur .S.Duration}}{{range $k, $v := .S.Labels}} · {{$k}}={{$v}}{{end}}</div>
<div>{{if .S.Valid}}<span class="ok">valid</span>{{else}}<span class="fail">INVALID</span>{{end}} · thresholds {{if .S.ThresholdsOK}}<span class="ok">passed</span>{{else}}<span class="fail">crossed</span>{{end}}</div>
{{if .S.InvalidReasons}}<ul class="notes">{{range .S.InvalidReasons}}<li>{{.}}</li>{{end}}</ul>{{end}}</div>
{{end}}</div>

<h2 id="key-figures">Key figures</h2>
<p class="hint">Δ is the candidate minus the baseline. <span class="better">green</span>: better, <span class="worse">red</span>: worse; changes under {{printf "%.0f" 5.0}}% are grey. {{.Better}} better, {{.Worse}} worse.</p>
<table><tr><th class="l">group</th><th class="l">figure</th><th>baseline</th><th>candidate</th><th>Δ</th></tr>
{{range .Rows}}<tr><td class="l">{{if .First}}<b>{{.Group}}</b>{{end}}</td><td class="l">{{.Name}}</td><td>{{.Base}}</td><td>{{.Cand}}</td><td class="{{.Verdict}}">{{.Diff}}</td></tr>
{{end}}</table>

{{if .Thresholds}}<h2 id="thresholds">Thresholds</h2>
<table><tr><th class="l">metric</th><th class="l">expression</th><th>baseline</th><th>candidate</th></tr>
{{range .Thresholds}}<tr><td class="l">{{.Metric}}</td><td class="l">{{.Expr}}</td><td>{{with .Base}}{{.MeasuredText}} {{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAILED</span>{{end}}{{else}}–{{end}}</td><td>{{with .Cand}}{{.MeasuredText}} {{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAILED</span>{{end}}{{else}}–{{end}}</td></tr>
{{end}}</table>{{end}}

<h2 id="failures">Failures</h2>
{{if .Failures}}<table><tr><th class="l">phase</th><th class="l">reason</th><th>baseline</th><th>candidate</th></tr>
{{range .Failures}}<tr><td class="l">{{.Phase}}</td><td class="l">{{.Reason}}</td><td>{{.Base}}</td><td>{{.Cand}}</td></tr>
{{end}}</table>{{else}}<p>No call failed in either run.</p>{{end}}

<h2 id="rate">Rate</h2>
{{if .RateChart}}<div class="plot"><h3>Calls started and failed per second</h3>{{.RateChart}}</div>{{else}}<p>No timeline.</p>{{end}}

<h2 id="latency-over-time">Latency over time</h2>
<p class="hint">p99 (solid) and p50 (dashed) from the scheduled start, time since each run's start.</p>
<div class="grid">
{{range .P99Time}}<div class="plot"><h3>{{.Name}}</h3>{{.SVG}}</div>
{{end}}</div>

<h2 id="percentiles">Latency by percentile</h2>
<div class="grid">
{{range .Percentile}}<div class="plot"><h3>{{.Name}}</h3>{{.SVG}}</div>
{{end}}</div>
<p class="meta">Generated by loadgen from both runs' summary.json and interval logs.</p>
</body></html>
`
