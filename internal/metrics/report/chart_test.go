package report

import (
	"slices"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"count", fmtCount(950), "950"},
		{"count k", fmtCount(1234), "1.23k"},
		{"count 35k", fmtCount(35_400), "35.4k"},
		{"count M", fmtCount(1_500_000), "1.5M"},
		{"rate", fmtCount(2.994), "2.99"},
		{"µs", fmtUS(850), "850 µs"},
		{"ms", fmtUS(35_000), "35 ms"},
		{"ms frac", fmtUS(1_234), "1.23 ms"},
		{"s", fmtUS(1_500_000), "1.5 s"},
		{"min", fmtUS(125e6), "2m 5s"},
		{"zero", fmtUS(0), "0"},
		{"seconds", fmtAxisSeconds(33.3), "33.3s"},
		{"minutes", fmtAxisSeconds(90), "1m30s"},
		{"hours", fmtAxisSeconds(3900), "1h5m"},
		{"pct", fmtPct(0.0123), "1.23%"},
		{"pct small", fmtPct(0.0001), "0.010%"},
		{"int", fmtInt(1234567), "1\u202f234\u202f567"},
		{"bytes", fmtBytes(201901), "202kB"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestDurationAxis(t *testing.T) {
	tests := []struct {
		name    string
		lo, hi  float64
		force   bool
		log     bool
		axLo    float64
		axHi    float64
		minTick int
	}{
		{"narrow: linear from 0", 500e3, 620e3, false, false, 0, 800e3, 4},
		{"ms and s: log", 800, 600e3, false, true, 500, 1e6, 6},
		{"forced log", 500e3, 620e3, true, true, 500e3, 1e6, 2},
		{"many decades: decade ticks", 10, 50e6, false, true, 10, 50e6, 6},
	}
	for _, tc := range tests {
		a := durationAxis(tc.lo, tc.hi, tc.force)
		if a.log != tc.log || a.lo != tc.axLo || a.hi != tc.axHi || len(a.ticks) < tc.minTick {
			t.Errorf("%s: durationAxis(%v, %v) = log %v [%v, %v] %d ticks; want log %v [%v, %v] ≥%d ticks",
				tc.name, tc.lo, tc.hi, a.log, a.lo, a.hi, len(a.ticks), tc.log, tc.axLo, tc.axHi, tc.minTick)
		}
		if a.frac(tc.lo) < -1e-9 || a.frac(tc.hi) > 1+1e-9 {
			t.Errorf("%s: data outside the axis: %v, %v", tc.name, a.frac(tc.lo), a.frac(tc.hi))
		}
	}
}

func TestTimeAxis(t *testing.T) {
	tests := []struct {
		end   float64
		ticks []float64
	}{
		{33.3, []float64{0, 5, 10, 15, 20, 25, 30, 33.3}},
		{90, []float64{0, 20, 40, 60, 80, 90}},
		{60, []float64{0, 10, 20, 30, 40, 50, 60}},
		{5.6, []float64{0, 1, 2, 3, 4, 5, 5.6}},
	}
	for _, tc := range tests {
		a := timeAxis(tc.end)
		if a.hi != tc.end || !slices.Equal(a.ticks, tc.ticks) {
			t.Errorf("timeAxis(%v) = [0, %v] ticks %v; want [0, %v] ticks %v", tc.end, a.hi, a.ticks, tc.end, tc.ticks)
		}
	}
}

func TestNiceAxis(t *testing.T) {
	tests := []struct{ v, top, step float64 }{
		{1, 1, 0.2}, {7, 8, 2}, {10, 10, 2}, {95, 100, 20}, {1234, 1500, 500}, {0, 1, 0.25},
	}
	for _, tc := range tests {
		top, step := niceAxis(tc.v)
		if top != tc.top || step != tc.step {
			t.Errorf("niceAxis(%v) = %v, %v; want %v, %v", tc.v, top, step, tc.top, tc.step)
		}
	}
}
