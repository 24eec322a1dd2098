package results

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
)

// sameSnapshot fails unless a and b hold the same figures: every
// histogram equal, every counter, time and timeline the same.
func sameSnapshot(t *testing.T, what string, a, b *metrics.Snapshot) {
	t.Helper()
	ha, hb := histogramRefs(a), histogramRefs(b)
	for i := range ha {
		if !(*ha[i].h).Equals(*hb[i].h) {
			t.Errorf("%s: histogram %s differs (%d vs %d values)", what, ha[i].name, (*ha[i].h).TotalCount(), (*hb[i].h).TotalCount())
		}
	}
	strip := func(s *metrics.Snapshot) metrics.Snapshot {
		c := *s
		c.Scheduled, c.Service = [metrics.NumPhases]*hdrhistogram.Histogram{}, [metrics.NumPhases]*hdrhistogram.Histogram{}
		c.Lag, c.Jitter, c.UplinkJitter, c.Gap, c.RTT, c.MOS = nil, nil, nil, nil, nil, nil
		c.Start, c.Taken, c.ArrivalsEnd = c.Start.UTC(), c.Taken.UTC(), c.ArrivalsEnd.UTC()
		if c.Failures == nil {
			c.Failures = map[metrics.FailureKey]uint64{}
		}
		return c
	}
	if sa, sb := strip(a), strip(b); !reflect.DeepEqual(sa, sb) {
		t.Errorf("%s: snapshots differ:\n%+v\n%+v", what, sa, sb)
	}
}

// shardRecorder records calls into a recorder that starts at start.
func shardRecorder(start time.Time, calls []metrics.CallRecord) *metrics.Recorder {
	clk := metricstest.NewClock()
	clk.Advance(start.Sub(clk.Now()))
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	for i, c := range calls {
		if i%20 == 0 {
			clk.Advance(time.Second)
		}
		r.CallStarted()
		r.Record(c)
	}
	r.Dropped()
	r.ArrivalsEnded(clk.Now())
	clk.Advance(time.Second)
	return r
}

func writeShard(t *testing.T, s *metrics.Snapshot, opts SummaryFileOptions) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteSummaryFile(dir, NewSummaryFile(s, opts)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadExact: summary.json carries the whole snapshot; Read rebuilds it
// exactly; merging shards' Read snapshots equals the snapshot of one
// recorder that saw every call, and a merge of one shard is that shard.
func TestReadExact(t *testing.T) {
	base := metricstest.NewClock().Now()
	calls := metricstest.RandomCalls(7, base, 400)
	for i := range calls {
		if i%3 == 0 {
			calls[i].Reoffers = []metrics.Reoffer{{Phase: metrics.PhaseHold, Requested: base, Applied: base.Add(time.Duration(i) * time.Millisecond)}}
			calls[i].Media.Audio = metrics.MediaStreamStats{PacketsSent: 10, UplinkReports: 1, UplinkPacketsLost: 1, UplinkJitter: time.Millisecond}
			calls[i].Media.UplinkReports, calls[i].Media.UplinkJitter, calls[i].Media.LongestGap = 1, time.Millisecond, time.Duration(i)*time.Millisecond
		}
		if i%7 == 0 {
			calls[i].Outcome, calls[i].FailedPhase, calls[i].Reason, calls[i].Status = metrics.OutcomeFailed, metrics.PhaseConnect, metrics.ReasonRemoteEnded, 486
		}
	}
	a := shardRecorder(base, calls[:250]).Snapshot()
	b := shardRecorder(base.Add(1500*time.Millisecond), calls[250:]).Snapshot()

	dirA := writeShard(t, a, SummaryFileOptions{RunID: "r1", Shard: 0, Shards: 2, Complete: true,
		ThresholdsSource: map[string][]string{"connect": {"p(99) < 2s"}, "hold": {"p(95) < 1s"}}})
	dirB := writeShard(t, b, SummaryFileOptions{RunID: "r1", Shard: 1, Shards: 2, Complete: true})

	ra, fa, err := Read(dirA)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "read", ra, a)
	if !fa.Complete || fa.RunID != "r1" || fa.Shard != 0 || fa.Shards != 2 || fa.ThresholdsSource["hold"][0] != "p(95) < 1s" {
		t.Errorf("summary fields: complete %v run %q shard %d/%d thresholds %v", fa.Complete, fa.RunID, fa.Shard, fa.Shards, fa.ThresholdsSource)
	}

	// merge(A) == A, and a second read merges like the original.
	one, _, err := Read(dirA)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "merge of one", one, a)

	rb, _, err := Read(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if err := ra.Merge(rb); err != nil {
		t.Fatal(err)
	}
	want := shardRecorder(base, calls[:250]).Snapshot()
	if err := want.Merge(b); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "merge of two", ra, want)
	// And the merged summary is the summary of the merged snapshot.
	var got, exp bytes.Buffer
	if err := NewSummaryFile(ra, SummaryFileOptions{}).WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	if err := NewSummaryFile(want, SummaryFileOptions{}).WriteJSON(&exp); err != nil {
		t.Fatal(err)
	}
	if got.String() != exp.String() {
		t.Error("summary of the merged read snapshots differs from the summary of the merged snapshots")
	}

	if _, _, err := Read(t.TempDir()); err == nil {
		t.Error("Read of an empty directory: no error")
	}
}

