package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// TestShardedRunMerge runs one scenario as 3 shard processes against one
// `loadgen serve` process, started together by --start-at, then merges
// them: every call of the one schedule ran exactly once (disjoint call
// numbers, each at the instant the unsharded schedule has it), the merged
// histograms equal those of every call's recorded values, and the verdict
// is the merged run's (a bound each shard keeps fails the whole run).
func TestShardedRunMerge(t *testing.T) {
	g := startServeProc(t)
	const shards, rate, calls = 3, 12.0, 36
	path := writeScenario(t, fmt.Sprintf(`name: sharded
target: {rest_url: "%s"}
load: {rate: %g, max_calls: %d}
call: {hold: 300ms}
thresholds:
  failures: ["count == 0"]
  start: ["count < 20"]   # each shard has 12: the merged run has 36
`, g.url, rate, calls))
	startAt := time.Now().Add(3 * time.Second).UTC()
	var dirs []string
	var cmds []*exec.Cmd
	var errs []*syncBuffer
	for i := range shards {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("shard-%d", i))
		dirs = append(dirs, dir)
		cmd, stderr := startRun(t, io.Discard, "--shard", fmt.Sprintf("%d/%d", i, shards), "--start-at", startAt.Format(time.RFC3339Nano),
			"--run-id", "sharded-test", "--out", dir, path)
		cmds, errs = append(cmds, cmd), append(errs, stderr)
	}
	for i, cmd := range cmds {
		if code := wait(t, cmd, 90*time.Second, errs[i]); code != exitOK {
			t.Fatalf("shard %d exit %d, want 0 (12 starts keep start count < 20)\n%s", i, code, errs[i])
		}
	}
	out := filepath.Join(t.TempDir(), "merged")
	merge := exec.Command(binary(t), append([]string{"merge", "--out", out}, dirs...)...)
	var mergeOut syncBuffer
	merge.Stdout, merge.Stderr = &mergeOut, &mergeOut
	if code := exitStatus(merge.Run()); code != exitThresholds {
		t.Fatalf("merge exit %d, want %d (start count 36 crosses < 20)\n%s", code, exitThresholds, mergeOut.String())
	}
	if !strings.Contains(mergeOut.String(), "start: count < 20") {
		t.Errorf("merge output does not show the crossed threshold:\n%s", mergeOut.String())
	}
	snap, sf, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Attempted != calls || snap.Succeeded != calls || !sf.Complete {
		t.Errorf("merged: %d attempted, %d succeeded (complete %v), want %d", snap.Attempted, snap.Succeeded, sf.Complete, calls)
	}
	// Every call of the one schedule exactly once, at its instant.
	lines := readCallLines(t, filepath.Join(out, "calls.jsonl"))
	var idx []uint64
	connect := metrics.NewLatencyHistogram()
	for _, c := range lines {
		idx = append(idx, c.Index)
		want := startAt.Add(time.Duration(float64(c.Index) / rate * float64(time.Second)))
		if d := c.Scheduled.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("call %d scheduled %v after the start, want %v (the unsharded schedule's instant)", c.Index, c.Scheduled.Sub(startAt), want.Sub(startAt))
		}
		if p, ok := c.Phases["connect"]; ok {
			if err := connect.RecordValue(p.ScheduledUS); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(idx)
	for i, n := range idx {
		if n != uint64(i) {
			t.Fatalf("call numbers %v, want 0..%d each once", idx, calls-1)
		}
	}
	if len(idx) != calls {
		t.Fatalf("%d calls in the merged calls.jsonl, want %d", len(idx), calls)
	}
	// The merged histogram is exactly the histogram of every call's value.
	if !snap.Scheduled[metrics.PhaseConnect].Equals(connect) {
		t.Errorf("merged connect histogram (n=%d, p50 %d, p99 %d) differs from the calls' values (n=%d, p50 %d, p99 %d)",
			snap.Scheduled[metrics.PhaseConnect].TotalCount(), snap.Scheduled[metrics.PhaseConnect].ValueAtQuantile(50), snap.Scheduled[metrics.PhaseConnect].ValueAtQuantile(99),
			connect.TotalCount(), connect.ValueAtQuantile(50), connect.ValueAtQuantile(99))
	}
	// The union's inter-arrival statistics are a single run's at the
	// full rate: every gap 1/rate (the shards interleave by phase).
	var sched []time.Time
	for _, c := range lines {
		sched = append(sched, c.Scheduled)
	}
	slices.SortFunc(sched, time.Time.Compare)
	for i := 1; i < len(sched); i++ {
		if gap := sched[i].Sub(sched[i-1]); gap < 83*time.Millisecond || gap > 84*time.Millisecond {
			t.Errorf("inter-arrival %d: %v, want 1/%g s", i, gap, rate)
		}
	}
	// Each shard reports its start skew.
	for i, e := range errs {
		if !strings.Contains(e.String(), "shard "+strconv.Itoa(i)+"/3 of run sharded-test") {
			t.Errorf("shard %d does not name its shard and run:\n%s", i, e)
		}
	}
	for _, d := range dirs {
		if sf := readSummary(t, d); !strings.Contains(strings.Join(sf.Notes, "\n"), "start skew") {
			t.Errorf("%s: no start skew in the notes %q", d, sf.Notes)
		}
	}
}

// readCallLines parses a calls.jsonl.
func readCallLines(t *testing.T, path string) []results.CallLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []results.CallLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var c results.CallLine
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}
