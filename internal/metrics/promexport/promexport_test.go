package promexport

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
)

// promRecorder records known values: 10 successful calls connecting at
// 1, 2, ..., 10 ms × 10 (10..100 ms) from the scheduled start and 5 ms
// earlier from the actual start; two failures; one drop; one call in
// flight; media on every success.
func promRecorder(t *testing.T) *metrics.Recorder {
	t.Helper()
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now, TargetRate: func(time.Duration) float64 { return 2.5 }})
	base := clk.Now()
	for i := 1; i <= 10; i++ {
		r.CallStarted()
		rec := metricstest.Call(base, 5*time.Millisecond, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{
			metrics.PhaseConnect: time.Duration(i) * 10 * time.Millisecond,
		})
		rec.Media = metrics.MediaStats{PacketsSent: 100, BytesSent: 1000, PacketsReceived: 99, BytesReceived: 990, PacketsLost: 1,
			Jitter: 2 * time.Millisecond, RTT: 40 * time.Millisecond, IntegrityOK: true, WriteErrors: 1, LateWrites: 2,
			UplinkReports: 3, UplinkPacketsLost: 3, UplinkJitter: 3 * time.Millisecond, LongestGap: 60 * time.Millisecond,
			Audio: metrics.MediaStreamStats{PacketsSent: 100, BytesSent: 1000, PacketsReceived: 99, BytesReceived: 990, PacketsLost: 1,
				WriteErrors: 1, UplinkReports: 3, UplinkPacketsLost: 3, UplinkJitter: 3 * time.Millisecond}}
		r.Record(rec)
	}
	for _, reason := range []metrics.Reason{metrics.ReasonTimeout, metrics.ReasonTimeout} {
		r.CallStarted()
		rec := metricstest.Call(base, 0, metrics.OutcomeFailed, nil)
		rec.FailedPhase, rec.Reason = metrics.PhaseICE, reason
		r.Record(rec)
	}
	r.CallStarted()
	r.Dropped()
	clk.Advance(4 * time.Second)
	return r
}

