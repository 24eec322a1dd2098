package report

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

func TestLoadOverTime(t *testing.T) {
	dir := t.TempDir()
	s := writeRun(t, dir)
	d, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// writeRun logs an interval every 10 s of a 90 s run.
	if d.Width != 10 {
		t.Errorf("Width = %v, want 10", d.Width)
	}
	for p := range metrics.NumPhases {
		for _, x := range []struct {
			name  string
			over  []*hdrhistogram.Histogram
			total *hdrhistogram.Histogram
		}{{"scheduled", d.ScheduledOverTime[p], s.Scheduled[p]}, {"service", d.ServiceOverTime[p], s.Service[p]}} {
			if len(x.over) != 9 {
				t.Fatalf("%v %s: %d buckets, want 9", p, x.name, len(x.over))
			}
			sum := metrics.NewLatencyHistogram()
			for _, h := range x.over {
				sum.Merge(h)
			}
			if !sum.Equals(x.total) {
				t.Errorf("%v %s: the buckets do not add up to the total", p, x.name)
			}
		}
	}
	// The slow patch (calls scheduled 50-60 s, three times slower) is
	// recorded when those calls end, 5 s later: 60-70 s.
	c := d.ScheduledOverTime[metrics.PhaseConnect]
	if slow, calm := c[6].ValueAtQuantile(50), c[2].ValueAtQuantile(50); slow < 2*calm {
		t.Errorf("connect p50 in 60-70 s = %dµs, in 20-30 s = %dµs; want the slow patch at least twice as slow", slow, calm)
	}
	if d.Calls == nil {
		t.Fatal("no calls over time")
	}
	var ended, failed int
	for _, b := range d.Calls.Buckets {
		ended += b.Ended
		for _, n := range b.Failures {
			failed += n
		}
	}
	if ended != int(s.Succeeded+s.Failed) || failed != int(s.Failed) {
		t.Errorf("calls over time: %d ended, %d failed; want %d, %d", ended, failed, s.Succeeded+s.Failed, s.Failed)
	}
	if len(d.Calls.Reasons) != 1 || d.Calls.Reasons[0] != "ice/ice_failed" {
		t.Errorf("Reasons = %q", d.Calls.Reasons)
	}
}

// TestLoadMerged reads a directory merged from two generators: the
// interval logs and calls.jsonl of both concatenated, the summary the
// sum. The over-time buckets hold both generators' values.
func TestLoadMerged(t *testing.T) {
	a, b, m := t.TempDir(), t.TempDir(), t.TempDir()
	sa, sb := writeRun(t, a), writeRun(t, b)
	entries, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".hlog") && name != results.CallsFileName {
			continue
		}
		out, err := os.Create(filepath.Join(m, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{a, b} {
			in, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, in); err != nil {
				t.Fatal(err)
			}
			in.Close()
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sa.Merge(sb); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteSummaryFile(m, results.NewSummaryFile(sa, results.SummaryFileOptions{Title: "merged", WithFiles: true})); err != nil {
		t.Fatal(err)
	}
	d, err := Load(m)
	if err != nil {
		t.Fatal(err)
	}
	if d.Width != 10 || len(d.ScheduledOverTime[metrics.PhaseConnect]) != 9 {
		t.Errorf("merged: width %v, %d buckets; want 10, 9", d.Width, len(d.ScheduledOverTime[metrics.PhaseConnect]))
	}
	for p := range metrics.NumPhases {
		if !d.Scheduled[p].Equals(sa.Scheduled[p]) {
			t.Errorf("%v: merged total differs from the merged snapshot", p)
		}
		sum := metrics.NewLatencyHistogram()
		for _, h := range d.ScheduledOverTime[p] {
			sum.Merge(h)
		}
		if !sum.Equals(sa.Scheduled[p]) {
			t.Errorf("%v: merged buckets do not add up", p)
		}
	}
	var ended int
	for _, bk := range d.Calls.Buckets {
		ended += bk.Ended
	}
	if ended != int(sa.Succeeded+sa.Failed) {
		t.Errorf("merged calls: %d ended, want %d", ended, sa.Succeeded+sa.Failed)
	}
	path, err := Write(m)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(html))
}

func TestLoadWithoutCalls(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir)
	if err := os.Remove(filepath.Join(dir, results.CallsFileName)); err != nil {
		t.Fatal(err)
	}
	d, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Calls != nil {
		t.Error("Calls without calls.jsonl")
	}
	path, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(path)
	if !strings.Contains(string(html), "no calls.jsonl to place the failures in time") {
		t.Error("report without calls.jsonl does not say why failures are not shown over time")
	}
	if err := os.WriteFile(filepath.Join(dir, results.CallsFileName), []byte("{\"index\":1}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "calls.jsonl: call 2") {
		t.Errorf("Load(bad calls.jsonl) = %v", err)
	}
}

func TestBucketWidth(t *testing.T) {
	tests := []struct {
		name     string
		lengths  []int64
		duration float64
		want     float64
	}{
		{"no intervals", nil, 30, 1},
		{"no intervals, long run", nil, 3600, 15},
		{"5 s logs", []int64{5000, 5000, 5000, 1200}, 61.2, 5},
		{"5 s logs, long run", []int64{5000, 5000, 5000}, 7200, 30},
		{"zero lengths", []int64{0, 0}, 10, 1},
	}
	for _, tc := range tests {
		if got := bucketWidth(tc.lengths, tc.duration); got != tc.want {
			t.Errorf("%s: bucketWidth(%v, %v) = %v, want %v", tc.name, tc.lengths, tc.duration, got, tc.want)
		}
	}
}
