package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
	"github.com/loadgen/loadgen/internal/run"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/worker"
)

// runFlags are `loadgen run`'s flags.
type runFlags struct {
	o        run.Options
	shard    string
	startAt  string
	rate     optFloat
	duration optDuration
	maxCalls optUint
	// engine is --media-engine; pionDefaults the deprecated --pion-defaults.
	engine       string
	pionDefaults bool
	// mediaEngine is the engine the flags chose (nil: the scenario's).
	mediaEngine *scenario.MediaEngine
	// cpuProfile is --cpu-profile: a pprof CPU profile of the run.
	cpuProfile string
}

func runCommand() command {
	return command{
		summary: "run a scenario: place calls, measure them, check thresholds",
		usage: "loadgen run [flags] SCENARIO.yaml [flags]\n\n" +
			"With no target in the scenario, the built-in gateway is started in-process\n" +
			"and answers every call with real media. Live progress goes to stderr, the\n" +
			"summary to stdout (after the result files are written). When the duration is\n" +
			"over, calls finish their hold within --grace, then are ended. The first\n" +
			"SIGINT/SIGTERM stops new calls and ends the calls in progress properly now:\n" +
			"each DELETE and unsubscribe is bounded by the scenario's timeouts.end (default\n" +
			"10s), not by --grace. A second one exits at once (calls in progress are not\n" +
			"ended). The results recorded so far are written either way; with --out,\n" +
			"calls.jsonl is flushed every second and summary.json rewritten every 5 s\n" +
			"(\"complete\": false) while the run goes on, so even SIGKILL leaves them.\n\n" +
			"Examples:\n  loadgen run scenarios/peak.yaml\n" +
			"  loadgen run scenarios/peak.yaml --out results/peak --metrics-listen 127.0.0.1:9464\n" +
			"  loadgen run scenarios/peak.yaml --rate 20 --duration 5m --junit junit.xml\n" +
			"  loadgen run scenarios/peak.yaml --media-engine transport\n" +
			"  loadgen run --shard 0/3 --start-at 2026-11-29T12:00:00Z --run-id peak-1 scenarios/peak.yaml",
		exitCodes: []int{exitOK, exitFailure, exitUsage, exitThresholds, exitInvalid, exitInterrupted},
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			var f runFlags
			fs.StringVar(&f.o.Out, "out", "", "write summary.json, .hlog interval logs and calls.jsonl to this directory (overrides outputs.out_dir)")
			fs.StringVar(&f.o.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address during the run (overrides outputs.metrics_listen)")
			fs.DurationVar(&f.o.MetricsLinger, "metrics-linger", 0, "keep /metrics up this long after the run with the final values (overrides outputs.metrics_linger)")
			fs.DurationVar(&f.o.Grace, "grace", run.DefaultGrace, "once the duration is over, how long calls in progress may take to finish their hold before they are ended")
			fs.DurationVar(&f.o.ProgressEvery, "progress-interval", 0, "progress line period (default: 1s on a terminal, 5s otherwise)")
			fs.DurationVar(&f.o.IntervalEvery, "log-interval", 5*time.Second, "period of the .hlog interval logs")
			fs.StringVar(&f.engine, "media-engine", "", "override call.media_engine: pion (the lean pion engine), transport (loadgen's per-core transport; host candidates only) or pion-defaults (pion's defaults: for comparison benchmarks)")
			fs.StringVar(&f.cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the whole run to this file (go tool pprof)")
			fs.BoolVar(&f.pionDefaults, "pion-defaults", false, "deprecated: the same as --media-engine pion-defaults")
			fs.StringVar(&f.shard, "shard", "", "run shard I of N (I/N, from 0): 1/N of the load, calls numbered apart, for `loadgen merge`")
			fs.StringVar(&f.o.RunID, "run-id", "", "the run's id, shared by its shards (default: the scenario's name and the start instant)")
			fs.StringVar(&f.startAt, "start-at", "", "start the schedule at this RFC 3339 instant (shards start together; a late one joins where the schedule stands)")
			fs.Var(&f.rate, "rate", "override load.rate (calls/s)")
			fs.Var(&f.duration, "duration", "override load.duration")
			fs.Var(&f.maxCalls, "max-calls", "override load.max_calls")
			fs.StringVar(&f.o.JUnit, "junit", "", "write a JUnit XML report (one test case per threshold, one for validity) to this file")
			fs.StringVar(&f.o.SummaryMarkdown, "summary-md", "", "write a Markdown summary (for a CI step summary) to this file")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usageErrorf("want exactly one scenario file, got %d", len(args))
				}
				return runScenario(ctx, e, args[0], f)
			}
		},
	}
}

