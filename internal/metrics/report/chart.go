package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
)

// logSpread is the max/min ratio above which a latency axis is drawn on a
// log scale: beyond it the fast values would lie flat at zero.
const logSpread = 20

// axis maps values to [0, 1] and knows its ticks.
type axis struct {
	log    bool
	lo, hi float64
	ticks  []float64
	format func(float64) string
}

// frac is where v lies on the axis, 0 at lo and 1 at hi.
func (a axis) frac(v float64) float64 {
	if a.log {
		v = max(v, a.lo)
		return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	if a.hi == a.lo {
		return 0
	}
	return (v - a.lo) / (a.hi - a.lo)
}

// linearAxis runs from 0 to a nice top above hi.
func linearAxis(hi float64, format func(float64) string) axis {
	top, step := niceAxis(max(hi, 0))
	a := axis{lo: 0, hi: top, format: format}
	for v := 0.0; v <= top+step/2; v += step {
		a.ticks = append(a.ticks, v)
	}
	return a
}

// durationAxis is an axis for microsecond values from lo to hi: log scaled
// when hi/lo exceeds logSpread (or force is set), linear from 0 otherwise.
func durationAxis(lo, hi float64, force bool) axis {
	lo, hi = max(lo, 1), max(hi, 1)
	if !force && hi/lo <= logSpread {
		return linearAxis(hi, fmtAxisUS)
	}
	a := axis{log: true, lo: step125(lo, false), hi: step125(hi, true), format: fmtAxisUS}
	if a.hi <= a.lo {
		a.hi = step125(a.lo*1.01, true)
	}
	mults := []float64{1, 2, 5}
	if math.Log10(a.hi/a.lo) > 3.5 {
		mults = []float64{1}
	}
	for d := math.Floor(math.Log10(a.lo)); d <= math.Ceil(math.Log10(a.hi)); d++ {
		for _, m := range mults {
			if v := m * math.Pow(10, d); v >= a.lo*0.9999 && v <= a.hi*1.0001 {
				a.ticks = append(a.ticks, v)
			}
		}
	}
	return a
}

// step125 rounds v down (or up) to 1, 2 or 5 × 10^k.
func step125(v float64, up bool) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	r := v / mag
	if up {
		for _, m := range []float64{1, 2, 5, 10} {
			if r <= m*1.0001 {
				return m * mag
			}
		}
	}
	for _, m := range []float64{5, 2, 1} {
		if r >= m*0.9999 {
			return m * mag
		}
	}
	return mag
}

// timeAxis runs from 0 to the end of the run (seconds), ticks at a nice
// step; the last tick is the run's end when it does not crowd the previous.
func timeAxis(end float64) axis {
	end = max(end, 1e-3)
	_, step := niceAxis(end)
	if end/step < 4 {
		step /= 2
	}
	a := axis{lo: 0, hi: end, format: fmtAxisSeconds}
	for v := 0.0; v <= end+step*1e-6; v += step {
		a.ticks = append(a.ticks, v)
	}
	if last := a.ticks[len(a.ticks)-1]; end-last > step*0.35 {
		a.ticks = append(a.ticks, end)
	}
	return a
}

// pt is one point of a curve; a NaN Y breaks the line.
type pt struct{ X, Y float64 }

// curve is one series of a chart. Bars are stacked in the order given,
// each Width wide (x units) starting at X.
type curve struct {
	Name   string
	Color  string
	Dashed bool
	Bars   bool
	Width  float64
	Pts    []pt
}

// chart is an SVG plot of curves over an x and a y axis.
type chart struct {
	W, H   int
	X, Y   axis
	XLabel string
	YLabel string
	Curves []curve
	// Markers draws a dot on every point (few points).
	Markers bool
}

// svg renders the chart.
func (c chart) svg() template.HTML {
	const ml, mr, mt = plotLeft, 24, plotTop
	legendRows := c.legendRows()
	mb := 38 + 18*legendRows
	if c.XLabel == "" {
		mb -= 14
	}
	f := plotArea{chart: c, w: float64(c.W - ml - mr), h: float64(c.H - mt - mb)}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="12">`, c.W, c.H, c.W, c.H)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="#fff" stroke="#ccc"/>`, ml, mt, f.w, f.h)
	f.grid(&b)
	// Stacked bars first, lines over them.
	f.bars(&b)
	f.lines(&b)
	c.legend(&b, ml, float64(c.H-18*legendRows)+4)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels
}

// plotArea is a chart's plot: w by h pixels, its top left corner at
// (plotLeft, plotTop).
type plotArea struct {
	chart
	w, h float64
}

