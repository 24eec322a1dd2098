package results

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
)

// TestHlogMillisecondHeaders: a run that starts at .123 s writes StartTime
// and BaseTime with the milliseconds, so every interval's absolute time is
// exact (ReadHlog) and, read by hdrhistogram-go's own reader, no interval
// starts before the log's StartTime.
func TestHlogMillisecondHeaders(t *testing.T) {
	dir := t.TempDir()
	clk := metricstest.NewClock()
	clk.Advance(123 * time.Millisecond)
	rec := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	start := rec.Start()
	w, err := Create(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c := metricstest.Call(clk.Now(), time.Millisecond, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{metrics.PhaseConnect: 100 * time.Millisecond})
		rec.Record(c)
		clk.Advance(time.Duration(i+1) * 1500 * time.Millisecond)
		if err := w.WriteInterval(rec.TakeInterval()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, HlogName(metrics.PhaseConnect, false))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantStart := "#[StartTime: 1767323045.123 (seconds since epoch), 2026-01-02T03:04:05.123Z]"
	wantBase := "#[BaseTime: 1767323045.123 (seconds since epoch)]"
	if !strings.Contains(string(b), wantStart+"\n") || !strings.Contains(string(b), wantBase+"\n") {
		t.Fatalf("headers lack %q and %q:\n%s", wantStart, wantBase, b)
	}

	ivs, total, err := ReadHlog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 3 || total.TotalCount() != 3 {
		t.Fatalf("%d intervals, %d values; want 3, 3", len(ivs), total.TotalCount())
	}
	at := start
	for i, iv := range ivs {
		end := at.Add(time.Duration(i+1) * 1500 * time.Millisecond)
		if iv.StartTimeMs() != at.UnixMilli() || iv.EndTimeMs() != end.UnixMilli() {
			t.Errorf("interval %d spans %d..%d ms from the start, want %d..%d", i,
				iv.StartTimeMs()-start.UnixMilli(), iv.EndTimeMs()-start.UnixMilli(), at.Sub(start).Milliseconds(), end.Sub(start).Milliseconds())
		}
		at = end
	}

	// hdrhistogram-go's reader agrees to within its float rounding, and no
	// interval begins before StartTime (a negative first offset).
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := hdrhistogram.NewHistogramLogReader(bufio.NewReader(f))
	first, err := rd.NextIntervalHistogram()
	if err != nil || first == nil {
		t.Fatalf("library reader: %v, %v", first, err)
	}
	if d := first.StartTimeMs() - start.UnixMilli(); d < -1 || d > 1 {
		t.Errorf("library reader: first interval starts %d ms from the run start, want 0 (±1 ms of float rounding)", d)
	}
}