// check validates the flags that need more than their type.
func (f *runFlags) check() error {
	var errs []error
	if f.o.Grace < 0 {
		errs = append(errs, fmt.Errorf("--grace must be >= 0, got %s", f.o.Grace))
	}
	if f.o.IntervalEvery <= 0 {
		errs = append(errs, fmt.Errorf("--log-interval must be > 0, got %s", f.o.IntervalEvery))
	}
	if f.o.ProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("--progress-interval must be >= 0, got %s", f.o.ProgressEvery))
	}
	if f.o.MetricsLinger < 0 {
		errs = append(errs, fmt.Errorf("--metrics-linger must be >= 0, got %s", f.o.MetricsLinger))
	}
	if f.shard != "" {
		sh, err := worker.ParseShard(f.shard)
		if err != nil {
			errs = append(errs, fmt.Errorf("--shard: %w", err))
		}
		f.o.Shard = sh
	}
	if err := f.checkEngine(); err != nil {
		errs = append(errs, err)
	}
	if f.startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, f.startAt)
		if err != nil {
			errs = append(errs, fmt.Errorf("--start-at: want an RFC 3339 instant such as 2026-11-29T12:00:00Z, got %q", f.startAt))
		}
		f.o.StartAt = t
	}
	return errors.Join(errs...)
}

// checkEngine sets mediaEngine from --media-engine and the deprecated
// --pion-defaults, which may come together only when they agree.
func (f *runFlags) checkEngine() error {
	if f.engine != "" {
		e, err := scenario.ParseMediaEngine(f.engine)
		if err != nil {
			return fmt.Errorf("--media-engine: want pion, transport or pion-defaults, got %q", f.engine)
		}
		f.mediaEngine = &e
	}
	if f.pionDefaults {
		if f.mediaEngine != nil && *f.mediaEngine != scenario.EnginePionDefaults {
			return fmt.Errorf("--pion-defaults (the same as --media-engine pion-defaults) contradicts --media-engine %s", f.engine)
		}
		e := scenario.EnginePionDefaults
		f.mediaEngine = &e
	}
	return nil
}

// runScenario is `loadgen run`: flags and scenario checked before anything
// starts, then run.Run, then the result mapped to an exit code.
func runScenario(ctx context.Context, e *env, path string, f runFlags) error {
	if err := f.check(); err != nil {
		return usageError(err)
	}
	s, err := scenario.Load(path)
	if err != nil {
		printScenarioErrors(e, err)
		return usageErrorf("invalid scenario %s", path)
	}
	if err := run.ApplyOverrides(s, run.Overrides{Rate: f.rate.v, Duration: f.duration.v, MaxCalls: f.maxCalls.v, MediaEngine: f.mediaEngine}); err != nil {
		printScenarioErrors(e, err)
		return usageErrorf("invalid overrides for %s", path)
	}
	o := f.o
	o.Path, o.Version = path, version
	o.Stdout, o.Stderr, o.Terminal, o.TerminalWidth = e.stdout, e.stderr, e.isTerminal, e.termWidth
	o.Getenv, o.Interrupts = e.getenv, e.interrupts
	o.GatewayStarted, o.GatewayStopping = e.gatewayStarted, e.gatewayStopping
	if e.exit != nil {
		o.Abandon = func(res *run.Result) { e.exit(exitCode(resultError(res))) }
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := run.Run(ctx, s, o)
	switch {
	case errors.Is(err, run.ErrInvalid):
		printScenarioErrors(e, err)
		return usageErrorf("invalid scenario or flags for %s", path)
	case err != nil:
		return err
	}
	return resultError(res)
}

// resultError maps a run's result to its exit code (nil: 0), with the
// precedence interrupted > invalid > thresholds crossed.
func resultError(res *run.Result) error {
	if res.Status() == run.StatusInterrupted {
		why := res.Stopped
		if why == "" {
			why = "interrupted"
		}
		return &exitError{code: exitInterrupted, err: errors.New(why)}
	}
	return verdictError(res.Verdict, res.Thresholds)
}

// verdictError maps a judged run (a run's or a merge's) to its exit code:
// invalid (100) before thresholds crossed (99); nil when both hold.
func verdictError(v validity.Verdict, ths []threshold.Result) error {
	if !v.Valid {
		return &exitError{code: exitInvalid, err: fmt.Errorf("the run is invalid: %s", strings.Join(v.Reasons, "; "))}
	}
	var crossed []string
	for _, t := range ths {
		if !t.OK {
			crossed = append(crossed, t.String())
		}
	}
	if len(crossed) > 0 {
		return &exitError{code: exitThresholds, err: fmt.Errorf("thresholds crossed: %s", strings.Join(crossed, "; "))}
	}
	return nil
}

// optFloat, optDuration and optUint are flags that remember whether they
// were given (an override of the scenario's value).
type optFloat struct{ v *float64 }

func (o *optFloat) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatFloat(*o.v, 'g', -1, 64)
}

func (o *optFloat) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("want a number")
	}
	o.v = &f
	return nil
}

type optDuration struct{ v *time.Duration }

func (o *optDuration) String() string {
	if o.v == nil {
		return ""
	}
	return o.v.String()
}

func (o *optDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 90s or 5m")
	}
	o.v = &d
	return nil
}

type optUint struct{ v *uint64 }

func (o *optUint) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatUint(*o.v, 10)
}

func (o *optUint) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return errors.New("want a whole number")
	}
	o.v = &n
	return nil
}
