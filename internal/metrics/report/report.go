// Package report renders a run's result directory (summary.json and the
// HdrHistogram interval logs written by package metrics) as one
// self-contained HTML file: inline SVG and CSS, no script, nothing fetched
// from the network.
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
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// FileName is the report's name inside the result directory.
const FileName = "report.html"

// Data is what the report shows: the run summary and, per phase, the
// histograms read back from the interval logs (nil when a log is absent).
type Data struct {
	Summary *results.SummaryFile
	// Scheduled and Service are indexed by metrics.Phase.
	Scheduled [metrics.NumPhases]*hdrhistogram.Histogram
	Service   [metrics.NumPhases]*hdrhistogram.Histogram
}

// Load reads dir/summary.json and the interval logs it names.
func Load(dir string) (*Data, error) {
	f, err := os.Open(filepath.Join(dir, results.SummaryFileName))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	sf, err := results.ReadSummaryFile(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	d := &Data{Summary: sf}
	for _, ps := range sf.Phases {
		p, ok := metrics.ParsePhase(ps.Phase)
		if !ok {
			return nil, fmt.Errorf("report: summary.json: unknown phase %q", ps.Phase)
		}
		for _, x := range []struct {
			name string
			dst  **hdrhistogram.Histogram
		}{{ps.Log, &d.Scheduled[p]}, {ps.ServiceLog, &d.Service[p]}} {
			if x.name == "" {
				continue
			}
			_, total, err := results.ReadHlog(filepath.Join(dir, filepath.Base(x.name)))
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			*x.dst = total
		}
	}
	return d, nil
}

// Write reads the result directory and writes dir/report.html, returning
// its path.
func Write(dir string) (string, error) {
	d, err := Load(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName)
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := WriteHTML(bw, d); err != nil {
		return "", errors.Join(err, f.Close())
	}
	if err := bw.Flush(); err != nil {
		return "", errors.Join(fmt.Errorf("report: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}

// page is the template's data.
type page struct {
	Title      string
	S          *results.SummaryFile
	Verdict    string
	Overview   template.HTML
	Phases     []phasePlot
	RateChart  template.HTML
	LoadChart  template.HTML
	PhaseRows  []phaseRow
	Failures   []failureRow
	Thresholds []results.ThresholdSummary
	MediaRows  [][2]string
	Lag        string
	Generated  string
}

type phasePlot struct {
	Name string
	SVG  template.HTML
}

type phaseRow struct {
	Phase, Timing                        string
	Count                                int64
	Min, P50, P90, P99, P999, P9999, Max string
	First                                bool
}

type failureRow struct {
	Phase, Reason string
	Count         uint64
	Share         string
}

// WriteHTML renders the report.
func WriteHTML(w io.Writer, d *Data) error {
	s := d.Summary
	if s == nil {
		return errors.New("report: no summary")
	}
	pg := page{Title: "loadgen report", S: s, Generated: s.End.UTC().Format(time.RFC3339)}
	if s.Title != "" {
		pg.Title += ": " + s.Title
	}
	pg.Verdict = "VALID: the generator kept up; these numbers describe the system under test."
	if !s.Valid {
		pg.Verdict = "INVALID: the generator itself was a bottleneck; these numbers describe loadgen, not the system under test."
	}

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
		pg.Phases = append(pg.Phases, phasePlot{Name: p.String(), SVG: percentilePlot(ss, 560, 300)})
	}
	if len(all) > 0 {
		pg.Overview = percentilePlot(all, 1120, 420)
	}
	pg.RateChart, pg.LoadChart = timelineCharts(s.Timeline, s.Duration)

	for _, ps := range s.Phases {
		for i, t := range []struct {
			name string
			st   metrics.HistogramStats
		}{{"scheduled", ps.Scheduled}, {"service", ps.Service}} {
			if ps.Phase == metrics.PhaseEnd.String() && i == 1 {
				continue
			}
			r := phaseRow{Phase: ps.Phase, Timing: t.name, Count: t.st.Count, First: i == 0}
			if t.st.Count > 0 {
				r.Min, r.P50, r.P90, r.P99 = fmtUS(t.st.Min), fmtUS(t.st.P50), fmtUS(t.st.P90), fmtUS(t.st.P99)
				r.P999, r.P9999, r.Max = fmtUS(t.st.P999), fmtUS(t.st.P9999), fmtUS(t.st.Max)
			}
			pg.PhaseRows = append(pg.PhaseRows, r)
		}
	}
	finished := max(s.Calls.Succeeded+s.Calls.Failed+s.Calls.Aborted, 1)
	for _, f := range s.Failures {
		pg.Failures = append(pg.Failures, failureRow{Phase: f.Phase, Reason: f.Reason, Count: f.Count,
			Share: fmt.Sprintf("%.2f%%", 100*float64(f.Count)/float64(finished))})
	}
	pg.Thresholds = s.Thresholds
	if l := s.Lag; l.Count > 0 {
		pg.Lag = fmt.Sprintf("p50 %s · p90 %s · p99 %s · p99.9 %s · max %s", fmtUS(l.P50), fmtUS(l.P90), fmtUS(l.P99), fmtUS(l.P999), fmtUS(l.Max))
	}
	m := s.Media
	if m.Calls > 0 {
		loss := "n/a"
		if m.LossRate != nil {
			loss = fmt.Sprintf("%.3f%%", 100**m.LossRate)
		}
		pg.MediaRows = [][2]string{
			{"calls with media", fmt.Sprint(m.Calls)},
			{"packets sent / received / lost", fmt.Sprintf("%d / %d / %d", m.PacketsSent, m.PacketsReceived, m.PacketsLost)},
			{"bytes sent / received", fmt.Sprintf("%d / %d", m.BytesSent, m.BytesReceived)},
			{"loss", loss},
			{"wrong stream received", fmt.Sprint(m.IntegrityFailures)},
		}
		if m.Jitter.Count > 0 {
			pg.MediaRows = append(pg.MediaRows, [2]string{"jitter p50 / p99 / max", fmtUS(m.Jitter.P50) + " / " + fmtUS(m.Jitter.P99) + " / " + fmtUS(m.Jitter.Max)})
		}
		if m.RTT.Count > 0 {
			pg.MediaRows = append(pg.MediaRows, [2]string{"RTT p50 / p99 / max", fmtUS(m.RTT.P50) + " / " + fmtUS(m.RTT.P99) + " / " + fmtUS(m.RTT.Max)})
		}
		if m.MOS.Count > 0 {
			pg.MediaRows = append(pg.MediaRows, [2]string{"MOS avg / min / max (E-model)",
				fmt.Sprintf("%.2f / %.2f / %.2f", m.MOS.Mean/metrics.MOSScale, float64(m.MOS.Min)/metrics.MOSScale, float64(m.MOS.Max)/metrics.MOSScale)})
		}
	}
	t, err := template.New("report").Funcs(template.FuncMap{
		"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
		"rate": func(f float64) string { return fmt.Sprintf("%.2f", f) },
		"dur": func(sec float64) string {
			return metrics.FormatDuration(time.Duration(sec * float64(time.Second)).Round(time.Millisecond))
		},
	}).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report: template: %w", err)
	}
	if err := t.Execute(w, pg); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// fmtUS formats microseconds.
func fmtUS(v int64) string { return metrics.FormatDuration(time.Duration(v) * time.Microsecond) }

// phaseColor gives each phase a distinct colour in the overview plot.
func phaseColor(p metrics.Phase) string {
	colors := [metrics.NumPhases]string{
		"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
	}
	if p < 0 || p >= metrics.NumPhases {
		return "#000"
	}
	return colors[p]
}

// series is one curve of a percentile plot.
type series struct {
	Name   string
	Color  string
	Dashed bool
	H      *hdrhistogram.Histogram
}

// percentilePlot draws latency by percentile with the percentile axis in
// 1/(1−q), log-scaled, as HdrHistogram's plotter does: 0%, 90%, 99%, 99.9%
// ... are evenly spaced. The x range ends at the decade the data supports
// (one in n values: 1/(1−q) ≤ n), at least 99 % and at most 99.999 %.
func percentilePlot(ss []series, w, h int) template.HTML {
	const ml, mr, mt = 70, 36, 16
	// The legend takes one row per few series.
	rows := 1
	for lx, i := float64(ml), 0; i < len(ss); i++ {
		width := 40 + 6.5*float64(len(fmt.Sprintf("%s (n=%d)", ss[i].Name, ss[i].H.TotalCount())))
		if lx+width > float64(w) && lx > ml {
			lx, rows = ml, rows+1
		}
		lx += width
	}
	mb := 42 + 16*rows
	h += 16 * (rows - 1)
	pw, ph := float64(w-ml-mr), float64(h-mt-mb)
	var maxN int64
	var maxV int64
	for _, s := range ss {
		maxN = max(maxN, s.H.TotalCount())
		maxV = max(maxV, s.H.Max())
	}
	decades := math.Ceil(math.Log10(float64(maxN)))
	decades = min(max(decades, 2), 5)
	yMax, yStep, unit, div := niceDurationAxis(maxV)
	x := func(dec float64) float64 { return ml + pw*dec/decades }
	y := func(v float64) float64 { return mt + ph*(1-v/yMax) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="#fff" stroke="#ccc"/>`, ml, mt, pw, ph)
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, ml, ml+pw, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, ml-6, y(v), trimFloat(v/div)+unit)
	}
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	for dec := 0.0; dec <= decades; dec++ {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#ddd"/>`, x(dec), x(dec), mt, mt+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(dec), mt+ph+16, labels[int(dec)])
	}
	// 50 % sits at 1/(1−q) = 2.
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#eee" stroke-dasharray="3,3"/>`, x(math.Log10(2)), x(math.Log10(2)), mt, mt+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#666">50%%</text>`, x(math.Log10(2)), mt+ph+16)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">percentile (log scale of 1/(1−q))</text>`, ml+pw/2, mt+ph+32)

	const steps = 200
	for _, s := range ss {
		var pts strings.Builder
		for i := 0; i <= steps; i++ {
			dec := decades * float64(i) / steps
			q := 100 * (1 - math.Pow(10, -dec))
			v := float64(s.H.ValueAtQuantile(q))
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(dec), y(v))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.Color, dash, strings.TrimSpace(pts.String()))
	}
	// Legend along the bottom, wrapping onto more rows.
	lx, ly := float64(ml), float64(h-mb+44)
	for _, s := range ss {
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		label := fmt.Sprintf("%s (n=%d)", s.Name, s.H.TotalCount())
		width := 40 + 6.5*float64(len(label))
		if lx+width > float64(w) && lx > ml {
			lx, ly = ml, ly+16
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="3"%s/>`, lx, lx+22, ly, ly, s.Color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`, lx+27, ly, template.HTMLEscapeString(label))
		lx += width
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels
}

// niceDurationAxis picks a y range for microsecond values: the top, the
// tick step, the unit label and the divisor from µs to that unit.
func niceDurationAxis(maxUS int64) (top, step float64, unit string, div float64) {
	top, step = niceAxis(float64(max(maxUS, 1)))
	switch {
	case top >= 1e6:
		return top, step, "s", 1e6
	case top >= 1e3:
		return top, step, "ms", 1e3
	default:
		return top, step, "µs", 1
	}
}

// niceAxis returns a top ≥ v and a step dividing it into 4-8 ticks of
// 1, 2 or 5 × 10^k.
func niceAxis(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.25
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch r := raw / mag; {
	case r <= 1:
		step = mag
	case r <= 2:
		step = 2 * mag
	case r <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	return math.Ceil(v/step) * step, step
}

// trimFloat prints v with up to 3 decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// timelineCharts draws the per-second rates (target, started, succeeded,
// failed and dropped) and the calls in progress.
func timelineCharts(tl []metrics.TimelineBucket, duration float64) (rate, load template.HTML) {
	// The last bucket is usually a partial second; drawn as a full one
	// it would show a false drop.
	if len(tl) > 1 && float64(len(tl)) > duration {
		tl = tl[:len(tl)-1]
	}
	if len(tl) == 0 {
		return "", ""
	}
	n := len(tl)
	get := func(f func(b metrics.TimelineBucket) float64) []float64 {
		out := make([]float64, n)
		for i, b := range tl {
			out[i] = f(b)
		}
		return out
	}
	rate = lineChart(1120, 320, "calls/s", []line{
		{"target rate", "#6b7280", true, false, get(func(b metrics.TimelineBucket) float64 { return b.TargetRate })},
		{"started", "#1f6feb", false, false, get(func(b metrics.TimelineBucket) float64 { return float64(b.Started) })},
		{"succeeded", "#16a34a", false, false, get(func(b metrics.TimelineBucket) float64 { return float64(b.Succeeded) })},
		{"failed", "#dc2626", false, true, get(func(b metrics.TimelineBucket) float64 { return float64(b.Failed) })},
		{"dropped", "#9333ea", false, true, get(func(b metrics.TimelineBucket) float64 { return float64(b.Dropped) })},
	})
	load = lineChart(1120, 240, "calls", []line{
		{"in progress", "#0e7490", false, false, get(func(b metrics.TimelineBucket) float64 { return float64(b.InProgress) })},
	})
	return rate, load
}

// line is one timeline series; Bars draws it as bars.
type line struct {
	Name   string
	Color  string
	Dashed bool
	Bars   bool
	V      []float64
}

// lineChart draws series over seconds.
func lineChart(w, h int, yLabel string, ls []line) template.HTML {
	const ml, mr, mt, mb = 70, 36, 16, 58
	pw, ph := float64(w-ml-mr), float64(h-mt-mb)
	n := len(ls[0].V)
	var maxV float64
	for _, l := range ls {
		for _, v := range l.V {
			maxV = max(maxV, v)
		}
	}
	top, step := niceAxis(max(maxV, 1))
	xTop, xStep := niceAxis(float64(max(n, 1)))
	x := func(sec float64) float64 { return ml + pw*sec/xTop }
	y := func(v float64) float64 { return mt + ph*(1-v/top) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="#fff" stroke="#ccc"/>`, ml, mt, pw, ph)
	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, ml, ml+pw, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, ml-6, y(v), trimFloat(v))
	}
	for s := 0.0; s <= xTop+xStep/2; s += xStep {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(s), mt+ph+16, trimFloat(s)+"s")
	}
	fmt.Fprintf(&b, `<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle" fill="#444">%s</text>`, mt+ph/2, mt+ph/2, yLabel)
	bw := max(pw/xTop*0.8/2, 0.5)
	bi := 0
	for _, l := range ls {
		if l.Bars {
			for i, v := range l.V {
				if v > 0 {
					fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x(float64(i))+float64(bi)*bw, y(v), bw, y(0)-y(v), l.Color)
				}
			}
			bi++
			continue
		}
		var pts strings.Builder
		for i, v := range l.V {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(float64(i)+0.5), y(v))
		}
		dash := ""
		if l.Dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, l.Color, dash, strings.TrimSpace(pts.String()))
	}
	lx := float64(ml)
	for _, l := range ls {
		if l.Bars {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="14" height="10" fill="%s"/>`, lx+4, h-13, l.Color)
		} else {
			dash := ""
			if l.Dashed {
				dash = ` stroke-dasharray="6,4"`
			}
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="3"%s/>`, lx, lx+22, h-8, h-8, l.Color, dash)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" dominant-baseline="middle">%s</text>`, lx+27, h-8, template.HTMLEscapeString(l.Name))
		lx += 40 + 7*float64(len(l.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels
}

// pageTemplate is the whole report page.
const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111;background:#fafafa;max-width:1160px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}
.verdict{padding:10px 14px;border-radius:6px;margin:14px 0;font-weight:600}
.valid{background:#dcfce7;border:1px solid #16a34a}.invalid{background:#fee2e2;border:1px solid #dc2626}
.verdict ul{margin:6px 0 0;font-weight:normal}.notes{color:#555;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px}th,td{border:1px solid #ddd;padding:4px 10px;text-align:right}
th{background:#f3f4f6}td.l,th.l{text-align:left}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}.plot{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px}
.plot h3{font-size:14px;margin:2px 6px 4px}svg{max-width:100%;height:auto}
.ok{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}
</style></head><body>
<h1>{{.Title}}</h1>
<div class="meta">started {{.S.Start.UTC.Format "2006-01-02 15:04:05 MST"}} · duration {{dur .S.Duration}} · schema {{.S.Schema}}{{range $k, $v := .S.Labels}} · {{$k}}={{$v}}{{end}}</div>
<div class="verdict {{if .S.Valid}}valid{{else}}invalid{{end}}">{{.Verdict}}{{if .S.InvalidReasons}}<ul>{{range .S.InvalidReasons}}<li>{{.}}</li>{{end}}</ul>{{end}}</div>
{{if .S.Notes}}<div class="notes">{{range .S.Notes}}<div>note: {{.}}</div>{{end}}</div>{{end}}

<h2>Calls</h2>
<div class="cards">
<div class="card"><b>{{rate .S.Rate.Achieved}}</b><span>achieved calls/s</span></div>
<div class="card"><b>{{rate .S.Rate.TargetMean}}</b><span>target calls/s (mean)</span></div>
<div class="card"><b>{{.S.Calls.Attempted}}</b><span>attempted</span></div>
<div class="card"><b>{{.S.Calls.Succeeded}}</b><span>succeeded</span></div>
<div class="card"><b>{{.S.Calls.Failed}}</b><span>failed</span></div>
<div class="card"><b>{{.S.Calls.Aborted}}</b><span>aborted</span></div>
<div class="card"><b>{{.S.Calls.Dropped}}</b><span>dropped (cap full)</span></div>
{{with .S.CPU}}<div class="card"><b>{{pct .Utilization}}</b><span>generator CPU of {{.CPUs}} (peak {{pct .Peak}})</span></div>{{end}}
</div>

<h2>Timeline</h2>
<div class="plot"><h3>Rate per second</h3>{{.RateChart}}</div>
<div class="plot" style="margin-top:12px"><h3>Calls in progress</h3>{{.LoadChart}}</div>

<h2>Latency by percentile</h2>
{{if .Overview}}<div class="plot"><h3>All phases, from the scheduled start</h3>{{.Overview}}</div>{{else}}<p>No phase was measured.</p>{{end}}
<div class="grid" style="margin-top:12px">
{{range .Phases}}<div class="plot"><h3>{{.Name}}</h3>{{.SVG}}</div>
{{end}}</div>

<h2>Phase times</h2>
<table><tr><th class="l">phase</th><th class="l">timing</th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr>
{{range .PhaseRows}}<tr><td class="l">{{if .First}}{{.Phase}}{{end}}</td><td class="l">{{.Timing}}</td><td>{{.Count}}</td><td>{{.Min}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.P9999}}</td><td>{{.Max}}</td></tr>
{{end}}<tr><td class="l">scheduler lag</td><td class="l"></td><td>{{.S.Lag.Count}}</td><td colspan="8" class="l">{{.Lag}}</td></tr>
</table>

<h2>Failures</h2>
{{if .Failures}}<table><tr><th class="l">phase</th><th class="l">reason</th><th>calls</th><th>of finished</th></tr>
{{range .Failures}}<tr><td class="l">{{.Phase}}</td><td class="l">{{.Reason}}</td><td>{{.Count}}</td><td>{{.Share}}</td></tr>
{{end}}</table>{{else}}<p>No call failed.</p>{{end}}

<h2>Media</h2>
{{if .MediaRows}}<table>{{range .MediaRows}}<tr><td class="l">{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>{{else}}<p>No call reported media.</p>{{end}}

{{if .Thresholds}}<h2>Thresholds</h2>
<table><tr><th class="l">metric</th><th class="l">expression</th><th>measured</th><th class="l">result</th></tr>
{{range .Thresholds}}<tr><td class="l">{{.Metric}}</td><td class="l">{{.Expr}}</td><td>{{.MeasuredText}}</td><td class="l">{{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAILED</span>{{end}}</td></tr>
{{end}}</table>{{end}}
<p class="meta">Generated by loadgen from {{.S.Schema}} and the HdrHistogram interval logs; snapshot taken {{.Generated}}.</p>
</body></html>
`
