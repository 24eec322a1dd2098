package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/promexport"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/metrics/summary"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
	"github.com/loadgen/loadgen/internal/run"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/worker"
)

// runOptions are `loadgen run`'s flags; they override the scenario's outputs.
type runOptions struct {
	out           string
	metricsListen string
	grace         time.Duration
	progressEvery time.Duration
	intervalEvery time.Duration
	// pionDefaults builds the caller peers the way a plain pion program
	// does, for `loadgen bench`'s comparison ladder.
	pionDefaults bool
}

func runCommand() command {
	return command{
		summary: "run a scenario: place calls, measure them, check thresholds",
		usage: "loadgen run [flags] SCENARIO.yaml\n\n" +
			"With no target in the scenario, the built-in gateway is started in-process\n" +
			"and answers every call with real media. Live progress goes to stderr, the\n" +
			"summary to stdout. The first Ctrl-C stops new calls and ends the calls in\n" +
			"progress properly (within --grace); a second one aborts them at once. The\n" +
			"results collected so far are written either way.\n\n" +
			"Examples:\n  loadgen run scenarios/peak.yaml\n" +
			"  loadgen run --out results/peak --metrics-listen 127.0.0.1:9464 scenarios/peak.yaml",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			var o runOptions
			fs.StringVar(&o.out, "out", "", "write summary.json, .hlog interval logs and calls.jsonl to this directory (overrides outputs.out_dir)")
			fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address during the run (overrides outputs.metrics_listen)")
			fs.DurationVar(&o.grace, "grace", worker.DefaultGrace, "how long calls in progress may take to end once arrivals stop")
			fs.DurationVar(&o.progressEvery, "progress-interval", 0, "progress line period (default: 1s on a terminal, 5s otherwise)")
			fs.DurationVar(&o.intervalEvery, "log-interval", 5*time.Second, "period of the .hlog interval logs")
			fs.BoolVar(&o.pionDefaults, "pion-defaults", false, "build call peers with pion's defaults (per-call certificate, default interceptors, a ticker per track): for comparison benchmarks only")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usageErrorf("want exactly one scenario file")
				}
				return runScenario(ctx, e, args[0], o)
			}
		},
	}
}