const (
	plotLeft = 78 // room for the y ticks and label
	plotTop  = 14
)

// x is the pixel column of the value v.
func (f plotArea) x(v float64) float64 { return plotLeft + f.w*f.X.frac(v) }

// y is the pixel row of the value v.
func (f plotArea) y(v float64) float64 { return plotTop + f.h*(1-f.Y.frac(v)) }

// grid draws the tick lines, tick labels and axis labels.
func (f plotArea) grid(b *strings.Builder) {
	const ml, mt = plotLeft, plotTop
	for _, v := range f.Y.ticks {
		fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, ml, ml+f.w, f.y(v), f.y(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, ml-6, f.y(v), template.HTMLEscapeString(f.Y.format(v)))
	}
	for _, v := range f.X.ticks {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#f1f1f1"/>`, f.x(v), f.x(v), mt, mt+f.h)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, f.x(v), mt+f.h+16, template.HTMLEscapeString(f.X.format(v)))
	}
	if f.XLabel != "" {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`, ml+f.w/2, mt+f.h+31, template.HTMLEscapeString(f.XLabel))
	}
	if f.YLabel != "" {
		fmt.Fprintf(b, `<text x="13" y="%.1f" transform="rotate(-90 13 %.1f)" text-anchor="middle" fill="#444">%s</text>`, mt+f.h/2, mt+f.h/2, template.HTMLEscapeString(f.YLabel))
	}
}

// bars draws the bar curves, stacked.
func (f plotArea) bars(b *strings.Builder) {
	stack := map[float64]float64{}
	for _, cv := range f.Curves {
		if !cv.Bars {
			continue
		}
		for _, p := range cv.Pts {
			if p.Y <= 0 || math.IsNaN(p.Y) {
				continue
			}
			base := stack[p.X]
			x0, x1 := f.x(p.X), f.x(min(p.X+cv.Width, f.X.hi))
			wid := max((x1-x0)*0.85, 1)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
				x0+(x1-x0)*0.075, f.y(base+p.Y), wid, max(f.y(base)-f.y(base+p.Y), 0.5), cv.Color,
				template.HTMLEscapeString(cv.Name), fmtCount(p.Y))
			stack[p.X] = base + p.Y
		}
	}
}

// lines draws the line curves over the bars: gaps (NaN) break a line, and
// lone points are dots.
func (f plotArea) lines(b *strings.Builder) {
	for _, cv := range f.Curves {
		if cv.Bars {
			continue
		}
		dash := ""
		if cv.Dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, cv.Color, dash, strings.Join(seg, " "))
			}
			seg = seg[:0]
		}
		for _, p := range cv.Pts {
			if math.IsNaN(p.Y) {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", f.x(p.X), f.y(p.Y)))
		}
		flush()
		// A lone point between gaps is drawn as a dot, as are all points
		// of a short series.
		for i, p := range cv.Pts {
			if math.IsNaN(p.Y) {
				continue
			}
			lone := (i == 0 || math.IsNaN(cv.Pts[i-1].Y)) && (i == len(cv.Pts)-1 || math.IsNaN(cv.Pts[i+1].Y))
			if f.Markers || lone {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, f.x(p.X), f.y(p.Y), cv.Color)
			}
		}
	}
}

// legendWidth is the room one legend entry takes.
func legendWidth(name string) float64 { return 36 + 6.6*float64(len([]rune(name))) }

// legendRows is how many rows the legend wraps onto.
func (c chart) legendRows() int {
	rows, lx := 1, 78.0
	for _, cv := range c.Curves {
		w := legendWidth(cv.Name)
		if lx+w > float64(c.W) && lx > 78 {
			rows, lx = rows+1, 78
		}
		lx += w
	}
	return rows
}

// legend draws the curves' names from (x0, y0), wrapping.
func (c chart) legend(b *strings.Builder, x0, y0 float64) {
	lx, ly := x0, y0
	for _, cv := range c.Curves {
		w := legendWidth(cv.Name)
		if lx+w > float64(c.W) && lx > x0 {
			lx, ly = x0, ly+18
		}
		if cv.Bars {
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="16" height="10" fill="%s"/>`, lx+3, ly-5, cv.Color)
		} else {
			dash := ""
			if cv.Dashed {
				dash = ` stroke-dasharray="6,4"`
			}
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="3"%s/>`, lx, lx+22, ly, ly, cv.Color, dash)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`, lx+27, ly, template.HTMLEscapeString(cv.Name))
		lx += w
	}
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
// (one in n values: 1/(1−q) ≤ n), at least 99 % and at most 99.999 %. The
// latency axis is log-scaled when the values span more than logSpread.
func percentilePlot(ss []series, w, h int) template.HTML {
	var maxN int64
	lo, hi := math.Inf(1), 1.0
	for _, s := range ss {
		maxN = max(maxN, s.H.TotalCount())
		lo = min(lo, float64(max(s.H.Min(), 1)))
		hi = max(hi, float64(s.H.Max()))
	}
	decades := min(max(math.Ceil(math.Log10(float64(max(maxN, 1)))), 2), 5)
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	xa := axis{lo: 0, hi: decades, format: func(d float64) string {
		if math.Abs(d-math.Log10(2)) < 1e-9 {
			return "50%"
		}
		return labels[int(math.Round(d))]
	}}
	xa.ticks = []float64{0, math.Log10(2)}
	for d := 1.0; d <= decades; d++ {
		xa.ticks = append(xa.ticks, d)
	}
	c := chart{W: w, H: h, X: xa, Y: durationAxis(lo, hi, false), XLabel: "percentile (log scale of 1/(1−q))"}
	const steps = 200
	for _, s := range ss {
		cv := curve{Name: fmt.Sprintf("%s (n=%s)", s.Name, fmtCount(float64(s.H.TotalCount()))), Color: s.Color, Dashed: s.Dashed}
		for i := 0; i <= steps; i++ {
			dec := decades * float64(i) / steps
			q := 100 * (1 - math.Pow(10, -dec))
			cv.Pts = append(cv.Pts, pt{dec, float64(s.H.ValueAtQuantile(q))})
		}
		c.Curves = append(c.Curves, cv)
	}
	return c.svg()
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
	return math.Ceil(v/step-1e-9) * step, step
}

