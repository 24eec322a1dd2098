package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/loadgen/loadgen/internal/metrics/report"
	"github.com/loadgen/loadgen/internal/run"
	"github.com/loadgen/loadgen/internal/scenario"
)

func validateCommand() command {
	return command{
		summary: "check scenario files and print each plan in one line",
		usage: "loadgen validate [--metrics-listen ADDR] FILE...\n\n" +
			"Decodes each scenario strictly and makes every check 'loadgen run' makes before it\n" +
			"starts (media files decode, the token key is set and valid, ended_by gateway has the\n" +
			"built-in gateway, the metrics address), reporting every problem with file, line and\n" +
			"field (exit 2), or prints the plan: mode, rate and ramps, cap, duration, hold time, media.\n\n" +
			"Example:\n  loadgen validate scenarios/*.yaml",
		exitCodes: []int{exitOK, exitUsage},
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			metricsListen := fs.String("metrics-listen", "", "also check this metrics address, as 'loadgen run --metrics-listen' would")
			return func(_ context.Context, e *env, args []string) error {
				if len(args) == 0 {
					return usageErrorf("no scenario file given")
				}
				bad := 0
				for _, path := range args {
					s, err := scenario.Load(path)
					if err == nil {
						err = run.Check(s, e.getenv, *metricsListen)
					}
					if err != nil {
						bad++
						printScenarioErrors(e, err)
						continue
					}
					fmt.Fprintf(e.stdout, "%s: ok: %s\n", path, s.Describe())
				}
				if bad > 0 {
					return usageErrorf("%d of %d scenario files are invalid", bad, len(args))
				}
				return nil
			}
		},
	}
}

// printScenarioErrors writes one line per problem of a scenario that failed
// to load or to pass run's checks.
func printScenarioErrors(e *env, err error) {
	var es scenario.Errors
	var ps run.Problems
	switch {
	case errors.As(err, &es):
		for _, fe := range es {
			fmt.Fprintln(e.stderr, fe)
		}
	case errors.As(err, &ps):
		for _, p := range ps {
			fmt.Fprintln(e.stderr, p)
		}
	default:
		fmt.Fprintln(e.stderr, err)
	}
}

func reportCommand() command {
	return command{
		summary: "write a self-contained HTML report of a run's results",
		usage: "loadgen report DIR\n       loadgen report [--out FILE] BASELINE_DIR CANDIDATE_DIR\n\n" +
			"Reads summary.json, the .hlog files and calls.jsonl that 'loadgen run --out DIR'\n" +
			"(or 'loadgen merge --out DIR') wrote and writes DIR/report.html: latency over time\n" +
			"per phase, percentiles, the rate and in-progress timeline, failures and media over\n" +
			"time, thresholds. With two directories, compares them side by side (baseline\n" +
			"against candidate) in CANDIDATE_DIR/compare.html. Opens offline; no network needed.",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			out := fs.String("out", "", "with two directories: where to write the comparison (default CANDIDATE_DIR/compare.html)")
			return func(_ context.Context, e *env, args []string) error {
				switch len(args) {
				case 1:
					path, err := report.Write(args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "report written to %s\n", path)
				case 2:
					path := *out
					if path == "" {
						path = filepath.Join(args[1], report.CompareFileName)
					}
					if err := report.WriteCompare(path, args[0], args[1]); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "comparison written to %s\n", path)
				default:
					return usageErrorf("want one results directory, or two to compare")
				}
				return nil
			}
		},
	}
}
