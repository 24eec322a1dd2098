package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the result as the human-readable tables `loadgen bench`
// prints: the machine, the idle generator, then each ladder with the modes
// side by side and their ratio (pion-defaults / lean: how many times more
// the naive build costs).
func (r *Result) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	m := r.Machine
	fmt.Fprintf(ew, "loadgen bench %s: %s, %s, %d CPUs (%s), %s/%s kernel %s, %s\n",
		m.Version, m.Date.Format("2006-01-02 15:04 MST"), m.Host, m.CPUs, m.CPUModel, m.OS, m.Arch, m.Kernel, m.GoVersion)
	p := r.Pinning
	if p.Taskset != "" {
		fmt.Fprintf(ew, "generator on CPUs %s, gateway on CPUs %s (taskset); load average at start %s\n", p.GeneratorCPUs, p.GatewayCPUs, m.LoadAvg)
	} else {
		fmt.Fprintf(ew, "processes not pinned (%s); load average at start %s\n", p.Note, m.LoadAvg)
	}
	fmt.Fprintf(ew, "generator measured alone from /proc (CPU in 1/%d s ticks, every %s)\n", m.ClockTicks, r.Options.SampleInterval)
	if r.Interrupted {
		fmt.Fprintln(ew, "INTERRUPTED: the ladders below stop where the run was stopped")
	}
	modes := make([]Mode, len(r.Passes))
	for i, ps := range r.Passes {
		modes[i] = ps.Mode
	}
	both := r.pass(ModeLean) != nil && r.pass(ModePionDefaults) != nil

	// Idle generator.
	fmt.Fprintln(ew, "\nidle generator (no call; the baseline of every per-call figure)")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, md := range modes {
		fmt.Fprintf(tw, "%s\t", md)
	}
	fmt.Fprintln(tw)
	idleRow := func(name string, f func(*IdleStep) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, ps := range r.Passes {
			if ps.Idle == nil {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%s\t", f(ps.Idle))
		}
		fmt.Fprintln(tw)
	}
	idleRow("CPU ms/s", func(s *IdleStep) string { return num(s.CPURate*1000, 2) })
	idleRow("RSS MB", func(s *IdleStep) string { return num(s.RSSKB/1024, 1) })
	idleRow("goroutines", func(s *IdleStep) string { return num(s.Goroutines, 0) })
	idleRow("fds", func(s *IdleStep) string { return num(s.FDs, 0) })
	idleRow("threads", func(s *IdleStep) string { return num(s.Threads, 0) })
	tw.Flush()
	for _, ps := range r.Passes {
		if ps.Idle != nil && ps.Idle.Error != "" {
			fmt.Fprintf(ew, "  %s idle: %s\n", ps.Mode, ps.Idle.Error)
		}
	}

	o := r.Options
	// Setup ladder.
	if len(o.SetupRates) > 0 {
		fmt.Fprintf(ew, "\ncall setup: audio, hold %s, %s per rate; pass: no failed/dropped call, connect p99 < %s, lag p99 < %s\n",
			o.SetupHold, o.SetupDuration, o.MaxConnectP99, o.MaxLagP99)
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "rate/s\t")
		for _, md := range modes {
			fmt.Fprintf(tw, "%s:\tcalls\tCPU ms/call\tconnect p99\tlag p99\tgen CPU\tgw CPU\t\t", md)
		}
		if both {
			fmt.Fprint(tw, "ratio\t")
		}
		fmt.Fprintln(tw)
		var rates []float64
		for _, ps := range r.Passes {
			for _, s := range ps.Setup {
				if !slices.Contains(rates, s.Rate) {
					rates = append(rates, s.Rate)
				}
			}
		}
		slices.Sort(rates)
		for _, rate := range rates {
			fmt.Fprintf(tw, "%g\t", rate)
			var ms [2]Float
			for i, ps := range r.Passes {
				s := findSetup(ps.Setup, rate)
				if s == nil {
					fmt.Fprint(tw, "\t\t\t\t\t\t\t\t")
					continue
				}
				fmt.Fprintf(tw, "\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t", s.Calls.Attempted, num(s.CPUMsPerCall, 2), usText(s.ConnectP99US),
					usText(s.LagP99US), pct(s.GeneratorCPU), pct(s.GatewayCPU), okText(s.Pass))
				if i < 2 {
					ms[i] = s.CPUMsPerCall
				}
			}
			if both {
				fmt.Fprintf(tw, "%s\t", times(r.ratioOf(ms)))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		for _, ps := range r.Passes {
			fmt.Fprintf(ew, "  %s: highest rate sustained %s\n", ps.Mode, rateText(ps.MaxSetupRate))
			for _, s := range ps.Setup {
				if !s.Pass {
					fmt.Fprintf(ew, "    %g/s failed: %s\n", s.Rate, strings.Join(s.Reasons, "; "))
				}
			}
		}
	}

	// Steady ladders.
	for _, video := range []bool{false, true} {
		levels := o.AudioLevels
		if video {
			levels = o.VideoLevels
		}
		if len(levels) == 0 {
			continue
		}
		fmt.Fprintf(ew, "\nsteady %s: N calls up together for %s (after %s settle); pass: every call up, no loss, no late write\n",
			kindName(video), o.Window, o.Settle)
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "calls\t")
		for _, md := range modes {
			fmt.Fprintf(tw, "%s:\tpackets/s\tCPU µs/pkt\tRSS KB/call\tgoroutines/call\tfds/call\tgen CPU\tgw CPU\t\t", md)
		}
		if both {
			fmt.Fprint(tw, "ratio µs/pkt\tratio KB/call\t")
		}
		fmt.Fprintln(tw)
		var ns []int
		for _, ps := range r.Passes {
			for _, s := range ps.steady(video) {
				if !slices.Contains(ns, s.N) {
					ns = append(ns, s.N)
				}
			}
		}
		slices.Sort(ns)
		for _, n := range ns {
			fmt.Fprintf(tw, "%d\t", n)
			var us, kb [2]Float
			for i, ps := range r.Passes {
				s := findSteady(ps.steady(video), n)
				if s == nil {
					fmt.Fprint(tw, "\t\t\t\t\t\t\t\t\t")
					continue
				}
				fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", num(s.PacketRate, 0), num(s.CPUUsPerPacket, 2), num(s.RSSKBPerCall, 1),
					num(s.GoroutinesPerCall, 2), num(s.FDsPerCall, 2), pct(s.GeneratorCPU), pct(s.GatewayCPU), okText(s.Pass))
				if i < 2 {
					us[i], kb[i] = s.CPUUsPerPacket, s.RSSKBPerCall
				}
			}
			if both {
				fmt.Fprintf(tw, "%s\t%s\t", times(r.ratioOf(us)), times(r.ratioOf(kb)))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		for _, ps := range r.Passes {
			maxN := ps.MaxAudioCalls
			if video {
				maxN = ps.MaxVideoCalls
			}
			fmt.Fprintf(ew, "  %s: highest concurrency held %s\n", ps.Mode, countText(maxN))
			for _, s := range ps.steady(video) {
				if !s.Pass {
					fmt.Fprintf(ew, "    %d calls failed: %s\n", s.N, strings.Join(s.Reasons, "; "))
				}
			}
		}
	}
	return ew.err
}

// steady returns the pass's steady ladder of the kind.
func (p *Pass) steady(video bool) []SteadyStep {
	if video {
		return p.SteadyVideo
	}
	return p.SteadyAudio
}

// ratioOf is pion-defaults / lean for values listed in pass order.
func (r *Result) ratioOf(v [2]Float) Float {
	if len(r.Passes) < 2 {
		return NaN()
	}
	lean, pion := v[0], v[1]
	if r.Passes[0].Mode == ModePionDefaults {
		lean, pion = pion, lean
	}
	return Float(ratio(float64(lean), float64(pion)))
}

func findSetup(steps []SetupStep, rate float64) *SetupStep {
	for i := range steps {
		if steps[i].Rate == rate {
			return &steps[i]
		}
	}
	return nil
}

func findSteady(steps []SteadyStep, n int) *SteadyStep {
	for i := range steps {
		if steps[i].N == n {
			return &steps[i]
		}
	}
	return nil
}

// num formats f with prec decimals, "-" when not measured.
func num(f Float, prec int) string {
	if !f.Valid() {
		return "-"
	}
	return strconv.FormatFloat(float64(f), 'f', prec, 64)
}

// pct formats a CPU figure (1.0 = one CPU) as a percentage of one CPU.
func pct(f Float) string {
	if !f.Valid() {
		return "-"
	}
	return strconv.FormatFloat(100*float64(f), 'f', 0, 64) + "%"
}

func times(f Float) string {
	if !f.Valid() {
		return "-"
	}
	return strconv.FormatFloat(float64(f), 'f', 2, 64) + "x"
}

func okText(pass bool) string {
	if pass {
		return "ok"
	}
	return "FAIL"
}

func rateText(r float64) string {
	if r <= 0 {
		return "none (the first rate failed)"
	}
	return strconv.FormatFloat(r, 'g', -1, 64) + " calls/s"
}

func countText(n int) string {
	if n <= 0 {
		return "none (the first level failed)"
	}
	return strconv.Itoa(n) + " calls"
}

// errWriter keeps the first write error, so the table code can write
// freely and report it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, nil
}
