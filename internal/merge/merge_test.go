package merge

import (
	"errors"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

// writeShard records calls and writes them as shard i of n of run id.
func writeShard(t *testing.T, seed uint64, calls int, id string, i, n int, ths map[string][]string) string {
	t.Helper()
	clk := metricstest.NewClock()
	rec := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	for _, c := range metricstest.RandomCalls(seed, clk.Now(), calls) {
		rec.Record(c)
	}
	clk.Advance(time.Minute)
	snap := rec.Snapshot()
	dir := t.TempDir()
	sf := results.NewSummaryFile(snap, results.SummaryFileOptions{
		Labels: map[string]string{"scenario": "s"}, Validity: validity.Verdict{Valid: true},
		Complete: true, RunID: id, Shard: i, Shards: n, ThresholdsSource: ths,
	})
	if err := results.WriteSummaryFile(dir, sf); err != nil {
		t.Fatal(err)
	}
	return dir
}

func read(t *testing.T, dirs ...string) []Shard {
	t.Helper()
	s, err := Read(dirs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMergeIdentities: merge(A) is A; merge(A, A) doubles every count and
// leaves every percentile where it was.
func TestMergeIdentities(t *testing.T) {
	a := writeShard(t, 1, 300, "r", 0, 1, map[string][]string{"connect": {"p(99) < 2s"}})
	one, err := Merge(read(t, a), false)
	if err != nil {
		t.Fatal(err)
	}
	orig, _, err := results.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	for p := range metrics.NumPhases {
		if !one.Snapshot.Scheduled[p].Equals(orig.Scheduled[p]) || !one.Snapshot.Service[p].Equals(orig.Service[p]) {
			t.Errorf("merge(A) %s histograms differ from A's", p)
		}
	}
	if one.Snapshot.Succeeded != orig.Succeeded || one.Snapshot.Failed != orig.Failed || one.Snapshot.Attempted != orig.Attempted {
		t.Errorf("merge(A) counts %d/%d/%d, A %d/%d/%d", one.Snapshot.Attempted, one.Snapshot.Succeeded, one.Snapshot.Failed,
			orig.Attempted, orig.Succeeded, orig.Failed)
	}
	if _, err := Merge(read(t, a, a), false); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("merge(A, A) without force = %v, want ErrInconsistent (shard 0 twice)", err)
	}
	two, err := Merge(read(t, a, a), true)
	if err != nil {
		t.Fatal(err)
	}
	if two.Snapshot.Attempted != 2*orig.Attempted || two.Snapshot.Succeeded != 2*orig.Succeeded || two.Snapshot.Media.PacketsSent != 2*orig.Media.PacketsSent {
		t.Errorf("merge(A, A) counts %d/%d, want double %d/%d", two.Snapshot.Attempted, two.Snapshot.Succeeded, orig.Attempted, orig.Succeeded)
	}
	for p := range metrics.NumPhases {
		h, o := two.Snapshot.Scheduled[p], orig.Scheduled[p]
		if h.TotalCount() != 2*o.TotalCount() {
			t.Errorf("%s: %d values, want %d", p, h.TotalCount(), 2*o.TotalCount())
		}
		for _, q := range []float64{50, 90, 99, 99.9, 100} {
			if h.ValueAtQuantile(q) != o.ValueAtQuantile(q) {
				t.Errorf("%s p%g = %d, A's %d", p, q, h.ValueAtQuantile(q), o.ValueAtQuantile(q))
			}
		}
	}
	if len(two.Warnings) == 0 {
		t.Errorf("a forced merge of A twice has no warning")
	}
}

// TestMergeJudgesOnce: thresholds are evaluated on the merged data (a
// count bound each shard keeps can fail the whole run); the run is invalid
// when any shard was; shards of different runs are refused.
func TestMergeJudgesOnce(t *testing.T) {
	ths := map[string][]string{"start": {"count < 250"}}
	a := writeShard(t, 1, 200, "r", 0, 2, ths)
	b := writeShard(t, 2, 200, "r", 1, 2, ths)
	res, err := Merge(read(t, a, b), false)
	if err != nil {
		t.Fatal(err)
	}
	if threshold.AllPassed(res.Thresholds) {
		t.Errorf("thresholds %v passed on the merged run, want start count < 250 crossed", res.Thresholds)
	}
	if len(res.Thresholds) != 2 {
		t.Errorf("%d thresholds, want the scenario's and the implicit failures one", len(res.Thresholds))
	}
	other := writeShard(t, 3, 10, "another-run", 1, 2, ths)
	if _, err := Merge(read(t, a, other), false); !errors.Is(err, ErrInconsistent) {
		t.Errorf("shards of two runs merged: %v", err)
	}
	if _, err := Merge(read(t, a), false); !errors.Is(err, ErrInconsistent) {
		t.Errorf("one shard of two merged without force: %v", err)
	}
	// A shard that was invalid makes the merged run invalid.
	sf := results.NewSummaryFile(res.Shards[1].Snapshot, results.SummaryFileOptions{
		Labels: map[string]string{"scenario": "s"}, Validity: validity.Verdict{Valid: false, Reasons: []string{"lag"}},
		Complete: true, RunID: "r", Shard: 1, Shards: 2, ThresholdsSource: ths,
	})
	if err := results.WriteSummaryFile(b, sf); err != nil {
		t.Fatal(err)
	}
	res, err = Merge(read(t, a, b), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict.Valid || len(res.Verdict.Reasons) == 0 || res.Verdict.Reasons[0] != "shard 1: lag" {
		t.Errorf("verdict %+v, want invalid because shard 1 was", res.Verdict)
	}
	// What Write writes reads back as the merged run.
	out := t.TempDir()
	if err := Write(out, res, "test"); err != nil {
		t.Fatal(err)
	}
	back, sf2, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Attempted != res.Snapshot.Attempted || !back.Scheduled[metrics.PhaseConnect].Equals(res.Snapshot.Scheduled[metrics.PhaseConnect]) || !sf2.Complete {
		t.Errorf("merged results read back differ")
	}
}
