package results

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestSummaryFileGolden(t *testing.T) {
	s := metricstest.Run(42, 600, 200)
	usage := &cpu.Usage{CPUs: 8, Utilization: 0.97, Peak: 1}
	v := validity.Check(s, usage, validity.Options{MaxLagP99: 10 * time.Millisecond})
	var js bytes.Buffer
	sf := NewSummaryFile(s, SummaryFileOptions{Title: "golden", Labels: map[string]string{"mode": "regular"},
		Thresholds: evaluate(t, s, metricstest.GoldenThresholds()...), Validity: v, CPU: usage, WithFiles: true})
	if err := sf.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "summary.json.golden")
	if *update {
		if err := os.WriteFile(path, js.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(js.Bytes(), want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, js.Bytes())
	}
}

func TestResultsHlogMatchesRecorder(t *testing.T) {
	dir := t.TempDir()
	clk := metricstest.NewClock()
	rec := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	res, err := Create(dir, rec.Start())
	if err != nil {
		t.Fatal(err)
	}
	calls := metricstest.RandomCalls(11, clk.Now(), 1200)
	for i, c := range calls {
		rec.CallStarted()
		rec.Record(c)
		if err := res.WriteCall(c); err != nil {
			t.Fatal(err)
		}
		if i%250 == 249 {
			clk.Advance(5 * time.Second)
			if err := res.WriteInterval(rec.TakeInterval()); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Advance(time.Second)
	if err := res.WriteInterval(rec.TakeInterval()); err != nil {
		t.Fatal(err)
	}
	s := rec.Snapshot()
	sf := NewSummaryFile(s, SummaryFileOptions{Title: "t", WithFiles: true, Validity: validity.Check(s, nil, validity.Options{})})
	if err := res.WriteSummary(sf); err != nil {
		t.Fatal(err)
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
	if err := res.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := res.WriteCall(calls[0]); err == nil {
		t.Error("write after close: no error")
	}

	for p := range metrics.NumPhases {
		for _, service := range []bool{false, true} {
			ivs, total, err := ReadHlog(filepath.Join(dir, HlogName(p, service)))
			if err != nil {
				t.Fatal(err)
			}
			if len(ivs) != 5 {
				t.Errorf("%s: %d intervals, want 5", HlogName(p, service), len(ivs))
			}
			want := s.PhaseHistogram(p, service)
			if !total.Equals(want) {
				t.Errorf("%s: sum of intervals (%d values) differs from the recorder (%d)", HlogName(p, service), total.TotalCount(), want.TotalCount())
			}
			if len(ivs) > 1 && (ivs[1].StartTimeMs() != s.Start.UnixMilli()+5000 || ivs[1].EndTimeMs() != s.Start.UnixMilli()+10000) {
				t.Errorf("%s: interval 1 spans %d..%d ms", HlogName(p, service), ivs[1].StartTimeMs()-s.Start.UnixMilli(), ivs[1].EndTimeMs()-s.Start.UnixMilli())
			}
		}
	}
	_, lag, err := ReadHlog(filepath.Join(dir, LagHlogName))
	if err != nil {
		t.Fatal(err)
	}
	if !lag.Equals(s.Lag) {
		t.Error("lag.hlog differs from the recorder")
	}

	// calls.jsonl: one line per call, in order, with the recorded values.
	f, err := os.Open(filepath.Join(dir, CallsFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var l CallLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		c := calls[n]
		if got, want := l.Phases["connect"].ScheduledUS, c.Instants[metrics.PhaseConnect].Sub(c.Scheduled).Microseconds(); got != want {
			t.Errorf("line %d: connect %d µs, want %d", n+1, got, want)
		}
		if l.Outcome != c.Outcome.String() || l.Media == nil || l.Media.PacketsLost != c.Media.PacketsLost || l.MOS == nil {
			t.Errorf("line %d: %+v", n+1, l)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(calls) {
		t.Errorf("%d lines, want %d", n, len(calls))
	}

	// summary.json reads back with its schema.
	b, err := os.ReadFile(filepath.Join(dir, SummaryFileName))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummaryFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Calls.Attempted != 1200 || got.Phases[metrics.PhaseConnect].Log != "connect.hlog" ||
		got.Phases[metrics.PhaseConnect].Scheduled.P99 != s.Scheduled[metrics.PhaseConnect].ValueAtQuantile(99) || !got.Valid {
		t.Errorf("summary.json: %+v", got)
	}
	if _, err := ReadSummaryFile(bytes.NewReader(bytes.Replace(b, []byte(SummarySchema), []byte("loadgen.summary/v0"), 1))); err == nil {
		t.Error("wrong schema accepted")
	}
}

func TestRunIntervals(t *testing.T) {
	dir := t.TempDir()
	rec := metrics.NewRecorder(metrics.RecorderOptions{})
	res, err := Create(dir, rec.Start())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	base := time.Now()
	for _, c := range metricstest.RandomCalls(3, base, 50) {
		rec.Record(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- res.RunIntervals(ctx, rec, time.Hour) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunIntervals did not return")
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
	_, total, err := ReadHlog(filepath.Join(dir, HlogName(metrics.PhaseMedia, false)))
	if err != nil {
		t.Fatal(err)
	}
	if total.TotalCount() != 50 {
		t.Errorf("media.hlog holds %d values, want 50", total.TotalCount())
	}
	if err := res.RunIntervals(context.Background(), rec, 0); err == nil {
		t.Error("zero interval accepted")
	}
}

// evaluate parses {metric, expression} pairs and evaluates them on s.
func evaluate(t *testing.T, s *metrics.Snapshot, exprs ...[2]string) []threshold.Result {
	t.Helper()
	ths, err := threshold.ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return threshold.Evaluate(s, ths)
}
