package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// committed is where the generated files are committed.
const committed = "../../deploy/grafana"

// TestCommittedMatchesGenerated fails when deploy/grafana differs from what
// the generator writes: regenerate with `cd tools && go run ./dashboard`.
func TestCommittedMatchesGenerated(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(committed, name))
			if err != nil {
				t.Fatalf("read the committed file: %v (regenerate: cd tools && go run ./dashboard)", err)
			}
			if !bytes.Equal(got, files[name]) {
				t.Errorf("deploy/grafana/%s differs from the generated one: regenerate with `cd tools && go run ./dashboard` and commit", name)
			}
		})
	}
}

// known are the metric names of PLAN.md the dashboard may use (histograms
// by their base name; _bucket is added by the queries).
var known = map[string]bool{
	"loadgen_run_info": true, "loadgen_call_phase_seconds": true, "loadgen_scheduler_lag_seconds": true,
	"loadgen_calls_total": true, "loadgen_call_failures_total": true, "loadgen_calls_attempted_total": true,
	"loadgen_calls_dropped_total": true, "loadgen_calls_in_progress": true, "loadgen_calls_up": true,
	"loadgen_calls_on_hold": true, "loadgen_target_rate_calls_per_second": true,
	"loadgen_media_packets_sent_total": true, "loadgen_media_packets_received_total": true,
	"loadgen_media_sent_bytes_total": true, "loadgen_media_received_bytes_total": true,
	"loadgen_media_packets_lost_total": true, "loadgen_media_jitter_seconds": true, "loadgen_media_rtt_seconds": true,
	"loadgen_call_mos": true, "loadgen_media_integrity_failures_total": true, "loadgen_media_late_writes_total": true,
	"loadgen_media_write_errors_total": true, "loadgen_threshold_ok": true, "loadgen_run_valid": true,
	"loadgen_process_cpu_seconds_total": true, "loadgen_process_resident_memory_bytes": true,
	"loadgen_cpus_available": true, "loadgen_recorder_errors_total": true, "loadgen_recorded_values_clamped_total": true,
}

// histograms are the names exported as histograms (classic + native).
var histograms = map[string]bool{
	"loadgen_call_phase_seconds": true, "loadgen_scheduler_lag_seconds": true, "loadgen_media_jitter_seconds": true,
	"loadgen_media_rtt_seconds": true, "loadgen_call_mos": true,
}

// TestQueries checks every expression: only PLAN.md's names, every series
// selected by the dashboard's variables, and every classic histogram query
// paired with a native one (so it works on both kinds of server).
func TestQueries(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	qs, err := extractQueries(files["loadgen.json"])
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\b(loadgen_[a-z_]+)\{([^}]*)\}`)
	for _, q := range qs {
		ms := name.FindAllStringSubmatch(q.Expr, -1)
		if len(ms) == 0 {
			t.Errorf("%s/%s: no loadgen series selected: %s", q.Panel, q.RefID, q.Expr)
		}
		for _, m := range ms {
			base := strings.TrimSuffix(m[1], "_bucket")
			if !known[base] || (base != m[1] && !histograms[base]) {
				t.Errorf("%s/%s: %s is not a PLAN.md metric", q.Panel, q.RefID, m[1])
			}
			if !strings.HasPrefix(m[2], sel) {
				t.Errorf("%s/%s: %s{%s} lacks the variables' selector", q.Panel, q.RefID, m[1], m[2])
			}
			if base != m[1] && !strings.Contains(q.Expr, base+"{") {
				t.Errorf("%s/%s: classic %s without its native fallback %s", q.Panel, q.RefID, m[1], base)
			}
			if histograms[m[1]] && !strings.Contains(q.Expr, m[1]+"_bucket{") {
				t.Errorf("%s/%s: native %s without its classic buckets", q.Panel, q.RefID, m[1])
			}
		}
	}
}

// TestPanelsCovered checks that the panels the issue asks for exist.
func TestPanelsCovered(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	dash := string(files["loadgen.json"])
	for _, want := range []string{
		`"Phase p50 / p95 / p99 (service)"`, `"Phase p50 / p95 / p99 (scheduled)"`, `"$phase heatmap (service)"`,
		`"Calls per second"`, `"Target vs achieved rate"`, `"Calls in progress, up and on hold"`,
		`"Failures by phase, reason and status (time range)"`, `"Media packets per second"`, `"Media bitrate"`,
		`"Packet loss per direction"`, `"Jitter per direction"`, `"Round-trip time"`, `"MOS distribution"`,
		`"Scheduler lag"`, `"Generator CPU"`, `"Generator memory"`, `"Run validity"`, `"Threshold state"`,
		`"Calls started per second by shard"`,
		`"name": "datasource"`, `"name": "scenario"`, `"name": "run_id"`, `"name": "shard"`,
	} {
		if !strings.Contains(dash, want) {
			t.Errorf("the dashboard lacks %s", want)
		}
	}
}