// TestCallsFlushedWithinASecond: a written call reaches calls.jsonl
// without Flush or Close (what a kill -9 leaves), and Flush writes at once.
func TestCallsFlushedWithinASecond(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	path := filepath.Join(dir, CallsFileName)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if err := w.WriteCall(metricstest.Call(time.Now(), 0, metrics.OutcomeSuccess, nil)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // a bound on the test, not the assertion
	for size() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("calls.jsonl still empty: the line was never flushed without Close")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := size()
	if err := w.WriteCall(metricstest.Call(time.Now(), 0, metrics.OutcomeSuccess, nil)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if size() <= before {
		t.Error("Flush did not write the buffered line")
	}
}

// TestRunSummaries: the periodic writer leaves a parseable summary marked
// incomplete while the run goes, and stops with its context.
func TestRunSummaries(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := metrics.NewRecorder(metrics.RecorderOptions{})
	wrote := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- w.RunSummaries(ctx, 10*time.Millisecond, func() *SummaryFile {
			select {
			case wrote <- struct{}{}:
			default:
			}
			return NewSummaryFile(rec.Snapshot(), SummaryFileOptions{})
		})
	}()
	<-wrote
	<-wrote // the first write has completed by the second build
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sf := readSummaryIn(t, dir)
	if sf.Complete || sf.Snapshot == nil {
		t.Errorf("periodic summary: complete %v, snapshot %v; want false and present", sf.Complete, sf.Snapshot != nil)
	}
	if err := w.RunSummaries(t.Context(), 0, nil); err == nil {
		t.Error("a zero period was accepted")
	}
}

// TestFinalSummaryStays: once the complete summary is written, a partial
// one (a periodic writer still running) does not replace it.
func TestFinalSummaryStays(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	snap := metrics.NewRecorder(metrics.RecorderOptions{}).Snapshot()
	for _, complete := range []bool{false, true, false} {
		if err := w.WriteSummary(NewSummaryFile(snap, SummaryFileOptions{Complete: complete})); err != nil {
			t.Fatal(err)
		}
	}
	sf := readSummaryIn(t, dir)
	if !sf.Complete {
		t.Error("a partial summary replaced the final one")
	}
}

// readSummaryIn reads dir's summary.json.
func readSummaryIn(t *testing.T, dir string) *SummaryFile {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, SummaryFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sf, err := ReadSummaryFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return sf
}
