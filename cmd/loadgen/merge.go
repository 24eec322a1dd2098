package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/loadgen/loadgen/internal/merge"
	"github.com/loadgen/loadgen/internal/metrics/summary"
)

func mergeCommand() command {
	return command{
		summary: "merge a sharded run's results exactly and judge them once",
		usage: "loadgen merge --out DIR [--force] SHARD_DIR...\n\n" +
			"Reads each shard's summary.json (the recorded HdrHistograms, not percentiles),\n" +
			"merges histograms, counters, media totals and timelines (aligned on wall time),\n" +
			"the interval logs and calls.jsonl, and evaluates the thresholds of the scenario\n" +
			"the shards ran on the merged data: one verdict, exit codes as 'loadgen run'.\n" +
			"The run is invalid if any shard was. Results of different scenarios or run ids,\n" +
			"a missing or repeated shard, or an unfinished shard are refused unless --force.\n\n" +
			"Example:\n  loadgen merge --out results/peak results/shard-0 results/shard-1 results/shard-2",
		exitCodes: []int{exitOK, exitFailure, exitUsage, exitThresholds, exitInvalid},
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			out := fs.String("out", "", "write the merged results here (required)")
			force := fs.Bool("force", false, "merge results that are not the shards of one run (warnings say why)")
			return func(_ context.Context, e *env, dirs []string) error {
				if *out == "" || len(dirs) == 0 {
					return usageErrorf("want --out DIR and at least one shard directory")
				}
				shards, err := merge.Read(dirs)
				if err != nil {
					return err
				}
				res, err := merge.Merge(shards, *force)
				if errors.Is(err, merge.ErrInconsistent) {
					return usageError(err)
				}
				if err != nil {
					return err
				}
				for _, w := range res.Warnings {
					fmt.Fprintf(e.stderr, "loadgen merge: warning: %s\n", w)
				}
				if err := merge.Write(*out, res, version); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "merged %d shards into %s (HTML report: loadgen report %s)\n", len(shards), *out, *out)
				if err := summary.Write(e.stdout, res.Snapshot, summary.Options{
					Title: "merged: " + shards[0].Summary.Labels["scenario"], Thresholds: res.Thresholds, Validity: res.Verdict,
				}); err != nil {
					return fmt.Errorf("write summary: %w", err)
				}
				return verdictError(res.Verdict, res.Thresholds)
			}
		},
	}
}