// runScenario is `loadgen run`: provision (scenario, gateway, engine,
// outputs), run, then report. Cleanup survives a partial setup.
func runScenario(ctx context.Context, e *env, path string, o runOptions) (retErr error) {
	s, err := scenario.Load(path)
	if err != nil {
		printScenarioErrors(e, err)
		return usageErrorf("invalid scenario %s", path)
	}
	if o.out == "" {
		o.out = s.Outputs.OutDir
	}
	if o.metricsListen == "" {
		o.metricsListen = s.Outputs.MetricsListen
	}
	if o.progressEvery <= 0 {
		o.progressEvery = 5 * time.Second
		if e.isTerminal {
			o.progressEvery = time.Second
		}
	}
	fmt.Fprintf(e.stderr, "loadgen %s: %s\n", version, s.Describe())

	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	// The target: the embedded gateway unless the scenario names one.
	restURL := s.Target.RESTURL
	var eg *gateway.Server
	if s.Target.Embedded() {
		gf := embeddedGatewayFlags(s)
		eg, err = startGateway(gf, e.getenv)
		if err != nil {
			return fmt.Errorf("start the embedded gateway: %w", err)
		}
		if e.gatewayStarted != nil {
			e.gatewayStarted(eg.Gateway())
		}
		cleanups = append(cleanups, func() {
			st := eg.Gateway().Stats()
			if e.gatewayStopping != nil {
				e.gatewayStopping(st)
			}
			if st.Sessions > 0 || st.Subscriptions > 0 {
				fmt.Fprintf(e.stderr, "loadgen run: the embedded gateway still had %d sessions and %d subscriptions at the end\n", st.Sessions, st.Subscriptions)
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := eg.Close(sctx); err != nil {
				fmt.Fprintf(e.stderr, "loadgen run: stop the embedded gateway: %v\n", err)
			}
		})
		restURL = eg.URL()
		fmt.Fprintf(e.stderr, "embedded gateway listening on %s\n", eg.URL())
	}

	runner, err := newCallRunner(s, restURL, eg, e.getenv, o.pionDefaults)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, runner.close)

	// The recorder is the single source of truth for everything reported.
	schedCfg, err := run.Schedule(s.Load)
	if err != nil {
		return usageError(err)
	}
	// The target rate is the pacer's until arrivals end, then 0: a pure
	// function of the elapsed time, so past timeline seconds keep theirs.
	var arrivalsEnd atomic.Int64 // elapsed ns at the end of arrivals; 0 while they go on
	recOpts := metrics.RecorderOptions{}
	if pacer := schedCfg.Pacer; pacer != nil {
		recOpts.TargetRate = func(el time.Duration) float64 {
			if end := arrivalsEnd.Load(); end > 0 && int64(el) >= end {
				return 0
			}
			return pacer.Rate(el)
		}
	}
	rec := metrics.NewRecorder(recOpts)
	schedCfg.ArrivalsEnded = func(at time.Time) {
		arrivalsEnd.Store(max(int64(at.Sub(rec.Start())), 1))
		rec.ArrivalsEnded(at)
	}
	sampler, err := cpu.NewSampler(nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "loadgen run: cannot measure the generator's CPU: %v\n", err)
		sampler = nil
	}

	if o.metricsListen != "" {
		stop, addr, err := serveMetrics(o.metricsListen, rec, s)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stop)
		fmt.Fprintf(e.stderr, "metrics on http://%s/metrics\n", addr)
	}

	var resw *results.Writer
	if o.out != "" {
		resw, err = results.Create(o.out, time.Now())
		if err != nil {
			return fmt.Errorf("create results: %w", err)
		}
	}
	out := &runOutput{e: e, s: s, path: path, outDir: o.out, rec: rec, cpu: sampler, results: resw}

	schedCfg.Grace = o.grace
	schedCfg.Call = func(ctx context.Context, job worker.Job) bool {
		rec.CallStarted()
		r := runner.caller.Run(ctx, call.Start(job))
		out.record(r)
		return r.Outcome == metrics.OutcomeSuccess
	}
	warnedDrop := false
	schedCfg.Dropped = func(_ worker.Job, n uint64) {
		for range n {
			rec.Dropped()
		}
		if !warnedDrop { // the scheduler's goroutine alone calls Dropped
			warnedDrop = true
			fmt.Fprintf(e.stderr, "\nloadgen run: max_concurrent (%d) is full: starts are being dropped and counted\n", s.Load.MaxConcurrent)
		}
	}
	sched, err := worker.New(schedCfg)
	if err != nil {
		return err
	}

	// Two-stage shutdown. The first interrupt (or a crossed abort_on_fail
	// threshold) stops arrivals and ends the calls in progress properly now
	// (DELETE, unsubscribe, each bounded by timeouts.end); the second exits
	// at once with the results recorded so far.
	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(context.Background())
	if e.interrupts != nil {
		bg.Go(func() {
			n := 0
			for {
				select {
				case <-bgCtx.Done():
					return
				case <-e.interrupts:
					n++
					if n == 1 {
						out.stoppedBy("interrupted")
						fmt.Fprintf(e.stderr, "\nloadgen run: interrupted: no new calls; ending %d calls in progress (Ctrl-C again to exit at once)\n", sched.Progress().InFlight)
						sched.Stop()
						abort()
						continue
					}
					fmt.Fprintln(e.stderr, "\nloadgen run: interrupted again: exiting with the results recorded so far")
					out.stoppedBy("interrupted twice: calls in progress were not ended")
					err := out.finish()
					if e.exit != nil {
						e.exit(exitCode(err))
					}
					return
				}
			}
		})
	}
	bg.Go(func() { progressLoop(bgCtx, e, o.progressEvery, rec, sched, sampler) })
	if abortThresholds := abortingThresholds(s); len(abortThresholds) > 0 {
		bg.Go(func() {
			if name := watchThresholds(bgCtx, rec, abortThresholds); name != "" {
				out.stoppedBy("threshold " + name + " crossed (abort_on_fail)")
				fmt.Fprintf(e.stderr, "\nloadgen run: threshold %s crossed: stopping (abort_on_fail)\n", name)
				sched.Stop()
				abort()
			}
		})
	}
	var intervals sync.WaitGroup
	intervalCtx, stopIntervals := context.WithCancel(context.Background())
	if resw != nil {
		intervals.Go(func() {
			if err := resw.RunIntervals(intervalCtx, rec, o.intervalEvery); err != nil {
				out.writeFailed(err)
			}
		})
	}

	runErr := sched.Run(runCtx)
	stopIntervals()
	intervals.Wait()
	stopBG()
	bg.Wait()
	if e.isTerminal {
		fmt.Fprintln(e.stderr)
	}
	if err := out.finish(); err != nil {
		return err
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("run: %w", runErr)
	}
	return nil
}

// runOutput turns what the recorder holds into the summary, summary.json and
// the exit status. finish runs once: at the end of the run, or on the second
// Ctrl-C.
type runOutput struct {
	e       *env
	s       *scenario.Scenario
	path    string
	outDir  string
	rec     *metrics.Recorder
	cpu     *cpu.Sampler
	results *results.Writer

	mu       sync.Mutex
	writeErr error
	stopped  string
	once     sync.Once
	err      error
}

// record is the scheduler's Record hook: the recorder, then calls.jsonl.
func (o *runOutput) record(r metrics.CallRecord) {
	o.rec.Record(r)
	if o.results != nil {
		if err := o.results.WriteCall(r); err != nil {
			o.writeFailed(err)
		}
	}
}

func (o *runOutput) writeFailed(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writeErr == nil {
		o.writeErr = err
	}
}

// stoppedBy notes why the run ended early (the first reason wins).
func (o *runOutput) stoppedBy(why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped == "" {
		o.stopped = why
	}
}

