package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/worker"
)

// progressLoop prints the live progress line every period until ctx ends: on
// a terminal one line rewritten in place, otherwise a plain line. It also
// samples the generator's CPU so the validity check sees the busiest second.
func progressLoop(ctx context.Context, e *env, every time.Duration, rec *metrics.Recorder, sched *worker.Scheduler, sampler *cpu.Sampler) {
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
			if sampler != nil {
				if f, err := sampler.Sample(); err == nil {
					cpuFrac = f
				}
			}
			if now.Sub(lastPrint) < every-50*time.Millisecond {
				continue
			}
			live := rec.Live()
			p := sched.Progress()
			achieved := 0.0
			if dt := now.Sub(lastAt).Seconds(); dt > 0 {
				achieved = float64(live.Attempted-lastLive.Attempted) / dt
			}
			lastLive, lastAt, lastPrint = live, now, now
			line := progressLine(live, p, achieved, cpuFrac, topFailure(rec, live))
			if e.isTerminal {
				fmt.Fprintf(e.stderr, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(e.stderr, line)
			}
		}
	}
}

// progressLine formats one progress line.
func progressLine(l metrics.Live, p worker.Progress, achieved, cpu float64, top string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", p.Elapsed.Truncate(time.Second))
	if p.TargetConcurrent > 0 {
		fmt.Fprintf(&b, "  target %d up", p.TargetConcurrent)
	} else {
		fmt.Fprintf(&b, "  rate %.1f/s (target %.1f/s)", achieved, p.TargetRate)
	}
	fmt.Fprintf(&b, "  active %d  ok %d  failed %d", p.InFlight, l.Succeeded, l.Failed)
	if top != "" {
		fmt.Fprintf(&b, " (%s)", top)
	}
	if l.Dropped > 0 {
		fmt.Fprintf(&b, "  dropped %d", l.Dropped)
	}
	if l.ConnectP99 > 0 {
		fmt.Fprintf(&b, "  p99 connect %s", metrics.FormatDuration(l.ConnectP99))
	}
	if cpu > 0 {
		fmt.Fprintf(&b, "  cpu %.0f%%", cpu*100)
	}
	if p.Stopping {
		b.WriteString("  [ending calls]")
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
