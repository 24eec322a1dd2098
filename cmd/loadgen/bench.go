package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/bench"
)

// benchFlags are `loadgen bench`'s flags. The ladder flags are strings so
// that a flag left out keeps the preset's value (--quick or the full run).
type benchFlags struct {
	quick      bool
	jsonPath   string
	loadgen    string
	modes      string
	setupRates string
	audio      string
	video      string
	setupDur   time.Duration
	setupHold  time.Duration
	window     time.Duration
	settle     time.Duration
	rampRate   float64
	idle       time.Duration
	genCPUs    string
	gwCPUs     string
	answer     time.Duration
	gwEngine   string
	maxConnect time.Duration
	maxLag     time.Duration
	workDir    string
	keep       bool
}

func benchCommand() command {
	return command{
		summary: "benchmark the generator's cost per call against a separate gateway process",
		usage: "loadgen bench [--quick] [--json FILE] [flags]\n\n" +
			"Starts the built-in gateway as a separate process (loadgen serve) and drives\n" +
			"`loadgen run` children against it on loopback, pinned to separate CPUs with\n" +
			"taskset, measuring the generator process alone from /proc: CPU per call setup at\n" +
			"rising rates, and CPU per media packet, RSS, goroutines and descriptors per call\n" +
			"at rising concurrency (audio, audio+video). Every ladder stops at its first\n" +
			"failing step and runs once per media engine (--modes): transport (--media-engine\n" +
			"transport), lean (--media-engine pion) and pion-defaults; a step that failed\n" +
			"with the gateway at 90% or more of its CPUs is marked gw-bound: not the\n" +
			"generator's limit.\n" +
			"Prints tables to stdout, progress to stderr, and writes JSON.\n\n" +
			"The full run (60 s steady windows) takes 10 to 35 minutes; --quick (small\n" +
			"ladders, 3 s windows) about 2 minutes, for a smoke test of the figures.\n\n" +
			"Examples:\n  loadgen bench --quick\n" +
			"  loadgen bench --json bench/results/full.json\n" +
			"  loadgen bench --modes lean --audio-calls 500,1000,1500 --video-calls '' --setup-rates ''",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			var f benchFlags
			d, q := bench.DefaultOptions(), bench.QuickOptions()
			fs.BoolVar(&f.quick, "quick", false, "small ladders and short windows (about 2 minutes): a smoke test, noisier figures")
			fs.StringVar(&f.jsonPath, "json", "", `write the JSON result here (default bench/results/<date>-<host>[-quick].json; "none": do not write)`)
			fs.StringVar(&f.loadgen, "loadgen", "", "loadgen binary to run as gateway and generator (default: this executable)")
			fs.StringVar(&f.modes, "modes", bench.JoinModes(d.Modes), "passes to run, in order: transport (--media-engine transport), lean (--media-engine pion), pion-defaults (--media-engine pion-defaults)")
			fs.StringVar(&f.setupRates, "setup-rates", bench.JoinFloats(d.SetupRates), "setup ladder rates, calls/s, ascending ('' skips it) [quick: "+bench.JoinFloats(q.SetupRates)+"]")
			fs.StringVar(&f.audio, "audio-calls", bench.JoinInts(d.AudioLevels), "steady audio ladder, concurrent calls, ascending ('' skips it) [quick: "+bench.JoinInts(q.AudioLevels)+"]")
			fs.StringVar(&f.video, "video-calls", bench.JoinInts(d.VideoLevels), "steady audio+video ladder, concurrent calls, ascending ('' skips it) [quick: "+bench.JoinInts(q.VideoLevels)+"]")
			fs.DurationVar(&f.setupDur, "setup-duration", d.SetupDuration, "how long each setup rate is offered [quick: "+q.SetupDuration.String()+"]")
			fs.DurationVar(&f.setupHold, "setup-hold", d.SetupHold, "setup calls' hold once media flows")
			fs.DurationVar(&f.window, "window", d.Window, "steady window every call must stay up for [quick: "+q.Window.String()+"]")
			fs.DurationVar(&f.settle, "settle", d.Settle, "wait from the last call's first media to the steady window [quick: "+q.Settle.String()+"]")
			fs.Float64Var(&f.rampRate, "ramp-rate", d.RampRate, "rate (calls/s) at which a steady step brings its calls up")
			fs.DurationVar(&f.idle, "idle", d.IdleDuration, "how long the idle generator is measured [quick: "+q.IdleDuration.String()+"]")
			fs.StringVar(&f.genCPUs, "generator-cpus", "", `taskset CPU list of the generator (default: the first half of the CPUs; "none": no pinning)`)
			fs.StringVar(&f.gwCPUs, "gateway-cpus", "", `taskset CPU list of the gateway (default: the other half; "none": no pinning)`)
			fs.DurationVar(&f.answer, "answer-delay", d.AnswerDelay, "the gateway's answer delay")
			fs.StringVar(&f.gwEngine, "gateway-engine", d.GatewayEngine, "the gateway's media engine (serve --media-engine): transport or pion")
			fs.DurationVar(&f.maxConnect, "max-connect-p99", d.MaxConnectP99, "setup criterion: p99 connect (from the scheduled start) below this")
			fs.DurationVar(&f.maxLag, "max-lag-p99", d.MaxLagP99, "setup criterion: p99 scheduler lag below this")
			fs.StringVar(&f.workDir, "work-dir", "", "parent of the temporary step directories (default: the system's)")
			fs.BoolVar(&f.keep, "keep", false, "keep the step directories (scenarios, summary.json, calls.jsonl of every step)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected arguments: %s", strings.Join(args, " "))
				}
				set := map[string]bool{}
				var cmdline []string
				fs.Visit(func(fl *flag.Flag) {
					set[fl.Name] = true
					cmdline = append(cmdline, "--"+fl.Name+"="+fl.Value.String())
				})
				o, err := f.options(set)
				if err != nil {
					return usageError(err)
				}
				return runBench(ctx, e, o, f, append([]string{"loadgen", "bench"}, cmdline...))
			}
		},
	}
}

