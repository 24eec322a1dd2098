package metrics

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenSnapshot is a deterministic run: 600 calls over 60 s at 10/s with
// failures, drops and media, and a constant 10/s target.
func goldenSnapshot(t *testing.T) *Snapshot {
	t.Helper()
	clk := newFakeClock()
	r := NewRecorder(RecorderOptions{Now: clk.Now, TargetRate: func(time.Duration) float64 { return 10 }})
	for i, c := range randomCalls(42, clk.Now(), 600) {
		if i%10 == 0 && i > 0 {
			clk.Advance(time.Second)
		}
		r.CallStarted()
		r.Record(c)
		if i%200 == 0 {
			r.Dropped()
		}
	}
	clk.Advance(time.Second)
	return r.Snapshot()
}

func goldenThresholds(t *testing.T, s *Snapshot) []ThresholdResult {
	t.Helper()
	var ts []Threshold
	for _, e := range [][2]string{{"connect", "p(99) < 2s"}, {"failures", "rate < 0.01"}, {"mos", "avg > 4"}, {"ringing", "p(50) < 300ms"}} {
		th, err := ParseThreshold(e[0], e[1])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	return EvaluateThresholds(s, ts)
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, got)
	}
}

func TestWriteSummaryGolden(t *testing.T) {
	s := goldenSnapshot(t)
	cpu := &CPUUsage{CPUs: 8, Utilization: 0.97, Peak: 1}
	v := CheckValidity(s, cpu, ValidityOptions{MaxLagP99: 10 * time.Millisecond})
	var buf bytes.Buffer
	if err := WriteSummary(&buf, s, SummaryOptions{Title: "golden", Thresholds: goldenThresholds(t, s), Validity: v, CPU: cpu}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.golden", buf.Bytes())

	var js bytes.Buffer
	sf := NewSummaryFile(s, SummaryFileOptions{Title: "golden", Labels: map[string]string{"mode": "regular"},
		Thresholds: goldenThresholds(t, s), Validity: v, CPU: cpu, WithFiles: true})
	if err := sf.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.json.golden", js.Bytes())
}

func TestWriteSummaryEmptyAndValid(t *testing.T) {
	s := NewRecorder(RecorderOptions{}).Snapshot()
	var buf bytes.Buffer
	if err := WriteSummary(&buf, s, SummaryOptions{Validity: CheckValidity(s, &CPUUsage{CPUs: 2, Utilization: 0.1}, ValidityOptions{})}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"0 attempted", "no call reported media", "VALID: the generator kept up", "connect  scheduled      0"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n--; f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteSummaryWriteError(t *testing.T) {
	s := goldenSnapshot(t)
	for _, n := range []int{0, 3, 10} {
		if err := WriteSummary(&failingWriter{n: n}, s, SummaryOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d writes: err = %v", n, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {850 * time.Microsecond, "850µs"}, {1500 * time.Nanosecond, "1.5µs"}, {12345 * time.Microsecond, "12.3ms"},
		{100 * time.Millisecond, "100ms"}, {1234 * time.Millisecond, "1.23s"}, {59500 * time.Millisecond, "59.5s"},
		{123 * time.Second, "2m3s"}, {-2 * time.Millisecond, "-2ms"},
	}
	for _, tc := range tests {
		if got := FormatDuration(tc.d); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
