package summary

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenSnapshot is a deterministic run: 600 calls over 60 s at 10/s with
// failures, drops and media, and a constant 10/s target.
func goldenSnapshot(t *testing.T) *metrics.Snapshot {
	t.Helper()
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now, TargetRate: func(time.Duration) float64 { return 10 }})
	for i, c := range metricstest.RandomCalls(42, clk.Now(), 600) {
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

func goldenThresholds(t *testing.T, s *metrics.Snapshot) []threshold.Result {
	t.Helper()
	var ts []threshold.Threshold
	for _, e := range [][2]string{{"connect", "p(99) < 2s"}, {"failures", "rate < 0.01"}, {"mos", "avg > 4"}, {"ringing", "p(50) < 300ms"}} {
		th, err := threshold.Parse(e[0], e[1])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	return threshold.Evaluate(s, ts)
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

func TestWriteGolden(t *testing.T) {
	s := goldenSnapshot(t)
	usage := &cpu.Usage{CPUs: 8, Utilization: 0.97, Peak: 1}
	v := validity.Check(s, usage, validity.Options{MaxLagP99: 10 * time.Millisecond})
	var buf bytes.Buffer
	if err := Write(&buf, s, Options{Title: "golden", Thresholds: goldenThresholds(t, s), Validity: v, CPU: usage}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.golden", buf.Bytes())
}

func TestWriteEmptyAndValid(t *testing.T) {
	s := metrics.NewRecorder(metrics.RecorderOptions{}).Snapshot()
	var buf bytes.Buffer
	if err := Write(&buf, s, Options{Validity: validity.Check(s, &cpu.Usage{CPUs: 2, Utilization: 0.1}, validity.Options{})}); err != nil {
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

func TestWriteError(t *testing.T) {
	s := goldenSnapshot(t)
	for _, n := range []int{0, 3, 10} {
		if err := Write(&failingWriter{n: n}, s, Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d writes: err = %v", n, err)
		}
	}
}
