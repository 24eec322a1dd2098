package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDelta(t *testing.T) {
	tests := []struct {
		name    string
		d       Delta
		verdict string
		diff    string
	}{
		{"slower", Delta{Base: 100e3, Cand: 150e3, Unit: UnitMicroseconds, Better: LowerIsBetter}, "worse", "+50 ms (+50%)"},
		{"faster", Delta{Base: 100e3, Cand: 80e3, Unit: UnitMicroseconds, Better: LowerIsBetter}, "better", "−20 ms (−20%)"},
		{"noise", Delta{Base: 100e3, Cand: 103e3, Unit: UnitMicroseconds, Better: LowerIsBetter}, "same", "+3 ms (+3%)"},
		{"tiny absolute", Delta{Base: 10, Cand: 50, Unit: UnitMicroseconds, Better: LowerIsBetter}, "same", "+40 µs (×5)"},
		{"factor", Delta{Base: 1e6, Cand: 3.5e6, Unit: UnitMicroseconds, Better: LowerIsBetter}, "worse", "+2.5 s (×3.5)"},
		{"from zero", Delta{Base: 0, Cand: 3, Unit: UnitCount, Better: LowerIsBetter}, "worse", "+3"},
		{"equal", Delta{Base: 4, Cand: 4, Unit: UnitCount, Better: LowerIsBetter}, "same", "0"},
		{"neutral", Delta{Base: 10, Cand: 20, Unit: UnitPerSecond, Better: Neutral}, "same", "+10/s (×2)"},
		{"higher better", Delta{Base: 0.9, Cand: 0.99, Unit: UnitRatio, Better: HigherIsBetter}, "better", "+9 pp (+10%)"},
		{"missing", Delta{Base: math.NaN(), Cand: 1, Unit: UnitScore, Better: HigherIsBetter}, "same", "–"},
	}
	for _, tc := range tests {
		if got := tc.d.Verdict(); got != tc.verdict {
			t.Errorf("%s: Verdict() = %q, want %q", tc.name, got, tc.verdict)
		}
		if got := tc.d.Diff(); got != tc.diff {
			t.Errorf("%s: Diff() = %q, want %q", tc.name, got, tc.diff)
		}
	}
}

func TestCompare(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeRun(t, a)
	writeRun(t, b)
	base, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	cand, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	// The same run on both sides: nothing changed.
	ds := Compare(base, cand)
	groups := map[string]bool{}
	for _, d := range ds {
		groups[d.Group] = true
		if v := d.Verdict(); v != "same" {
			t.Errorf("%s %s: %v vs %v: %s, want same", d.Group, d.Name, d.Base, d.Cand, v)
		}
	}
	for _, g := range []string{"run", "connect", "end", "scheduler lag", "media", "generator"} {
		if !groups[g] {
			t.Errorf("no %q figures", g)
		}
	}
	// A slower, failing candidate (cand was loaded on its own: its
	// histograms are not base's).
	cand.Summary.Phases[4].Scheduled.P99 *= 3
	h := cand.Scheduled[4]
	for range h.TotalCount() / 10 {
		if err := h.RecordValue(5_000_000); err != nil {
			t.Fatal(err)
		}
	}
	cand.Summary.Calls.Failed += 40
	out := map[string]string{}
	for _, d := range Compare(base, cand) {
		out[d.Group+" "+d.Name] = d.Verdict()
	}
	for k, want := range map[string]string{"connect p99": "worse", "connect max": "worse", "run failed": "worse", "ringing p99": "same"} {
		if out[k] != want {
			t.Errorf("%s: %q, want %q", k, out[k], want)
		}
	}

	var buf bytes.Buffer
	if err := WriteCompareHTML(&buf, base, cand, CompareOptions{BaseName: "main", CandName: "pr-42"}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		"<title>loadgen comparison: main → pr-42</title>", "baseline: main", "candidate: pr-42",
		`id="key-figures"`, `class="worse"`, `id="thresholds"`, "p(99) &lt; 1s", `id="failures"`, "ice_failed",
		`id="latency-over-time"`, "main p99", "pr-42 p99", `id="percentiles"`, "Calls started and failed per second",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("comparison lacks %q", want)
		}
	}
	checkSelfContained(t, html)

	outPath := filepath.Join(t.TempDir(), CompareFileName)
	if err := WriteCompare(outPath, a, b); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(outPath); err != nil || st.Size() == 0 {
		t.Errorf("WriteCompare wrote nothing: %v", err)
	}
	if err := WriteCompare(outPath, a, t.TempDir()); err == nil || !strings.HasPrefix(err.Error(), "candidate ") {
		t.Errorf("WriteCompare(empty candidate) = %v", err)
	}
}
