package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/worker"
)

// DefaultGrace is how long calls in progress may take to finish their hold
// once arrivals stop, before they are ended.
const DefaultGrace = worker.DefaultGrace

// Options are a run's settings from outside the scenario file: the command
// line's flags and the process's I/O.
type Options struct {
	// Path is the scenario file's path (a label in the results).
	Path string
	// Version names loadgen in the results, metrics and agent header.
	Version string
	// Out is the results directory ("": the scenario's outputs.out_dir).
	Out string
	// MetricsListen serves Prometheus /metrics ("": the scenario's).
	MetricsListen string
	// MetricsLinger keeps /metrics up this long after the run, with the
	// final values, so the last scrape sees how the run ended.
	MetricsLinger time.Duration
	// Grace is how long calls may take to finish their hold once arrivals
	// stop (the end of the duration) before they are ended.
	Grace time.Duration
	// ProgressEvery is the live progress period (0: 1 s on a terminal,
	// 5 s otherwise).
	ProgressEvery time.Duration
	// IntervalEvery is the period of the .hlog interval logs (0: 5 s).
	IntervalEvery time.Duration
	// Shard is this process's share of a sharded run (zero: all of it).
	Shard worker.Shard
	// RunID names the run; shards of one run share it ("": derived from
	// the scenario's name and the start instant).
	RunID string
	// StartAt is when the schedule starts (zero: now). Shards started by
	// one Job wait for it, or join late without replaying the past.
	StartAt time.Time
	// JUnit and SummaryMarkdown, when set, receive a JUnit XML report and
	// a Markdown summary for CI systems.
	JUnit, SummaryMarkdown string

	// Stdout receives the summary, Stderr the progress and messages.
	Stdout, Stderr io.Writer
	// Terminal says Stderr is a terminal (the progress line is rewritten
	// in place).
	Terminal bool
	// TerminalWidth is the terminal's width in columns (0: 80).
	TerminalWidth func() int
	// Getenv reads the token key's environment variable.
	Getenv func(string) string
	// Interrupts delivers SIGINT and SIGTERM (nil: never interrupted).
	// The first stops new calls and ends the calls in progress properly;
	// the second writes the results recorded so far and calls Abandon.
	Interrupts <-chan os.Signal
	// Abandon is called on the second interrupt, once the results are
	// written, with the run's result: the caller exits at once (calls in
	// progress are not ended). Run returns normally when it is nil.
	Abandon func(*Result)

	// GatewayStarted and GatewayStopping, when set, see the embedded
	// gateway after it starts and its counters just before it stops
	// (tests check that a run leaves nothing behind).
	GatewayStarted  func(*gateway.Gateway)
	GatewayStopping func(gateway.Stats)
}

// Result is how a run ended. Its Status maps to the CLI's exit code.
type Result struct {
	// Snapshot is the final recorded data.
	Snapshot *metrics.Snapshot
	// Thresholds are the scenario's thresholds (and the implicit one)
	// evaluated on Snapshot.
	Thresholds []threshold.Result
	// Verdict says whether the generator kept up.
	Verdict validity.Verdict
	// Interrupted is true when SIGINT or SIGTERM stopped the run.
	Interrupted bool
	// Abandoned is true after the second interrupt (calls in progress were
	// not ended).
	Abandoned bool
	// Stopped says why the run ended early ("" when it ran its course).
	Stopped string
	// HangupFailures counts calls whose session DELETE or unsubscribe
	// failed or timed out: sessions that may remain on the gateway.
	HangupFailures uint64
	// RunID is the run's id.
	RunID string
	// StderrErr is the first failed write to Options.Stderr: progress and
	// messages stopped there, while the run went on (nil: all written).
	StderrErr error
}

// Status is the verdict of a run, in precedence order.
type Status int

// The statuses, most important last (Result.Status returns the highest).
const (
	// StatusOK: thresholds held, the run is valid, it ran its course.
	StatusOK Status = iota
	// StatusThresholds: a threshold was crossed.
	StatusThresholds
	// StatusInvalid: the generator was the bottleneck, so the numbers
	// describe it and not the system under test.
	StatusInvalid
	// StatusInterrupted: SIGINT or SIGTERM stopped the run.
	StatusInterrupted
)

// Status returns the most important of what applies: interrupted, then
// invalid, then thresholds crossed.
func (r *Result) Status() Status {
	switch {
	case r.Interrupted:
		return StatusInterrupted
	case !r.Verdict.Valid:
		return StatusInvalid
	case !threshold.AllPassed(r.Thresholds):
		return StatusThresholds
	default:
		return StatusOK
	}
}

