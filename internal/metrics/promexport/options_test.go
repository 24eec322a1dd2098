package promexport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
)

// runOptions sets every optional input of the collector.
func runOptions(t *testing.T) CollectorOptions {
	t.Helper()
	var ts []threshold.Threshold
	for _, e := range [][2]string{{"connect", "p(99) < 2s"}, {"failures", "rate < 0.01"}} {
		th, err := threshold.Parse(e[0], e[1])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	return CollectorOptions{
		Scenario: "smoke", Mode: "regular", RunID: "r-42", Shard: 2, Shards: 4, Version: "v1.2.3",
		Thresholds: func(s *metrics.Snapshot) []threshold.Result { return threshold.Evaluate(s, ts) },
		Valid:      func(*metrics.Snapshot) (bool, bool) { return false, true },
		CallStates: func() (int, int) { return 7, 3 },
	}
}

func TestCollectorRunSeries(t *testing.T) {
	c := NewCollector(promRecorder(t).Snapshot, runOptions(t))
	// 2 of 12 finished calls failed: the failure rate threshold is crossed.
	want := `
# HELP loadgen_run_info Always 1; labels describe the run (the constant labels scenario, mode, run_id and shard are on every loadgen_ series).
# TYPE loadgen_run_info gauge
loadgen_run_info{mode="regular",run_id="r-42",scenario="smoke",shard="2",shards="4",version="v1.2.3"} 1
# HELP loadgen_threshold_ok 1 while the scenario threshold holds on the run so far, 0 when it is crossed.
# TYPE loadgen_threshold_ok gauge
loadgen_threshold_ok{mode="regular",run_id="r-42",scenario="smoke",shard="2",threshold="connect: p(99) < 2s"} 1
loadgen_threshold_ok{mode="regular",run_id="r-42",scenario="smoke",shard="2",threshold="failures: rate < 0.01"} 0
# HELP loadgen_run_valid 1 while the run is valid (the generator kept up), 0 when not.
# TYPE loadgen_run_valid gauge
loadgen_run_valid{mode="regular",run_id="r-42",scenario="smoke",shard="2"} 0
# HELP loadgen_calls_up Calls whose media is established and that are not yet ending (on hold included).
# TYPE loadgen_calls_up gauge
loadgen_calls_up{mode="regular",run_id="r-42",scenario="smoke",shard="2"} 7
# HELP loadgen_calls_on_hold Calls on hold now.
# TYPE loadgen_calls_on_hold gauge
loadgen_calls_on_hold{mode="regular",run_id="r-42",scenario="smoke",shard="2"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"loadgen_run_info", "loadgen_threshold_ok", "loadgen_run_valid", "loadgen_calls_up", "loadgen_calls_on_hold"); err != nil {
		t.Error(err)
	}
}

func TestCollectorOptionalSeriesAbsent(t *testing.T) {
	opts := CollectorOptions{Valid: func(*metrics.Snapshot) (bool, bool) { return true, false }}
	c := NewCollector(promRecorder(t).Snapshot, opts)
	for _, name := range []string{"loadgen_threshold_ok", "loadgen_run_valid", "loadgen_calls_up", "loadgen_calls_on_hold"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series without its option (or while unknown), want none", name, n)
		}
	}
	want := `
# HELP loadgen_run_info Always 1; labels describe the run (the constant labels scenario, mode, run_id and shard are on every loadgen_ series).
# TYPE loadgen_run_info gauge
loadgen_run_info{shard="0",shards="1",version=""} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "loadgen_run_info"); err != nil {
		t.Error(err)
	}
}

// typeNames are the metric types promtool check metrics refuses in a name
// (Prometheus 2.42 flags any of them; client_golang's promlint only the
// metric's own type).
var typeNames = []string{"counter", "gauge", "histogram", "summary", "untyped"}

// TestRegistryLint lints every family of a populated registry the way
// promtool check metrics does.
func TestRegistryLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *metrics.Recorder
		opts CollectorOptions
	}{
		{"populated", promRecorder(t), runOptions(t)},
		{"empty", metrics.NewRecorder(metrics.RecorderOptions{}), CollectorOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := NewRegistry(tc.rec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			problems, err := testutil.GatherAndLint(reg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
			fams, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fams {
				for _, typ := range typeNames {
					if n := f.GetName(); strings.Contains(n, "_"+typ+"_") || strings.HasSuffix(n, "_"+typ) {
						t.Errorf("%s: metric name should not include type %q", n, typ)
					}
				}
			}
		})
	}
}

