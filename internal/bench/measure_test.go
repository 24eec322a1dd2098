package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// ticks builds samples every 250 ms from t0 with the given cumulative ticks.
func ticks(vs ...uint64) []Sample {
	s := make([]Sample, len(vs))
	for i, v := range vs {
		s[i] = Sample{T: at(time.Duration(i) * 250 * time.Millisecond), CPUTicks: v, RSSKB: int64(1000 + 10*i), FDs: i}
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 || (math.IsNaN(a) && math.IsNaN(b)) }

func TestWindowCPU(t *testing.T) {
	s := ticks(0, 10, 20, 30, 40) // 10 ticks per 250 ms = 0.4 CPU at 100 Hz
	slack := 500 * time.Millisecond
	tests := []struct {
		name     string
		from, to time.Duration
		hz       int64
		want     float64
		wantErr  bool
	}{
		{name: "on samples", from: 250 * time.Millisecond, to: time.Second, hz: 100, want: 0.3},
		{name: "interpolated", from: 125 * time.Millisecond, to: 625 * time.Millisecond, hz: 100, want: 0.2},
		{name: "other tick rate", from: 0, to: time.Second, hz: 250, want: 40.0 / 250},
		{name: "end within slack", from: 0, to: 1250 * time.Millisecond, hz: 100, want: 0.4},
		{name: "end beyond slack", from: 0, to: 2 * time.Second, hz: 100, wantErr: true},
		{name: "start before slack", from: -time.Second, to: time.Second, hz: 100, wantErr: true},
		{name: "empty window", from: time.Second, to: time.Second, hz: 100, wantErr: true},
		{name: "bad tick rate", from: 0, to: time.Second, hz: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WindowCPU(s, NewWindow(at(tt.from), at(tt.to)), tt.hz, slack)
			if (err != nil) != tt.wantErr {
				t.Fatalf("WindowCPU() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !near(got, tt.want) {
				t.Errorf("WindowCPU() = %g, want %g", got, tt.want)
			}
		})
	}
	if _, err := WindowCPU(nil, NewWindow(t0, at(time.Second)), 100, slack); err == nil {
		t.Error("WindowCPU(no samples): no error")
	}
}

func TestWindowMedianAndMax(t *testing.T) {
	s := ticks(0, 0, 0, 0, 0) // RSS 1000, 1010, 1020, 1030, 1040
	rssOf := func(s Sample) float64 { return float64(s.RSSKB) }
	tests := []struct {
		name            string
		from, to        time.Duration
		median, maximum float64
	}{
		{name: "odd count", from: 0, to: 500 * time.Millisecond, median: 1010, maximum: 1020},
		{name: "even count", from: 250 * time.Millisecond, to: time.Second, median: 1025, maximum: 1040},
		{name: "none inside", from: 300 * time.Millisecond, to: 400 * time.Millisecond, median: math.NaN(), maximum: math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(at(tt.from), at(tt.to))
			if got := WindowMedian(s, w, rssOf); !near(got, tt.median) {
				t.Errorf("WindowMedian() = %g, want %g", got, tt.median)
			}
			if got := WindowMax(s, w, rssOf); !near(got, tt.maximum) {
				t.Errorf("WindowMax() = %g, want %g", got, tt.maximum)
			}
		})
	}
}

func TestScrapeMedian(t *testing.T) {
	sc := []Scrape{{T: at(time.Second), Goroutines: 100}, {T: at(2 * time.Second), Goroutines: 300}, {T: at(3 * time.Second), Goroutines: 200}}
	tests := []struct {
		name     string
		from, to time.Duration
		want     float64
	}{
		{name: "inside", from: 0, to: 10 * time.Second, want: 200},
		{name: "one inside", from: 1500 * time.Millisecond, to: 2500 * time.Millisecond, want: 300},
		{name: "nearest to the middle", from: 3100 * time.Millisecond, to: 5 * time.Second, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScrapeMedian(sc, NewWindow(at(tt.from), at(tt.to))); got != tt.want {
				t.Errorf("ScrapeMedian() = %g, want %g", got, tt.want)
			}
		})
	}
	if got := ScrapeMedian(nil, NewWindow(t0, at(time.Second))); !math.IsNaN(got) {
		t.Errorf("ScrapeMedian(none) = %g, want NaN", got)
	}
}

// call builds a calls.jsonl line with media from dtls to end (offsets from
// t0) carrying sent+received packets.
func call(dtls, media, end time.Duration, sent, recv uint64) results.CallLine {
	e := at(end)
	return results.CallLine{
		Outcome: "success",
		Phases: map[string]results.PhaseTimes{
			"dtls":  {At: at(dtls)},
			"media": {At: at(media)},
		},
		EndBegan: &e,
		Media:    &results.MediaLine{MediaStats: metrics.MediaStats{PacketsSent: sent, PacketsReceived: recv}},
	}
}

