package merge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics/results"
)

// Write writes the merged run into dir like a run's own results, so
// `loadgen report` and a second merge read it: summary.json (complete, the
// merged snapshot encoded, the shards' thresholds source), every interval
// log with all shards' intervals on one time base, and calls.jsonl with
// every shard's calls.
func Write(dir string, res *Result, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	first := res.Shards[0].Summary
	labels := map[string]string{}
	for k, v := range first.Labels {
		labels[k] = v
	}
	labels["shard"] = fmt.Sprintf("merged %d", len(res.Shards))
	labels["merged_by"] = version
	var dirs []string
	for _, s := range res.Shards {
		dirs = append(dirs, s.Dir)
	}
	labels["merged_from"] = strings.Join(dirs, ",")
	sf := results.NewSummaryFile(res.Snapshot, results.SummaryFileOptions{
		Title:            "merged: " + first.Labels["scenario"],
		Labels:           labels,
		Thresholds:       res.Thresholds,
		Validity:         res.Verdict,
		WithFiles:        true,
		Complete:         true,
		RunID:            first.RunID,
		Shard:            0,
		Shards:           1,
		ThresholdsSource: first.ThresholdsSource,
	})
	if err := results.WriteSummaryFile(dir, sf); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := mergeHlogs(dir, dirs, res.Snapshot.Start); err != nil {
		return err
	}
	return concatCalls(dir, dirs)
}

// mergeHlogs writes each interval log present in the shards with every
// shard's intervals, ordered by their absolute start.
func mergeHlogs(out string, dirs []string, start time.Time) error {
	names := map[string]bool{}
	for _, d := range dirs {
		m, err := filepath.Glob(filepath.Join(d, "*.hlog"))
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		for _, p := range m {
			names[filepath.Base(p)] = true
		}
	}
	for name := range names {
		var all []*hdrhistogram.Histogram
		for _, d := range dirs {
			ivs, _, err := results.ReadHlog(filepath.Join(d, name))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("merge: %w", err)
			}
			all = append(all, ivs...)
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].StartTimeMs() < all[j].StartTimeMs() })
		comment := "loadgen merged interval log: " + strings.TrimSuffix(name, ".hlog")
		if err := results.WriteHlogFile(filepath.Join(out, name), comment, start, all); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	return nil
}

// concatCalls writes calls.jsonl with every shard's calls, shard by shard.
func concatCalls(out string, dirs []string) (err error) {
	f, err := os.Create(filepath.Join(out, results.CallsFileName))
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("merge: %w", cerr)
		}
	}()
	w := bufio.NewWriter(f)
	for _, d := range dirs {
		in, err := os.Open(filepath.Join(d, results.CallsFileName))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		_, err = io.Copy(w, in)
		if cerr := in.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("merge: %s: %w", d, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}
