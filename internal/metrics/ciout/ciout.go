// Package ciout writes a finished run's verdict in the forms CI systems
// read: JUnit XML (one test case per threshold and one for the run's
// validity) and a Markdown summary for a CI step summary (GitHub's
// $GITHUB_STEP_SUMMARY, a GitLab or Jenkins artifact).
package ciout

import (
	"fmt"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

// Options add what the snapshot does not hold. The shape follows
// summary.Options, plus the run's identity.
type Options struct {
	// Title names the run (the scenario name); optional.
	Title string
	// RunID and Version identify the run and the loadgen build; optional.
	RunID   string
	Version string
	// Labels are extra properties (mode, shard, ...), written in key order.
	Labels map[string]string
	// Thresholds are the evaluated thresholds.
	Thresholds []threshold.Result
	// Validity is the run's verdict (see validity.Check).
	Validity validity.Verdict
	// CPU is the generator's CPU use, when measured.
	CPU *cpu.Usage
}

// Passed reports whether the run passes a CI gate: valid and every
// threshold held.
func (o Options) Passed() bool { return o.Validity.Valid && threshold.AllPassed(o.Thresholds) }

// failedThresholds counts the crossed thresholds.
func (o Options) failedThresholds() int {
	n := 0
	for _, r := range o.Thresholds {
		if !r.OK {
			n++
		}
	}
	return n
}

// us formats microseconds as a duration.
func us(v int64) string { return metrics.FormatDuration(time.Duration(v) * time.Microsecond) }

// errWriter keeps the first write error.
type errWriter struct {
	w   interface{ Write([]byte) (int, error) }
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
