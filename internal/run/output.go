package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/ciout"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/metrics/summary"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

// PartialEvery is how often a run rewrites summary.json (marked incomplete)
// while it goes on, so a killed run leaves a parseable partial summary.
const PartialEvery = 5 * time.Second

// output turns what the recorder holds into the summary, the result files
// and the Result. finish runs once: at the end of the run, or on the second
// interrupt.
type output struct {
	r          *runner
	thresholds []threshold.Threshold
	source     map[string][]string // the scenario's thresholds as written
	encodings  *results.EncodingCache

	mu        sync.Mutex
	writeErr  error
	stopped   string
	interrupt bool
	abandon   bool
	skew      time.Duration
	missed    uint64
	hasSkew   bool
	hangups   uint64
	hangupWhy string
	finished  bool
	once      sync.Once
	res       *Result
	err       error
}

// newOutput prepares the outputs of r: the scenario's thresholds, plus the
// implicit failures threshold when it has none of its own.
func newOutput(r *runner) *output {
	o := &output{r: r, source: map[string][]string{}, encodings: results.NewEncodingCache()}
	var ths []threshold.Threshold
	for _, t := range r.s.Thresholds {
		o.source[t.Metric] = append(o.source[t.Metric], t.Expr)
		ths = append(ths, t.Parsed)
	}
	// The implicit expression is a constant that parses: no error.
	o.thresholds, _ = threshold.WithImplicit(ths)
	return o
}

// record accounts one finished call: the recorder, then calls.jsonl.
func (o *output) record(rec metrics.CallRecord) {
	o.r.rec.Record(rec)
	if rec.HangupError != "" {
		o.mu.Lock()
		o.hangups++
		if o.hangupWhy == "" {
			o.hangupWhy = rec.HangupError
		}
		o.mu.Unlock()
	}
	o.mu.Lock()
	done := o.finished
	o.mu.Unlock()
	if o.r.resw != nil && !done {
		if err := o.r.resw.WriteCall(rec); err != nil {
			o.writeFailed(err)
		}
	}
}

func (o *output) writeFailed(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writeErr == nil {
		o.writeErr = err
	}
}

// stoppedBy notes why the run ended early (the first reason wins).
func (o *output) stoppedBy(why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped == "" {
		o.stopped = why
	}
}

func (o *output) interrupted() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.interrupt = true
}

func (o *output) abandoned() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.abandon = true
	o.stopped = "interrupted twice: calls in progress were not ended"
}

// setSkew records how late the schedule started against --start-at, and
// how many starts that cost.
func (o *output) setSkew(skew time.Duration, missed uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.skew, o.missed, o.hasSkew = skew, missed, true
}

// usage is the process's CPU use so far, when measured.
func (o *output) usage() *cpu.Usage {
	if o.r.cpu == nil {
		return nil
	}
	u, err := o.r.cpu.Usage()
	if err != nil {
		return nil
	}
	return &u
}

// verdict judges a snapshot as the end of the run does.
func (o *output) verdict(s *metrics.Snapshot) validity.Verdict {
	return validity.Check(s, o.usage(), validity.Options{})
}

// labels describe the run in summary.json.
func (o *output) labels() map[string]string {
	r := o.r
	return map[string]string{
		"scenario": r.s.Name, "mode": string(r.s.Mode), "file": r.o.Path, "version": r.o.Version,
		"run_id": r.o.RunID, "shard": r.o.Shard.String(), "media_engine": string(r.s.Call.MediaEngine),
	}
}

// partialSummary is the summary.json a run rewrites every PartialEvery
// while it goes on ("complete": false), so a run killed with SIGKILL
// leaves a parseable summary; calls.jsonl needs nothing: the results
// writer flushes it within a second of every call it writes.
func (o *output) partialSummary() *results.SummaryFile {
	snap := o.r.rec.Snapshot()
	return o.summaryFile(snap, threshold.Evaluate(snap, o.thresholds), o.verdict(snap), false)
}

// summaryFile builds summary.json's content.
func (o *output) summaryFile(snap *metrics.Snapshot, ths []threshold.Result, v validity.Verdict, complete bool) *results.SummaryFile {
	return results.NewSummaryFile(snap, results.SummaryFileOptions{
		Title:      o.title(),
		Labels:     o.labels(),
		Thresholds: ths, Validity: v, CPU: o.usage(), WithFiles: true,
		Complete: complete,
		RunID:    o.r.o.RunID, Shard: o.r.o.Shard.Index, Shards: o.r.o.Shard.Count,
		ThresholdsSource: o.source,
		Encodings:        o.encodings,
	})
}