// TestOpenMetrics: a scraper that asks for OpenMetrics gets it; one that
// does not gets the classic text format.
func TestOpenMetrics(t *testing.T) {
	reg, err := NewRegistry(promRecorder(t), runOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	get := func(accept string) (string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Content-Type"), string(b)
	}
	ct, body := get("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	if !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("content type %q, want OpenMetrics", ct)
	}
	for _, want := range []string{
		"# TYPE loadgen_calls_attempted counter\n",
		`loadgen_calls_attempted_total{mode="regular",run_id="r-42",scenario="smoke",shard="2"} 13`,
		`loadgen_call_phase_seconds_bucket{mode="regular",phase="connect",run_id="r-42",scenario="smoke",shard="2",timing="scheduled",le="+Inf"} 10`,
		"# EOF\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("OpenMetrics body lacks %q", want)
		}
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Error("OpenMetrics body does not end with # EOF")
	}
	ct, body = get("")
	if !strings.HasPrefix(ct, "text/plain") || strings.Contains(body, "# EOF") {
		t.Errorf("default scrape: content type %q, EOF marker %v", ct, strings.Contains(body, "# EOF"))
	}
}

// TestRegisterTwice: a second collector with the same labels is refused
// with an error, not a panic.
func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := metrics.NewRecorder(metrics.RecorderOptions{})
	if err := Register(reg, r, CollectorOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, r, CollectorOptions{}); err == nil || !strings.Contains(err.Error(), "promexport: register") {
		t.Errorf("second Register: err = %v", err)
	}
}

// TestLiveMedia: the media counters are the finished calls' totals plus
// the live calls', and never go down between scrapes (a call leaving the
// live set before its record arrives, or a late packet lowering its
// downlink loss, must not make a counter decrease).
func TestLiveMedia(t *testing.T) {
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: metricstest.NewClock().Now})
	var live [metrics.NumStreams]metrics.StreamTotals
	c := NewCollector(r.Snapshot, CollectorOptions{LiveMedia: func() [metrics.NumStreams]metrics.StreamTotals { return live }})
	value := func(name string, labels ...string) float64 {
		t.Helper()
		var lv []string
		lv = append(lv, labels...)
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != name {
				continue
			}
		next:
			for _, m := range f.GetMetric() {
				have := map[string]string{}
				for _, l := range m.GetLabel() {
					have[l.GetName()] = l.GetValue()
				}
				for i := 0; i+1 < len(lv); i += 2 {
					if have[lv[i]] != lv[i+1] {
						continue next
					}
				}
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("%s%v missing", name, labels)
		return 0
	}
	steps := []struct {
		name       string
		live       metrics.StreamTotals // audio
		record     *metrics.MediaStreamStats
		sent, lost float64 // audio packets sent, downlink lost
	}{
		{"one call up", metrics.StreamTotals{PacketsSent: 50, PacketsLostDownlink: 3}, nil, 50, 3},
		{"it moves", metrics.StreamTotals{PacketsSent: 120, PacketsLostDownlink: 4}, nil, 120, 4},
		{"left the live set, not yet recorded", metrics.StreamTotals{}, nil, 120, 4},
		{"recorded; a late packet filled a gap", metrics.StreamTotals{}, &metrics.MediaStreamStats{PacketsSent: 130, PacketsLost: 2}, 130, 4},
		{"a second call up", metrics.StreamTotals{PacketsSent: 10, PacketsLostDownlink: 5}, nil, 140, 7},
	}
	for _, st := range steps {
		live[metrics.StreamAudio] = st.live
		if st.record != nil {
			rec := metricstest.Call(time.Now(), 0, metrics.OutcomeSuccess, nil)
			rec.Media = metrics.MediaStats{PacketsSent: st.record.PacketsSent, PacketsLost: st.record.PacketsLost, Audio: *st.record}
			r.Record(rec)
		}
		if got := value("loadgen_media_packets_sent_total", "stream", "audio"); got != st.sent {
			t.Errorf("%s: packets sent = %v, want %v", st.name, got, st.sent)
		}
		if got := value("loadgen_media_packets_lost_total", "direction", "downlink", "stream", "audio"); got != st.lost {
			t.Errorf("%s: downlink lost = %v, want %v", st.name, got, st.lost)
		}
	}
}
