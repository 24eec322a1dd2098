// Package merge merges the result directories of a sharded run into one
// result, exactly: the shards' recorded HdrHistograms (not their
// percentiles) are merged, counters and media totals added, timelines
// aligned on wall time, interval logs and call records combined; and the
// merged result is judged once, with the thresholds of the scenario the
// shards ran (recorded in their results), as one run would have been.
package merge

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

// ErrInconsistent marks shards that do not belong to one run: different
// scenarios or thresholds, different run ids, a shard missing or twice, or
// an incomplete result. Options.Force merges them anyway.
var ErrInconsistent = errors.New("the results are not the shards of one run")

// Shard is one shard's results as read.
type Shard struct {
	// Dir is the result directory.
	Dir string
	// Summary is its summary.json.
	Summary *results.SummaryFile
	// Snapshot is its recorded data, rebuilt exactly.
	Snapshot *metrics.Snapshot
}

// Result is the merged run, judged once.
type Result struct {
	// Shards are the inputs, in shard order.
	Shards []Shard
	// Snapshot is the merged data.
	Snapshot *metrics.Snapshot
	// Thresholds are the scenario's thresholds evaluated on Snapshot.
	Thresholds []threshold.Result
	// Verdict is invalid when any shard was, or the merged data is.
	Verdict validity.Verdict
	// Warnings are inconsistencies merged anyway (Force).
	Warnings []string
}

// Read reads every shard directory.
func Read(dirs []string) ([]Shard, error) {
	if len(dirs) == 0 {
		return nil, errors.New("merge: no result directories")
	}
	shards := make([]Shard, 0, len(dirs))
	for _, d := range dirs {
		snap, sf, err := results.Read(d)
		if err != nil {
			return nil, fmt.Errorf("merge: %s: %w", d, err)
		}
		shards = append(shards, Shard{Dir: d, Summary: sf, Snapshot: snap})
	}
	sort.SliceStable(shards, func(i, j int) bool { return shards[i].Summary.Shard < shards[j].Summary.Shard })
	return shards, nil
}

// Check lists what makes shards not the shards of one run.
func Check(shards []Shard) []string {
	var problems []string
	first := shards[0].Summary
	seen := map[int]string{}
	for _, s := range shards {
		sf := s.Summary
		if !sf.Complete {
			problems = append(problems, fmt.Sprintf("%s: the run did not finish (summary.json is incomplete)", s.Dir))
		}
		if sf.Labels["scenario"] != first.Labels["scenario"] {
			problems = append(problems, fmt.Sprintf("%s: scenario %q, but %s ran %q", s.Dir, sf.Labels["scenario"], shards[0].Dir, first.Labels["scenario"]))
		}
		if !maps.EqualFunc(sf.ThresholdsSource, first.ThresholdsSource, slices.Equal) {
			problems = append(problems, fmt.Sprintf("%s: its scenario's thresholds differ from %s's", s.Dir, shards[0].Dir))
		}
		if sf.RunID != first.RunID {
			problems = append(problems, fmt.Sprintf("%s: run id %q, but %s has %q", s.Dir, sf.RunID, shards[0].Dir, first.RunID))
		}
		if sf.Shards != first.Shards {
			problems = append(problems, fmt.Sprintf("%s: shard of %d, but %s is a shard of %d", s.Dir, sf.Shards, shards[0].Dir, first.Shards))
		}
		if d, ok := seen[sf.Shard]; ok {
			problems = append(problems, fmt.Sprintf("%s and %s are both shard %d", d, s.Dir, sf.Shard))
		}
		seen[sf.Shard] = s.Dir
	}
	if len(shards) != first.Shards {
		problems = append(problems, fmt.Sprintf("%d result directories for a run of %d shards", len(shards), first.Shards))
	}
	return problems
}

// Merge merges shards (read with Read) and judges the result once. Shards
// that fail Check are refused with ErrInconsistent unless force.
func Merge(shards []Shard, force bool) (*Result, error) {
	res := &Result{Shards: shards}
	if problems := Check(shards); len(problems) > 0 {
		if !force {
			return nil, fmt.Errorf("merge: %w:\n  %s\n(--force merges them anyway)", ErrInconsistent, strings.Join(problems, "\n  "))
		}
		res.Warnings = problems
	}
	merged, _, err := results.Read(shards[0].Dir) // a private copy to merge into
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	for _, s := range shards[1:] {
		if err := merged.Merge(s.Snapshot); err != nil {
			return nil, fmt.Errorf("merge: %s: %w", s.Dir, err)
		}
	}
	res.Snapshot = merged
	ths, err := Thresholds(shards[0].Summary.ThresholdsSource)
	if err != nil {
		return nil, err
	}
	res.Thresholds = threshold.Evaluate(merged, ths)
	res.Verdict = verdict(shards, merged)
	return res, nil
}

// Thresholds parses the thresholds a scenario wrote (metric to
// expressions), adding the implicit failures threshold when there is none
// on failures, as the run did.
func Thresholds(src map[string][]string) ([]threshold.Threshold, error) {
	var out []threshold.Threshold
	for _, metric := range slices.Sorted(maps.Keys(src)) {
		for _, expr := range src[metric] {
			t, err := threshold.Parse(metric, expr)
			if err != nil {
				return nil, fmt.Errorf("merge: recorded threshold %s: %s: %w", metric, expr, err)
			}
			out = append(out, t)
		}
	}
	out, err := threshold.WithImplicit(out)
	if err != nil {
		return nil, fmt.Errorf("merge: implicit threshold: %w", err)
	}
	return out, nil
}

// verdict is invalid when any shard was (each generator judged its own
// CPU), or when the merged data is (the scheduler lag across shards).
func verdict(shards []Shard, merged *metrics.Snapshot) validity.Verdict {
	v := validity.Check(merged, nil, validity.Options{})
	for _, s := range shards {
		if !s.Summary.Valid {
			v.Valid = false
			for _, r := range s.Summary.InvalidReasons {
				v.Reasons = append(v.Reasons, fmt.Sprintf("shard %d: %s", s.Summary.Shard, r))
			}
		}
		for _, n := range s.Summary.Notes {
			v.Notes = append(v.Notes, fmt.Sprintf("shard %d: %s", s.Summary.Shard, n))
		}
	}
	// The merged check has no CPU figure of its own: say where it comes
	// from rather than note its absence.
	v.Notes = slices.DeleteFunc(v.Notes, func(n string) bool { return strings.Contains(n, "CPU") && strings.Contains(n, "not measured") })
	return v
}