func (o *output) title() string {
	return fmt.Sprintf("loadgen %s: %s", o.r.o.Version, o.r.s.Name)
}

// finish writes the result files, then prints the summary, from one
// snapshot, so the terminal, summary.json and the thresholds agree. It runs
// once; later calls return the same result.
func (o *output) finish() (*Result, error) {
	o.once.Do(func() { o.res, o.err = o.report() })
	return o.res, o.err
}

func (o *output) report() (*Result, error) {
	snap := o.r.rec.Snapshot()
	res := &Result{Snapshot: snap, RunID: o.r.o.RunID}
	res.Thresholds = threshold.Evaluate(snap, o.thresholds)
	res.Verdict = o.verdict(snap)
	o.mu.Lock()
	o.finished = true
	res.Stopped, res.Interrupted, res.Abandoned = o.stopped, o.interrupt, o.abandon
	res.HangupFailures = o.hangups
	writeErr, hangupWhy := o.writeErr, o.hangupWhy
	skew, missed, hasSkew := o.skew, o.missed, o.hasSkew
	o.mu.Unlock()
	v := &res.Verdict
	if res.Stopped != "" {
		v.Notes = append(v.Notes, "run stopped early: "+res.Stopped)
	}
	if res.HangupFailures > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d sessions may remain on the gateway: their DELETE or unsubscribe failed (%s)", res.HangupFailures, hangupWhy))
	}
	if hasSkew {
		v.Notes = append(v.Notes, fmt.Sprintf("start skew %s against --start-at; %d starts were due before this shard started and were not replayed", skew.Round(time.Millisecond), missed))
	}
	var errs []error
	// The result files first: a closed stdout must not cost them.
	if w := o.r.resw; w != nil {
		if err := w.WriteSummary(o.summaryFile(snap, res.Thresholds, res.Verdict, !res.Abandoned)); err != nil {
			errs = append(errs, fmt.Errorf("write summary.json: %w", err))
		}
		if err := w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close results: %w", err))
		}
		if writeErr != nil {
			errs = append(errs, fmt.Errorf("write results: %w", writeErr))
		}
		o.r.logf("results written to %s (HTML report: loadgen report %s)", o.r.o.Out, o.r.o.Out)
	}
	if err := o.writeCIFiles(snap, res); err != nil {
		errs = append(errs, err)
	}
	err := summary.Write(o.r.o.Stdout, snap, summary.Options{
		Title: o.title(), Engine: string(o.r.s.Call.MediaEngine), Thresholds: res.Thresholds, Validity: res.Verdict, CPU: o.usage(),
	})
	switch {
	case err == nil:
	case errors.Is(err, syscall.EPIPE):
		o.r.logf("loadgen run: stdout is closed: summary not printed (the result files have it)")
	default:
		errs = append(errs, fmt.Errorf("write summary: %w", err))
	}
	if res.HangupFailures > 0 {
		o.r.logf("loadgen run: %d sessions may remain on the gateway: their DELETE or unsubscribe failed (%s)", res.HangupFailures, hangupWhy)
	}
	return res, errors.Join(errs...)
}

// writeCIFiles writes the JUnit and Markdown files when asked for.
func (o *output) writeCIFiles(snap *metrics.Snapshot, res *Result) error {
	opts := ciout.Options{
		Title: o.r.s.Name, RunID: o.r.o.RunID, Version: o.r.o.Version, Labels: o.labels(),
		Thresholds: res.Thresholds, Validity: res.Verdict, CPU: o.usage(),
	}
	var errs []error
	for _, f := range []struct {
		path  string
		write func(io.Writer, *metrics.Snapshot, ciout.Options) error
	}{{o.r.o.JUnit, ciout.WriteJUnit}, {o.r.o.SummaryMarkdown, ciout.WriteMarkdown}} {
		if f.path == "" {
			continue
		}
		if err := writeFile(f.path, func(w io.Writer) error { return f.write(w, snap, opts) }); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeFile creates path and writes it with write, reporting a failed
// close too.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write %s: %w", path, cerr)
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