// trimFloat prints v with up to 3 decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// sig3 prints v with 3 significant digits at most, no trailing zeros.
func sig3(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case a >= 10:
		return trimFloat(math.Round(v*10) / 10)
	default:
		return trimFloat(math.Round(v*100) / 100)
	}
}

// fmtCount prints a count or rate readably: 950, 1.2k, 35k, 1.5M.
func fmtCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return sig3(v/1e9) + "G"
	case a >= 1e6:
		return sig3(v/1e6) + "M"
	case a >= 1e3:
		return sig3(v/1e3) + "k"
	default:
		return sig3(v)
	}
}

// fmtUS prints microseconds as a readable duration: 850 µs, 35 ms,
// 1.5 s, 2m 5s.
func fmtUS(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 1e3:
		return sig3(v) + " µs"
	case a < 1e6:
		return sig3(v/1e3) + " ms"
	case a < 60e6:
		return sig3(v/1e6) + " s"
	default:
		d := time.Duration(v) * time.Microsecond
		m := int(d / time.Minute)
		s := int(math.Round((d - time.Duration(m)*time.Minute).Seconds()))
		if s == 60 {
			m, s = m+1, 0
		}
		if m >= 60 {
			return fmt.Sprintf("%dh %dm", m/60, m%60)
		}
		return fmt.Sprintf("%dm %ds", m, s)
	}
}

// fmtUSi is fmtUS for an integer histogram value.
func fmtUSi(v int64) string { return fmtUS(float64(v)) }

// fmtAxisUS labels a duration axis tick.
func fmtAxisUS(v float64) string { return fmtUS(v) }

// fmtAxisSeconds labels a time axis tick: 0s, 15s, 1m30s, 1h5m.
func fmtAxisSeconds(v float64) string {
	switch {
	case v < 60:
		return trimFloat(math.Round(v*10)/10) + "s"
	case v < 3600:
		m, s := int(v)/60, math.Round(math.Mod(v, 60))
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%.0fs", m, s)
	default:
		h, m := int(v)/3600, int(math.Round(math.Mod(v, 3600)/60))
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
}

// fmtPct prints a ratio as a percentage with sensible precision.
func fmtPct(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	switch p := 100 * r; {
	case p == 0:
		return "0%"
	case math.Abs(p) < 0.1:
		return strconv.FormatFloat(p, 'f', 3, 64) + "%"
	case math.Abs(p) < 10:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	default:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
}

// phaseColor gives each phase a distinct colour.
func phaseColor(p metrics.Phase) string {
	colors := [...]string{
		"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf",
	}
	if p < 0 || int(p) >= len(colors) {
		return "#000"
	}
	return colors[p]
}

// categoryColor colours the i-th category (a failure reason); the last
// colour, grey, is for "other".
func categoryColor(i int) string {
	colors := [...]string{"#dc2626", "#f59e0b", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#6b7280"}
	return colors[min(max(i, 0), len(colors)-1)]
}