// finish prints the summary and writes the result files from one snapshot,
// so the terminal, summary.json and the thresholds agree; the error carries
// exit code 99 when a threshold is crossed.
func (o *runOutput) finish() error {
	o.once.Do(func() { o.err = o.report() })
	return o.err
}

func (o *runOutput) report() (retErr error) {
	snap := o.rec.Snapshot()
	var cpuUsage *cpu.Usage
	if o.cpu != nil {
		if u, err := o.cpu.Usage(); err == nil {
			cpuUsage = &u
		}
	}
	ths := make([]threshold.Threshold, len(o.s.Thresholds))
	for i, t := range o.s.Thresholds {
		ths[i] = t.Parsed
	}
	thResults := threshold.Evaluate(snap, ths)
	validity := validity.Check(snap, cpuUsage, validity.Options{})
	o.mu.Lock()
	stopped, writeErr := o.stopped, o.writeErr
	o.mu.Unlock()
	if stopped != "" {
		validity.Notes = append(validity.Notes, "run stopped early: "+stopped)
	}
	title := fmt.Sprintf("loadgen %s: %s", version, o.s.Name)
	if err := summary.Write(o.e.stdout, snap, summary.Options{
		Title: title, Thresholds: thResults, Validity: validity, CPU: cpuUsage,
	}); err != nil {
		retErr = errors.Join(retErr, fmt.Errorf("write summary: %w", err))
	}
	if o.results != nil {
		sf := results.NewSummaryFile(snap, results.SummaryFileOptions{
			Title:      title,
			Labels:     map[string]string{"scenario": o.s.Name, "mode": string(o.s.Mode), "file": o.path, "version": version},
			Thresholds: thResults, Validity: validity, CPU: cpuUsage, WithFiles: true,
		})
		if err := o.results.WriteSummary(sf); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("write summary.json: %w", err))
		}
		if err := o.results.Close(); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("close results: %w", err))
		}
		if writeErr != nil {
			retErr = errors.Join(retErr, fmt.Errorf("write results: %w", writeErr))
		}
		fmt.Fprintf(o.e.stderr, "results written to %s (HTML report: loadgen report %s)\n", o.outDir, o.outDir)
	}
	if retErr != nil {
		return retErr
	}
	if !threshold.AllPassed(thResults) {
		var failed []string
		for _, r := range thResults {
			if !r.OK {
				failed = append(failed, r.String())
			}
		}
		return &exitError{code: exitThresholds, err: fmt.Errorf("thresholds crossed: %s", strings.Join(failed, "; "))}
	}
	return nil
}

// embeddedGatewayFlags maps a scenario's gateway section (and token mode)
// onto the embedded gateway.
func embeddedGatewayFlags(s *scenario.Scenario) gatewayFlags {
	gf := gatewayFlags{
		listen:       "127.0.0.1:0",
		answerDelay:  gateway.DefaultAnswerDelay,
		ringingDelay: gateway.DefaultRingingDelay,
		noRinging:    !s.Gateway.Ringing,
		rejectRatio:  s.Gateway.RejectRatio,
		rejectStatus: s.Gateway.RejectStatus,
		ips:          "127.0.0.1",
	}
	if s.Gateway.AnswerDelay != nil {
		gf.answerDelay = *s.Gateway.AnswerDelay
	}
	if s.Gateway.RingingDelay != nil {
		gf.ringingDelay = *s.Gateway.RingingDelay
	}
	if s.Mode == scenario.ModeToken && s.Token != nil {
		gf.tokenKeyEnv = s.Token.KeyEnv
		gf.realm = s.Token.Realm
	}
	return gf
}

// serveMetrics serves rec on addr's /metrics from its own registry.
func serveMetrics(addr string, rec *metrics.Recorder, s *scenario.Scenario) (stop func(), bound string, err error) {
	reg, err := promexport.NewRegistry(rec, promexport.CollectorOptions{Scenario: s.Name, Mode: string(s.Mode)})
	if err != nil {
		return nil, "", fmt.Errorf("metrics registry: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promexport.Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed after stop
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, ln.Addr().String(), nil
}

// abortingThresholds returns the thresholds marked abort_on_fail.
func abortingThresholds(s *scenario.Scenario) []scenario.Threshold {
	var out []scenario.Threshold
	for _, t := range s.Thresholds {
		if t.AbortOnFail {
			out = append(out, t)
		}
	}
	return out
}

// watchThresholds evaluates abort_on_fail thresholds once a second (each
// after its delay) on a snapshot and returns the first crossed one's name,
// or "" when ctx ends first.
func watchThresholds(ctx context.Context, rec *metrics.Recorder, ths []scenario.Threshold) string {
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case now := <-t.C:
			var snap *metrics.Snapshot
			for _, th := range ths {
				if now.Sub(start) < th.DelayAbortEval {
					continue
				}
				if snap == nil {
					snap = rec.Snapshot()
				}
				if _, ok := th.Parsed.Evaluate(snap); !ok {
					return th.Metric + ": " + th.Expr
				}
			}
		}
	}
}