// Run runs scenario s: it provisions the run (the embedded gateway when s
// names no target, the signalling client, the media engine, the caller, the
// load engine, the recorder and the outputs), places the calls, and returns
// the result once every call has ended and the results are written. An
// error wrapping ErrInvalid is a problem with s or the options, found before
// anything started; any other error means the tool failed (results that
// could be written are).
func Run(ctx context.Context, s *scenario.Scenario, o Options) (*Result, error) {
	o.defaults(s)
	prov, err := check(s, o.Getenv, o.MetricsListen)
	if err != nil {
		return nil, err
	}
	if o.Shard.Count > 1 && s.Load.Closed() && o.Shard.Share(s.Load.Concurrent) == 0 {
		return nil, invalid(fmt.Errorf("--shard %s: load.concurrent %d leaves this shard no calls", o.Shard, s.Load.Concurrent))
	}
	r := &runner{s: s, o: o, prov: prov, stderr: &stickyWriter{w: o.Stderr}}
	defer r.cleanup()
	if err := r.provision(); err != nil {
		return nil, err
	}
	res, err := r.execute(ctx)
	if res != nil {
		res.StderrErr = r.stderr.Err()
	}
	return res, err
}

// defaults fills what the options leave to the scenario or to loadgen.
func (o *Options) defaults(s *scenario.Scenario) {
	if o.Out == "" {
		o.Out = s.Outputs.OutDir
	}
	if o.MetricsListen == "" {
		o.MetricsListen = s.Outputs.MetricsListen
	}
	if o.MetricsLinger == 0 {
		o.MetricsLinger = s.Outputs.MetricsLinger
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
		if o.Terminal {
			o.ProgressEvery = time.Second
		}
	}
	if o.IntervalEvery <= 0 {
		o.IntervalEvery = 5 * time.Second
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Shard.Count == 0 {
		o.Shard = worker.Unsharded
	}
	if o.RunID == "" {
		at := o.StartAt
		if at.IsZero() {
			at = time.Now()
		}
		o.RunID = s.Name + "-" + at.UTC().Format("20060102T150405Z")
	}
}

// runner is one run while it is provisioned and executed.
type runner struct {
	s    *scenario.Scenario
	o    Options
	prov provisions

	stderr   *stickyWriter // Options.Stderr: progress and messages
	cleanups []func()
	gw       *gateway.Server
	calls    *callers
	rec      *metrics.Recorder
	cpu      *cpu.Sampler
	resw     *results.Writer
	sched    *worker.Scheduler
	metrics  *metricsServer
	out      *output
}

// cleanup releases what provision acquired, last first.
func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// logf writes a message line to Stderr.
func (r *runner) logf(format string, a ...any) {
	r.stderr.printf(format+"\n", a...)
}

// provision builds everything the run needs; cleanup survives a partial
// setup.
func (r *runner) provision() error {
	s, o := r.s, r.o
	r.logf("loadgen %s: %s", o.Version, s.Describe())
	if o.Shard.Count > 1 {
		r.logf("shard %s of run %s", o.Shard, o.RunID)
	}
	restURL := s.Target.RESTURL
	if s.Target.Embedded() {
		if err := r.startGateway(); err != nil {
			return err
		}
		restURL = r.gw.URL()
	}
	schedCfg, err := ShardSchedule(s.Load, o.Shard)
	if err != nil {
		return invalid(err)
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
	r.rec = metrics.NewRecorder(recOpts)
	schedCfg.ArrivalsEnded = func(at time.Time) {
		arrivalsEnd.Store(max(int64(at.Sub(r.rec.Start())), 1))
		r.rec.ArrivalsEnded(at)
	}
	// Setup phases are recorded when the setup completes, not after the
	// hold, so live percentiles and the interval logs are current.
	calls, err := newCallers(s, restURL, r.gw, r.prov, o, r.rec.RecordSetup)
	if err != nil {
		return err
	}
	r.calls = calls
	r.cleanups = append(r.cleanups, calls.close)
	if r.cpu, err = cpu.New(cpu.Options{EmbeddedGateway: s.Target.Embedded()}); err != nil {
		r.logf("loadgen run: cannot measure the process's CPU: %v", err)
		r.cpu = nil
	}
	if o.Out != "" {
		if r.resw, err = results.Create(o.Out, time.Now()); err != nil {
			return fmt.Errorf("create results: %w", err)
		}
	}
	r.out = newOutput(r)
	if o.MetricsListen != "" {
		if r.metrics, err = serveMetrics(o.MetricsListen, r); err != nil {
			return err
		}
		r.cleanups = append(r.cleanups, r.metrics.stop)
		r.logf("metrics on http://%s/metrics", r.metrics.addr)
	}

	schedCfg.Grace = o.Grace
	schedCfg.Origin = o.StartAt
	schedCfg.FailurePause = s.Load.FailurePause
	schedCfg.Call = func(ctx context.Context, job worker.Job) bool {
		r.rec.CallStarted()
		rec := r.calls.caller.Run(ctx, call.Start(job))
		r.out.record(rec)
		return rec.Outcome == metrics.OutcomeSuccess
	}
	var warned atomic.Bool
	schedCfg.Dropped = func(_ worker.Job, n uint64) {
		r.rec.DroppedN(n)
		if !warned.Swap(true) {
			r.logf("\nloadgen run: starts are being dropped and counted: max_concurrent (%d) is full, or the generator cannot issue them in time", s.Load.MaxConcurrent)
		}
	}
	r.sched, err = worker.New(schedCfg)
	if err != nil {
		return fmt.Errorf("build the load engine: %w", err)
	}
	return nil
}

// startGateway starts the embedded gateway and schedules its stop.
func (r *runner) startGateway() error {
	srv, err := gateway.Listen(embeddedGateway(r.s, r.prov.key))
	if err != nil {
		if errors.Is(err, gateway.ErrInvalidConfig) {
			return invalid(err)
		}
		return fmt.Errorf("start the embedded gateway: %w", err)
	}
	r.gw = srv
	if r.o.GatewayStarted != nil {
		r.o.GatewayStarted(srv.Gateway())
	}
	r.cleanups = append(r.cleanups, func() {
		st := srv.Gateway().Stats()
		if r.o.GatewayStopping != nil {
			r.o.GatewayStopping(st)
		}
		if st.Sessions > 0 || st.Subscriptions > 0 {
			r.logf("loadgen run: the embedded gateway still had %d sessions and %d subscriptions at the end", st.Sessions, st.Subscriptions)
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(sctx); err != nil {
			r.logf("loadgen run: stop the embedded gateway: %v", err)
		}
	})
	r.logf("embedded gateway listening on %s", srv.URL())
	return nil
}

// execute runs the schedule with its companions (interrupts, progress,
// threshold watch, interval logs) and finishes the outputs.
func (r *runner) execute(ctx context.Context) (*Result, error) {
	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	bgCtx, stopBG := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	stop := func(why, msg string) {
		r.out.stoppedBy(why)
		r.logf("\n%s", msg)
		r.sched.Stop()
		abort()
	}
	if r.o.Interrupts != nil {
		bg.Go(func() { r.watchInterrupts(bgCtx, stop) })
	}
	bg.Go(func() { r.progressLoop(bgCtx) })
	if ths := abortingThresholds(r.s); len(ths) > 0 {
		bg.Go(func() {
			if name := watchThresholds(bgCtx, r.rec, ths); name != "" {
				stop("threshold "+name+" crossed (abort_on_fail)", "loadgen run: threshold "+name+" crossed: stopping (abort_on_fail)")
			}
		})
	}
	if r.resw != nil {
		bg.Go(func() {
			if err := r.resw.RunIntervals(bgCtx, r.rec, r.o.IntervalEvery); err != nil {
				r.out.writeFailed(err)
			}
		})
		bg.Go(func() {
			if err := r.resw.RunSummaries(bgCtx, PartialEvery, r.out.partialSummary); err != nil {
				r.out.writeFailed(err)
			}
		})
	}
	started := time.Now()
	if !r.o.StartAt.IsZero() {
		if wait := time.Until(r.o.StartAt); wait > 0 {
			r.logf("waiting %s for the start instant %s", wait.Round(time.Millisecond), r.o.StartAt.Format(time.RFC3339Nano))
		}
	}
	runErr := r.sched.Run(runCtx)
	if !r.o.StartAt.IsZero() {
		skew := max(started.Sub(r.o.StartAt), 0)
		r.out.setSkew(skew, r.sched.Progress().Missed)
	}
	stopBG()
	bg.Wait()
	if r.o.Terminal {
		r.stderr.printf("\n") // end the progress line
	}
	res, err := r.out.finish()
	if err != nil {
		return res, err
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return res, fmt.Errorf("run: %w", runErr)
	}
	if r.metrics != nil && r.o.MetricsLinger > 0 {
		r.logf("keeping http://%s/metrics up for %s (--metrics-linger)", r.metrics.addr, r.o.MetricsLinger)
		r.metrics.linger(ctx, r.o.MetricsLinger, r.o.Interrupts)
	}
	return res, nil
}

// watchInterrupts turns SIGINT/SIGTERM into the two-stage stop: the first
// stops arrivals and ends the calls in progress properly now (DELETE,
// unsubscribe, each bounded by timeouts.end); the second writes the results
// recorded so far and abandons the run.
func (r *runner) watchInterrupts(ctx context.Context, stop func(why, msg string)) {
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-r.o.Interrupts:
			n++
			r.out.interrupted()
			if n == 1 {
				stop("interrupted ("+sigName(sig)+")", fmt.Sprintf("loadgen run: %s: no new calls; ending %d calls in progress, each within timeouts.end (%s) (again to exit at once)",
					sigName(sig), r.sched.Progress().InFlight, r.s.Call.Timeouts.End))
				continue
			}
			r.logf("\nloadgen run: %s again: exiting with the results recorded so far; calls in progress were not ended", sigName(sig))
			r.out.abandoned()
			res, _ := r.out.finish()
			if r.o.Abandon != nil {
				r.o.Abandon(res)
			}
			return
		}
	}
}

// sigName names a signal the way users type it.
func sigName(s os.Signal) string {
	if s == nil {
		return "interrupted"
	}
	n := s.String()
	switch n {
	case "interrupt":
		return "SIGINT"
	case "terminated":
		return "SIGTERM"
	}
	return strings.ToUpper(n)
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