// options builds the benchmark options: the preset, then every flag given.
func (f *benchFlags) options(set map[string]bool) (bench.Options, error) {
	o := bench.DefaultOptions()
	if f.quick {
		o = bench.QuickOptions()
	}
	var errs []error
	if set["gateway-engine"] {
		o.GatewayEngine = f.gwEngine
	}
	if set["modes"] {
		o.Modes = nil
		for _, s := range splitList(f.modes) {
			m, err := bench.ParseMode(s)
			errs = append(errs, err)
			o.Modes = append(o.Modes, m)
		}
	}
	if set["setup-rates"] {
		v, err := bench.ParseFloats(f.setupRates)
		errs = append(errs, err)
		o.SetupRates = v
	}
	if set["audio-calls"] {
		v, err := bench.ParseInts(f.audio)
		errs = append(errs, err)
		o.AudioLevels = v
	}
	if set["video-calls"] {
		v, err := bench.ParseInts(f.video)
		errs = append(errs, err)
		o.VideoLevels = v
	}
	durs := map[string]*time.Duration{
		"setup-duration": &o.SetupDuration, "setup-hold": &o.SetupHold, "window": &o.Window,
		"settle": &o.Settle, "idle": &o.IdleDuration, "answer-delay": &o.AnswerDelay,
		"max-connect-p99": &o.MaxConnectP99, "max-lag-p99": &o.MaxLagP99,
	}
	vals := map[string]time.Duration{
		"setup-duration": f.setupDur, "setup-hold": f.setupHold, "window": f.window,
		"settle": f.settle, "idle": f.idle, "answer-delay": f.answer,
		"max-connect-p99": f.maxConnect, "max-lag-p99": f.maxLag,
	}
	for name, dst := range durs {
		if set[name] {
			*dst = vals[name]
		}
	}
	if set["ramp-rate"] {
		o.RampRate = f.rampRate
	}
	o.GeneratorCPUs, o.GatewayCPUs = f.genCPUs, f.gwCPUs
	if f.genCPUs == bench.PinNone || f.gwCPUs == bench.PinNone {
		o.GeneratorCPUs, o.GatewayCPUs = bench.PinNone, bench.PinNone
	}
	o.WorkDir, o.KeepWorkDir = f.workDir, f.keep
	o.Loadgen = f.loadgen
	if o.Loadgen == "" {
		self, err := os.Executable()
		if err != nil {
			errs = append(errs, fmt.Errorf("find this executable (use --loadgen): %w", err))
		}
		o.Loadgen = self
	}
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	return o, o.Validate()
}

// runBench runs the benchmark, prints the tables and writes the JSON. The
// first interrupt stops the benchmark (children end their calls and are
// reaped) and still writes what was measured; a second exits at once.
func runBench(ctx context.Context, e *env, o bench.Options, f benchFlags, cmdline []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchDone := make(chan struct{})
	stopWatch := make(chan struct{})
	go func() {
		defer close(watchDone)
		n := 0
		for {
			select {
			case <-stopWatch:
				return
			case <-e.interrupts: // nil channel in tests: never ready
				n++
				if n == 1 {
					fmt.Fprintln(e.stderr, "\nloadgen bench: interrupted: stopping the current step (Ctrl-C again to exit at once)")
					cancel()
					continue
				}
				if e.exit != nil {
					e.exit(exitFailure)
				}
				return
			}
		}
	}()
	defer func() {
		close(stopWatch)
		<-watchDone
	}()

	o.Progress = e.stderr
	res, runErr := bench.Run(ctx, o, bench.Config{Version: version, Command: cmdline})
	if res == nil {
		return runErr
	}
	if err := res.WriteTable(e.stdout); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if path := f.jsonPath; path != "none" {
		if path == "" {
			path = bench.DefaultJSONPath(res.Machine.Date, res.Machine.Host, f.quick)
		}
		if err := res.WriteJSONFile(path); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "results written to %s\n", path)
	}
	if runErr != nil {
		return runErr
	}
	for _, p := range res.Passes {
		if p.Idle != nil && p.Idle.Error != "" {
			return fmt.Errorf("the %s idle generator could not be measured: %s", p.Mode, p.Idle.Error)
		}
	}
	return nil
}
