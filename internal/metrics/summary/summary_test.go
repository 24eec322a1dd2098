package summary

import (
	"bytes"
	"errors"
	"flag"
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

func TestWriteGolden(t *testing.T) {
	s := metricstest.Run(42, 600, 200)
	usage := &cpu.Usage{CPUs: 8, Utilization: 0.97, Peak: 1}
	v := validity.Check(s, usage, validity.Options{MaxLagP99: 10 * time.Millisecond})
	var buf bytes.Buffer
	if err := Write(&buf, s, Options{Title: "golden", Thresholds: evaluate(t, s, metricstest.GoldenThresholds()...), Validity: v, CPU: usage}); err != nil {
		t.Fatal(err)
	}
	metricstest.Golden(t, "summary.golden", buf.Bytes(), *update)
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
	s := metricstest.Run(42, 600, 200)
	for _, n := range []int{0, 3, 10} {
		if err := Write(&failingWriter{n: n}, s, Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d writes: err = %v", n, err)
		}
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

// TestWriteEngine: the media engine, when given, is named under the title;
// without it there is no line.
func TestWriteEngine(t *testing.T) {
	s := metrics.NewRecorder(metrics.RecorderOptions{}).Snapshot()
	for _, tt := range []struct {
		engine, want string
	}{
		{"transport", "loadgen summary: t\n==================\n\nengine     transport media engine\nduration   "},
		{"", "loadgen summary: t\n==================\n\nduration   "},
	} {
		var buf bytes.Buffer
		if err := Write(&buf, s, Options{Title: "t", Engine: tt.engine}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(buf.String(), tt.want) {
			t.Errorf("Write(Engine %q) starts:\n%s\nwant:\n%s", tt.engine, buf.String()[:min(len(buf.String()), 120)], tt.want)
		}
	}
}