func TestPacketsInWindow(t *testing.T) {
	calls := []results.CallLine{
		call(0, 20*time.Millisecond, 10*time.Second, 500, 500),           // 100 packets/s over [0, 10s]
		call(2*time.Second, 2*time.Second, 4*time.Second, 100, 100),      // 100 packets/s over [2s, 4s]
		{Outcome: "failed", Phases: map[string]results.PhaseTimes{}},     // no media: ignored
		call(20*time.Second, 20*time.Second, 30*time.Second, 1000, 1000), // outside
		call(time.Second, time.Second, time.Second, 7, 7),                // zero span: ignored
	}
	tests := []struct {
		name     string
		from, to time.Duration
		want     float64
	}{
		{name: "whole", from: 0, to: 10 * time.Second, want: 1200},
		{name: "part of both", from: 3 * time.Second, to: 5 * time.Second, want: 200 + 100},
		{name: "none", from: 11 * time.Second, to: 12 * time.Second, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PacketsInWindow(calls, NewWindow(at(tt.from), at(tt.to))); !near(got, tt.want) {
				t.Errorf("PacketsInWindow() = %g, want %g", got, tt.want)
			}
		})
	}
}

func TestAllUpAndSteadyWindow(t *testing.T) {
	calls := []results.CallLine{
		call(0, 20*time.Millisecond, 10*time.Second, 1, 1),
		call(time.Second, 1020*time.Millisecond, 11*time.Second, 1, 1),
		call(2*time.Second, 2020*time.Millisecond, 12*time.Second, 1, 1),
	}
	up, end, err := AllUp(calls)
	if err != nil {
		t.Fatalf("AllUp() error = %v", err)
	}
	if !up.Equal(at(2020*time.Millisecond)) || !end.Equal(at(10*time.Second)) {
		t.Errorf("AllUp() = %v, %v; want +2.02s, +10s", up.Sub(t0), end.Sub(t0))
	}
	tests := []struct {
		name           string
		settle, want   time.Duration
		wantTo         time.Duration
		wantFull       bool
		wantSecondsMax float64
	}{
		{name: "fits", settle: time.Second, want: 5 * time.Second, wantTo: 8020 * time.Millisecond, wantFull: true},
		{name: "exactly", settle: 980 * time.Millisecond, want: 7 * time.Second, wantTo: 10 * time.Second, wantFull: true},
		{name: "cut short", settle: time.Second, want: 60 * time.Second, wantTo: 10 * time.Second, wantFull: false},
		{name: "settle past the end", settle: 9 * time.Second, want: time.Second, wantTo: 11020 * time.Millisecond, wantFull: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, full := SteadyWindow(up, end, tt.settle, tt.want)
			if !w.From.Equal(up.Add(tt.settle)) || !w.To.Equal(at(tt.wantTo)) || full != tt.wantFull {
				t.Errorf("SteadyWindow() = [%v, %v] full %v, want [%v, %v] full %v",
					w.From.Sub(t0), w.To.Sub(t0), full, up.Add(tt.settle).Sub(t0), tt.wantTo, tt.wantFull)
			}
			if !near(w.Seconds, w.To.Sub(w.From).Seconds()) {
				t.Errorf("Window.Seconds = %g, want %g", w.Seconds, w.To.Sub(w.From).Seconds())
			}
		})
	}
	for _, bad := range [][]results.CallLine{nil, {{Outcome: "failed"}}} {
		if _, _, err := AllUp(bad); err == nil || !strings.Contains(err.Error(), "no call") {
			t.Errorf("AllUp(%d calls without media) error = %v, want no call reached media", len(bad), err)
		}
	}
}

func TestLateWritesInWindow(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	w := NewWindow(at(10), at(20))
	call := func(n uint64, first, last time.Time) results.CallLine {
		return results.CallLine{Media: &results.MediaLine{MediaStats: metrics.MediaStats{LateWrites: n, FirstLateWrite: first, LastLateWrite: last}}}
	}
	tests := []struct {
		name  string
		calls []results.CallLine
		want  uint64
	}{
		{"none", []results.CallLine{call(0, time.Time{}, time.Time{}), {}}, 0},
		{"during the ramp", []results.CallLine{call(1, at(5), at(5))}, 0},
		{"during teardown", []results.CallLine{call(1, at(25), at(25))}, 0},
		{"inside", []results.CallLine{call(2, at(12), at(12)), call(1, at(5), at(5))}, 2},
		{"spanning the window", []results.CallLine{call(3, at(5), at(25))}, 3},
		{"at the edges", []results.CallLine{call(1, at(10), at(10)), call(1, at(20), at(20))}, 2},
		{"not placed in time", []results.CallLine{call(4, time.Time{}, time.Time{})}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LateWritesInWindow(tc.calls, w); got != tc.want {
				t.Errorf("LateWritesInWindow() = %d, want %d", got, tc.want)
			}
		})
	}
}
