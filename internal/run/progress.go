package run

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/worker"
)

// progressLoop prints the live progress line every period until ctx ends: on
// a terminal one line rewritten in place (fitted to its width), otherwise a
// plain line. It also samples the process's CPU so the validity check sees
// the busiest second.
func (r *runner) progressLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastPrint time.Time
	var lastLive metrics.Live
	lastAt := time.Now()
	var cpuFrac float64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if r.cpu != nil {
				if f, err := r.cpu.Sample(); err == nil {
					cpuFrac = f
				}
			}
			if now.Sub(lastPrint) < r.o.ProgressEvery-50*time.Millisecond {
				continue
			}
			live := r.rec.Live()
			achieved := 0.0
			if dt := now.Sub(lastAt).Seconds(); dt > 0 {
				achieved = float64(live.Attempted-lastLive.Attempted) / dt
			}
			lastLive, lastAt, lastPrint = live, now, now
			st := progressState{
				live: live, sched: r.sched.Progress(), achieved: achieved, cpu: cpuFrac,
				total: r.s.Load.TotalDuration(),
				up:    r.calls.caller.InState(call.StateUp), onHold: r.calls.caller.InState(call.StateOnHold),
				top: topFailure(r.rec, live), crossed: r.crossedNow(),
			}
			if r.o.Terminal {
				width := 80
				if r.o.TerminalWidth != nil {
					if w := r.o.TerminalWidth(); w > 0 {
						width = w
					}
				}
				r.stderr.printf("\r\033[K%s", fit(st.fields(), width-1))
			} else {
				r.stderr.printf("%s\n", strings.Join(st.fields(), "  "))
			}
		}
	}
}

// crossedNow names the thresholds crossed on a snapshot now, so a crossed
// threshold shows at once rather than at the end. Thresholds on values not
// yet measured do not count as crossed while the run goes on.
func (r *runner) crossedNow() []string {
	snap := r.rec.Snapshot()
	var out []string
	for _, res := range threshold.Evaluate(snap, r.out.thresholds) {
		if !res.OK && !math.IsNaN(res.Measured) {
			out = append(out, res.Threshold.Metric)
		}
	}
	return out
}

// progressState is what one progress line shows.
type progressState struct {
	live       metrics.Live
	sched      worker.Progress
	achieved   float64
	cpu        float64
	total      time.Duration
	up, onHold int
	top        string
	crossed    []string
}

// fields are the progress line's parts, most important first: a narrow
// terminal drops the last ones.
func (p progressState) fields() []string {
	el := p.sched.Elapsed.Truncate(time.Second).String()
	if p.total > 0 {
		el += "/" + p.total.String()
	}
	f := []string{el}
	if p.sched.TargetConcurrent > 0 {
		f = append(f, fmt.Sprintf("target %d up", p.sched.TargetConcurrent))
	} else {
		f = append(f, fmt.Sprintf("rate %.1f/s (target %.1f)", p.achieved, p.sched.TargetRate))
	}
	f = append(f, fmt.Sprintf("up %d hold %d", p.up, p.onHold), fmt.Sprintf("ok %d", p.live.Succeeded))
	failed := fmt.Sprintf("failed %d", p.live.Failed)
	if p.top != "" {
		failed += " (" + p.top + ")"
	}
	f = append(f, failed)
	if len(p.crossed) > 0 {
		f = append(f, "CROSSED "+strings.Join(p.crossed, ","))
	}
	if p.live.WindowConnectP99 > 0 {
		f = append(f, "p99 connect(10s) "+metrics.FormatDuration(p.live.WindowConnectP99))
	}
	if p.live.Dropped > 0 {
		f = append(f, fmt.Sprintf("dropped %d", p.live.Dropped))
	}
	if p.live.LagP99 > 0 {
		f = append(f, "lag p99 "+metrics.FormatDuration(p.live.LagP99))
	}
	if p.cpu > 0 {
		f = append(f, fmt.Sprintf("cpu %.0f%%", p.cpu*100))
	}
	if p.sched.Stopping {
		f = append(f, "[ending calls]")
	}
	return f
}

// fit joins fields with two spaces, dropping trailing ones that would pass
// width columns.
func fit(fields []string, width int) string {
	var b strings.Builder
	for i, f := range fields {
		sep := ""
		if i > 0 {
			sep = "  "
		}
		if i > 0 && b.Len()+len(sep)+len(f) > width {
			break
		}
		b.WriteString(sep + f)
	}
	return b.String()
}

// topFailure names the most frequent failure so far, as phase/reason×count.
func topFailure(rec *metrics.Recorder, l metrics.Live) string {
	if l.Failed == 0 {
		return ""
	}
	fs := metrics.SortedFailures(rec.Failures())
	if len(fs) == 0 {
		return ""
	}
	return fmt.Sprintf("top: %s/%s ×%d", fs[0].Phase, fs[0].Reason, fs[0].Count)
}