func TestCollectorLint(t *testing.T) {
	r := promRecorder(t)
	problems, err := testutil.CollectAndLint(NewCollector(r.Snapshot, CollectorOptions{Scenario: "smoke", Mode: "regular"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// An empty recorder lints clean too.
	problems, err = testutil.CollectAndLint(NewCollector(metrics.NewRecorder(metrics.RecorderOptions{}).Snapshot, CollectorOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint (empty): %s: %s", p.Metric, p.Text)
	}
}

// scrape fetches url and parses the text exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// find returns the metric of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("family %s missing", name)
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s%v missing", name, want)
	return nil
}

func TestPrometheusScrape(t *testing.T) {
	r := promRecorder(t)
	reg, err := NewRegistry(r, CollectorOptions{Scenario: "smoke", Mode: "token"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	fams := scrape(t, srv.URL+"/metrics")

	counters := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"loadgen_calls_total", map[string]string{"outcome": "success", "scenario": "smoke", "mode": "token"}, 10},
		{"loadgen_calls_total", map[string]string{"outcome": "failed"}, 2},
		{"loadgen_calls_total", map[string]string{"outcome": "aborted"}, 0},
		{"loadgen_call_failures_total", map[string]string{"phase": "ice", "reason": "timeout", "status": "none"}, 2},
		{"loadgen_calls_attempted_total", nil, 13},
		{"loadgen_calls_dropped_total", nil, 1},
		{"loadgen_media_packets_sent_total", map[string]string{"stream": "audio"}, 1000},
		{"loadgen_media_packets_sent_total", map[string]string{"stream": "video"}, 0},
		{"loadgen_media_packets_received_total", map[string]string{"stream": "audio"}, 990},
		{"loadgen_media_packets_lost_total", map[string]string{"direction": "downlink", "stream": "audio"}, 10},
		{"loadgen_media_packets_lost_total", map[string]string{"direction": "uplink", "stream": "audio"}, 30},
		{"loadgen_media_packets_lost_total", map[string]string{"direction": "uplink", "stream": "video"}, 0},
		{"loadgen_media_sent_bytes_total", map[string]string{"stream": "audio"}, 10000},
		{"loadgen_media_received_bytes_total", map[string]string{"stream": "audio"}, 9900},
		{"loadgen_recorded_values_clamped_total", nil, 0},
		{"loadgen_recorder_errors_total", nil, 0},
		{"loadgen_media_late_writes_total", nil, 20},
		{"loadgen_media_write_errors_total", nil, 10},
	}
	for _, c := range counters {
		if got := find(t, fams, c.name, c.labels).GetCounter().GetValue(); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, dir := range []string{"downlink", "uplink"} {
		if n := find(t, fams, "loadgen_media_jitter_seconds", map[string]string{"direction": dir}).GetHistogram().GetSampleCount(); n != 10 {
			t.Errorf("loadgen_media_jitter_seconds{direction=%q} count = %d, want 10", dir, n)
		}
	}
	if h := find(t, fams, "loadgen_media_longest_gap_seconds", nil).GetHistogram(); h.GetSampleCount() != 10 || math.Abs(h.GetSampleSum()-0.6) > 0.001 {
		t.Errorf("loadgen_media_longest_gap_seconds count %d sum %v, want 10, 0.6", h.GetSampleCount(), h.GetSampleSum())
	}
	gauges := []struct {
		name string
		want float64
	}{
		{"loadgen_calls_in_progress", 1},
		{"loadgen_target_rate_calls_per_second", 2.5},
	}
	for _, g := range gauges {
		if got := find(t, fams, g.name, nil).GetGauge().GetValue(); got != g.want {
			t.Errorf("%s = %v, want %v", g.name, got, g.want)
		}
	}

	// connect from the scheduled start: 10, 20, ..., 100 ms.
	h := find(t, fams, "loadgen_call_phase_seconds", map[string]string{"phase": "connect", "timing": "scheduled"}).GetHistogram()
	checkBuckets(t, "connect scheduled", h, 10, 0.55, cumulative(DefaultBuckets(), 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1))
	// and 5 ms less from the actual start: 5, 15, ..., 95 ms.
	h = find(t, fams, "loadgen_call_phase_seconds", map[string]string{"phase": "connect", "timing": "service"}).GetHistogram()
	checkBuckets(t, "connect service", h, 10, 0.50, cumulative(DefaultBuckets(), 0.005, 0.015, 0.025, 0.035, 0.045, 0.055, 0.065, 0.075, 0.085, 0.095))
	h = find(t, fams, "loadgen_scheduler_lag_seconds", nil).GetHistogram()
	checkBuckets(t, "lag", h, 12, 0.05, map[float64]uint64{0.0001: 2, 0.0025: 2, 0.005: 12})
	h = find(t, fams, "loadgen_media_rtt_seconds", nil).GetHistogram()
	checkBuckets(t, "rtt", h, 10, 0.4, cumulative(DefaultBuckets(), 0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04))
	h = find(t, fams, "loadgen_call_mos", nil).GetHistogram()
	if h.GetSampleCount() != 10 {
		t.Errorf("mos count = %d", h.GetSampleCount())
	}
	h = find(t, fams, "loadgen_call_phase_seconds", map[string]string{"phase": "ringing", "timing": "scheduled"}).GetHistogram()
	checkBuckets(t, "ringing (empty)", h, 0, 0, cumulative(DefaultBuckets()))

	// The generator's own load is on the same registry, with the same
	// constant labels.
	for _, name := range []string{"loadgen_process_cpu_seconds_total", "loadgen_process_resident_memory_bytes", "go_goroutines", "loadgen_cpus_available"} {
		if name == "go_goroutines" {
			find(t, fams, name, nil)
			continue
		}
		find(t, fams, name, map[string]string{"scenario": "smoke", "mode": "token", "shard": "0"})
	}
	for _, name := range []string{"process_cpu_seconds_total", "loadgen_achieved_rate_calls_per_second", "loadgen_histogram_values_clamped_total", "loadgen_histogram_record_errors_total"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s is still exported", name)
		}
	}
	// Labels stay in their closed sets.
	for name, f := range fams {
		if !strings.HasPrefix(name, "loadgen_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "phase", "timing", "outcome", "reason", "status", "stream", "direction", "scenario", "mode", "run_id", "shard", "version", "shards":
				default:
					t.Errorf("%s has label %s", name, l.GetName())
				}
			}
		}
	}
}

// cumulative maps each bound to how many of values are at or below it.
func cumulative(bounds []float64, values ...float64) map[float64]uint64 {
	out := make(map[float64]uint64, len(bounds))
	for _, b := range bounds {
		out[b] = 0
		for _, v := range values {
			if v <= b {
				out[b]++
			}
		}
	}
	return out
}

func checkBuckets(t *testing.T, name string, h *dto.Histogram, count uint64, sum float64, want map[float64]uint64) {
	t.Helper()
	if h.GetSampleCount() != count {
		t.Errorf("%s: count = %d, want %d", name, h.GetSampleCount(), count)
	}
	if math.Abs(h.GetSampleSum()-sum) > sum*0.001+1e-9 {
		t.Errorf("%s: sum = %v, want %v within 0.1%%", name, h.GetSampleSum(), sum)
	}
	got := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		got[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for le, w := range want {
		g, ok := got[le]
		if !ok {
			t.Errorf("%s: no bucket le=%v", name, le)
			continue
		}
		if g != w {
			t.Errorf("%s: bucket le=%v = %d, want %d", name, le, g, w)
		}
	}
}

func TestPrometheusNativeHistogram(t *testing.T) {
	r := promRecorder(t)
	reg, err := NewRegistry(r, CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var h *dto.Histogram
	for _, f := range fams {
		if f.GetName() != "loadgen_call_phase_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			lv := map[string]string{}
			for _, l := range m.GetLabel() {
				lv[l.GetName()] = l.GetValue()
			}
			if lv["phase"] == "connect" && lv["timing"] == "scheduled" {
				h = m.GetHistogram()
			}
		}
	}
	if h == nil {
		t.Fatal("connect histogram missing")
	}
	if h.GetSchema() != DefaultNativeSchema || len(h.GetBucket()) != len(DefaultBuckets()) {
		t.Fatalf("schema %d, %d classic buckets", h.GetSchema(), len(h.GetBucket()))
	}
	// Decode spans/deltas into absolute bucket indexes and counts.
	got := map[int]int64{}
	idx, cnt := 0, int64(0)
	di := 0
	for _, sp := range h.GetPositiveSpan() {
		idx += int(sp.GetOffset())
		for range sp.GetLength() {
			cnt += h.GetPositiveDelta()[di]
			di++
			if cnt != 0 {
				got[idx] = cnt
			}
			idx++
		}
	}
	want := map[int]int64{}
	for i := 1; i <= 10; i++ {
		want[nativeIndex(float64(i)/100, DefaultNativeSchema)]++
	}
	if len(got) != len(want) {
		t.Fatalf("native buckets = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("native bucket %d = %d, want %d", k, got[k], v)
		}
	}
}

func TestNativeIndex(t *testing.T) {
	tests := []struct {
		v      float64
		schema int32
		want   int
	}{
		{1, 3, 0}, {2, 3, 8}, {1.0001, 3, 1}, {0.5, 3, -8}, {0.01, 0, -6}, {3, 0, 2}, {4, 0, 2}, {4.001, 0, 3},
	}
	for _, tc := range tests {
		if got := nativeIndex(tc.v, tc.schema); got != tc.want {
			t.Errorf("nativeIndex(%v, %d) = %d, want %d", tc.v, tc.schema, got, tc.want)
		}
	}
}

func TestCollectorCompare(t *testing.T) {
	r := promRecorder(t)
	c := NewCollector(r.Snapshot, CollectorOptions{Scenario: "smoke"})
	want := `
# HELP loadgen_calls_total Finished calls by outcome.
# TYPE loadgen_calls_total counter
loadgen_calls_total{outcome="aborted",scenario="smoke",shard="0"} 0
loadgen_calls_total{outcome="failed",scenario="smoke",shard="0"} 2
loadgen_calls_total{outcome="success",scenario="smoke",shard="0"} 10
# HELP loadgen_call_failures_total Failed calls by the phase they failed in, the cause, and the gateway's status (the callEnd status code or the HTTP status: a 3-digit code, none or other).
# TYPE loadgen_call_failures_total counter
loadgen_call_failures_total{phase="ice",reason="timeout",scenario="smoke",shard="0",status="none"} 2
# HELP loadgen_calls_dropped_total Scheduled call starts dropped because the concurrency cap was full.
# TYPE loadgen_calls_dropped_total counter
loadgen_calls_dropped_total{scenario="smoke",shard="0"} 1
# HELP loadgen_calls_in_progress Calls started and not yet finished.
# TYPE loadgen_calls_in_progress gauge
loadgen_calls_in_progress{scenario="smoke",shard="0"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"loadgen_calls_total", "loadgen_call_failures_total", "loadgen_calls_dropped_total", "loadgen_calls_in_progress"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "loadgen_call_phase_seconds"); n != 2*int(metrics.NumPhases) {
		t.Errorf("%d phase series, want %d", n, 2*int(metrics.NumPhases))
	}
}
