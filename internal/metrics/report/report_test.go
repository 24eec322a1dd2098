package report

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

var sample = flag.String("sample", "", "also write a sample result directory and report here (for testdata/render.sh)")

// writeRun records a synthetic 90 s run (a ramp from 2 to 20 calls/s, a
// slow patch, some failures and drops) and writes its result files to dir.
func writeRun(t *testing.T, dir string) *metrics.Snapshot {
	t.Helper()
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	now := start
	target := func(el time.Duration) float64 { return min(2+el.Seconds()*0.3, 20) }
	rec := metrics.NewRecorder(metrics.RecorderOptions{Start: start, Now: func() time.Time { return now }, TargetRate: target})
	res, err := results.Create(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var idx uint64
	type inflight struct {
		rec  metrics.CallRecord
		done time.Time
	}
	var flying []inflight
	for sec := range 90 {
		n := int(target(time.Duration(sec)*time.Second + time.Second/2))
		for k := range n {
			now = start.Add(time.Duration(sec)*time.Second + time.Duration(k)*time.Second/time.Duration(n))
			if len(flying) >= 150 {
				rec.Dropped()
				continue
			}
			rec.CallStarted()
			slow := 1.0
			if sec >= 50 && sec < 60 {
				slow = 3
			}
			c := metrics.CallRecord{Index: idx, Scheduled: now, Started: now.Add(time.Duration(rng.ExpFloat64()*2000) * time.Microsecond), Outcome: metrics.OutcomeSuccess}
			idx++
			at := c.Started.Sub(c.Scheduled)
			for p := range metrics.PhaseEnd {
				at += time.Duration(slow * (20 + rng.ExpFloat64()*60) * float64(time.Millisecond))
				c.Instants[p] = c.Scheduled.Add(at)
			}
			if rng.IntN(40) == 0 {
				c.Outcome, c.FailedPhase, c.Reason = metrics.OutcomeFailed, metrics.PhaseICE, metrics.ReasonICEFailed
				for p := metrics.PhaseICE; p < metrics.NumPhases; p++ {
					c.Instants[p] = time.Time{}
				}
			}
			c.EndBegan = c.Scheduled.Add(at + 5*time.Second)
			c.Instants[metrics.PhaseEnd] = c.EndBegan.Add(time.Duration(5+rng.IntN(30)) * time.Millisecond)
			c.Media = metrics.MediaStats{PacketsSent: 250, BytesSent: 25000, PacketsReceived: uint64(245 + rng.IntN(5)), BytesReceived: 24500,
				PacketsLost: uint64(rng.IntN(4)), Jitter: time.Duration(rng.IntN(20)) * time.Millisecond, RTT: time.Duration(1+rng.IntN(40)) * time.Millisecond, IntegrityOK: true, Codec: "opus"}
			flying = append(flying, inflight{c, c.Instants[metrics.PhaseEnd]})
		}
		now = start.Add(time.Duration(sec+1) * time.Second)
		keep := flying[:0]
		for _, f := range flying {
			if f.done.After(now) {
				keep = append(keep, f)
				continue
			}
			rec.Record(f.rec)
			if err := res.WriteCall(f.rec); err != nil {
				t.Fatal(err)
			}
		}
		flying = keep
		if sec%10 == 9 {
			if err := res.WriteInterval(rec.TakeInterval()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range flying {
		f.rec.Outcome = metrics.OutcomeAborted
		rec.Record(f.rec)
	}
	if err := res.WriteInterval(rec.TakeInterval()); err != nil {
		t.Fatal(err)
	}
	s := rec.Snapshot()
	var ths []threshold.Threshold
	for _, e := range [][2]string{{"connect", "p(99) < 1s"}, {"failures", "rate < 0.05"}} {
		th, err := threshold.Parse(e[0], e[1])
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	cpu := &cpu.Usage{CPUs: 4, Utilization: 0.4, Peak: 0.7}
	sf := results.NewSummaryFile(s, results.SummaryFileOptions{Title: "sample", Labels: map[string]string{"mode": "regular"},
		Thresholds: threshold.Evaluate(s, ths), Validity: validity.Check(s, cpu, validity.Options{}), CPU: cpu, WithFiles: true})
	if err := res.WriteSummary(sf); err != nil {
		t.Fatal(err)
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if *sample != "" {
		dir = *sample
	}
	s := writeRun(t, dir)
	d, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for p := range metrics.NumPhases {
		if !d.Scheduled[p].Equals(s.Scheduled[p]) || !d.Service[p].Equals(s.Service[p]) {
			t.Errorf("%v: histograms read back from the logs differ from the recorder", p)
		}
	}
	path, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, FileName) {
		t.Errorf("path = %s", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{
		"<title>loadgen report: sample</title>", "VALID", "ice_failed", "99.9%", "<polyline",
		"Rate per second", "Calls in progress", "p(99) &lt; 1s", "target rate", "from scheduled start", "service time",
		`id="latency-over-time"`, "p99 of every phase", "service p99", "Scheduler lag",
		`id="failures-over-time"`, "ice/ice_failed", `id="media-over-time"`, "Downlink loss", "Jitter and RTT", "MOS estimate",
		"1m30s", // the time axis ends with the run (90 s)
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	plotted := 0 // phases with values (the sample has no hold/unhold)
	for p := range metrics.NumPhases {
		if s.Scheduled[p].TotalCount() > 0 {
			plotted++
		}
	}
	// Timeline (2), p99 overview, one per phase over time, lag, failures,
	// media (4), percentile overview and one per phase.
	if got, want := strings.Count(html, "<svg"), 2+1+plotted+1+1+4+1+plotted; got != want {
		t.Errorf("%d svg plots, want %d", got, want)
	}
	checkSelfContained(t, html)
}

// checkSelfContained fails when a page has a script, fetches anything or
// has non-finite coordinates.
func checkSelfContained(t *testing.T, html string) {
	t.Helper()
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	if strings.Contains(html, "NaN") || strings.Contains(html, "Inf") {
		t.Error("report contains NaN or Inf coordinates")
	}
}

func TestWriteMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir); err == nil || !strings.Contains(err.Error(), "summary.json") {
		t.Errorf("err = %v", err)
	}
	writeRun(t, dir)
	if err := os.Remove(filepath.Join(dir, "connect.hlog")); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir); err == nil || !strings.Contains(err.Error(), "connect.hlog") {
		t.Errorf("err = %v", err)
	}
}

func TestEmptyRun(t *testing.T) {
	dir := t.TempDir()
	rec := metrics.NewRecorder(metrics.RecorderOptions{})
	res, err := results.Create(dir, rec.Start())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.WriteInterval(rec.TakeInterval()); err != nil {
		t.Fatal(err)
	}
	s := rec.Snapshot()
	if err := res.WriteSummary(results.NewSummaryFile(s, results.SummaryFileOptions{WithFiles: true, Validity: validity.Check(s, nil, validity.Options{})})); err != nil {
		t.Fatal(err)
	}
	if err := res.Close(); err != nil {
		t.Fatal(err)
	}
	path, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "No phase was measured") || strings.Contains(string(b), "NaN") {
		t.Errorf("empty report:\n%s", b)
	}
}
