package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the result as the human-readable tables `loadgen bench`
// prints: the machine, the idle generator, then each ladder with the modes
// side by side and their ratios (transport ÷ lean pion, transport ÷
// pion-defaults, pion-defaults ÷ lean pion, where both modes ran), then every
// compared figure.
func (r *Result) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	r.writeHeader(ew)
	modes := make([]Mode, len(r.Passes))
	for i, ps := range r.Passes {
		modes[i] = ps.Mode
	}
	pairs := r.ratioPairs()
	r.writeIdle(ew, modes)
	if len(r.Options.SetupRates) > 0 {
		r.writeSetup(ew, modes, pairs)
	}
	for _, video := range []bool{false, true} {
		r.writeSteady(ew, modes, pairs, video)
	}
	r.writeComparisons(ew)
	return ew.err
}

// ratioPair is a ratio column: num's figure ÷ den's.
type ratioPair struct{ num, den Mode }

func (p ratioPair) String() string { return string(p.num) + "÷" + string(p.den) }

// ratioPairs are the ratio columns whose two modes both ran: transport ÷
// lean, transport ÷ pion-defaults, pion-defaults ÷ lean.
func (r *Result) ratioPairs() []ratioPair {
	var out []ratioPair
	for _, p := range []ratioPair{{ModeTransport, ModeLean}, {ModeTransport, ModePionDefaults}, {ModePionDefaults, ModeLean}} {
		if r.pass(p.num) != nil && r.pass(p.den) != nil {
			out = append(out, p)
		}
	}
	return out
}

// ratioOf is num ÷ den for a figure by mode ("-" where either is missing).
func (p ratioPair) of(v map[Mode]Float) string {
	num, ok1 := v[p.num]
	den, ok2 := v[p.den]
	if !ok1 || !ok2 {
		return "-"
	}
	return times(Float(ratio(float64(den), float64(num))))
}

// writeHeader writes the machine, the pinning and how the generator was measured.
func (r *Result) writeHeader(ew *errWriter) {
	m := r.Machine
	ew.printf("loadgen bench %s: %s, %s, %d CPUs (%s), %s/%s kernel %s, %s\n",
		m.Version, m.Date.Format("2006-01-02 15:04 MST"), m.Host, m.CPUs, m.CPUModel, m.OS, m.Arch, m.Kernel, m.GoVersion)
	p := r.Pinning
	if p.Taskset != "" {
		ew.printf("generator on CPUs %s, gateway on CPUs %s (taskset); load average at start %s\n", p.GeneratorCPUs, p.GatewayCPUs, m.LoadAvg)
	} else {
		ew.printf("processes not pinned (%s); load average at start %s\n", p.Note, m.LoadAvg)
	}
	ew.printf("generator measured alone from /proc (CPU in 1/%d s ticks, every %s)\n", m.ClockTicks, r.Options.SampleInterval)
	if r.Interrupted {
		ew.println("INTERRUPTED: the ladders below stop where the run was stopped")
	}
}

// writeIdle writes the idle generator's table, one column per mode.
func (r *Result) writeIdle(ew *errWriter, modes []Mode) {
	ew.println("\nidle generator (no call; the baseline of every per-call figure)")
	t := newTable(ew)
	t.printf("\t")
	for _, md := range modes {
		t.printf("%s\t", md.Label())
	}
	t.endRow()
	idleRow := func(name string, f func(*IdleStep) string) {
		t.printf("%s\t", name)
		for _, ps := range r.Passes {
			if ps.Idle == nil {
				t.printf("-\t")
				continue
			}
			t.printf("%s\t", f(ps.Idle))
		}
		t.endRow()
	}
	idleRow("CPU ms/s", func(s *IdleStep) string { return num(s.CPURate*1000, 2) })
	idleRow("RSS MB", func(s *IdleStep) string { return num(s.RSSKB/1024, 1) })
	idleRow("goroutines", func(s *IdleStep) string { return num(s.Goroutines, 0) })
	idleRow("fds", func(s *IdleStep) string { return num(s.FDs, 0) })
	idleRow("threads", func(s *IdleStep) string { return num(s.Threads, 0) })
	t.flush()
	for _, ps := range r.Passes {
		if ps.Idle != nil && ps.Idle.Error != "" {
			ew.printf("  %s idle: %s\n", ps.Mode.Label(), ps.Idle.Error)
		}
	}
}

// writeSetup writes the call-setup ladder: one row per rate, the modes side
// by side, then each mode's highest sustained rate and failed steps.
func (r *Result) writeSetup(ew *errWriter, modes []Mode, pairs []ratioPair) {
	o := r.Options
	ew.printf("\ncall setup: audio, hold %s, %s per rate; pass: no failed/dropped call, connect p99 < %s, lag p99 < %s\n",
		o.SetupHold, o.SetupDuration, o.MaxConnectP99, o.MaxLagP99)
	t := newTable(ew)
	t.printf("rate/s\t")
	for _, md := range modes {
		t.printf("%s:\tcalls\tCPU ms/call\tconnect p99\tlag p99\tgen CPU\tgw CPU\t\t", md.Label())
	}
	for _, p := range pairs {
		t.printf("%s\t", p)
	}
	t.endRow()
	for _, rate := range setupRates(r.passPtrs()) {
		r.writeSetupRow(t, rate, pairs)
	}
	t.flush()
	for _, ps := range r.Passes {
		ew.printf("  %s: highest rate sustained %s\n", ps.Mode.Label(), limitText(rateText(ps.MaxSetupRate), ps.MaxSetupRate > 0,
			ps.SetupGatewayBoundAt > 0, strconv.FormatFloat(ps.SetupGatewayBoundAt, 'g', -1, 64)+"/s"))
		for _, s := range ps.Setup {
			if !s.Pass {
				ew.printf("    %g/s failed: %s\n", s.Rate, strings.Join(s.Reasons, "; "))
			}
		}
	}
}

// writeSetupRow writes the setup ladder's row for rate: each mode's step
// (blank where a mode has none) and the CPU ratios.
func (r *Result) writeSetupRow(t table, rate float64, pairs []ratioPair) {
	t.printf("%g\t", rate)
	ms := map[Mode]Float{}
	for _, ps := range r.Passes {
		s := findSetup(ps.Setup, rate)
		if s == nil {
			t.printf("\t\t\t\t\t\t\t\t")
			continue
		}
		t.printf("\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t", s.Calls.Attempted, num(s.CPUMsPerCall, 2), usText(s.ConnectP99US),
			usText(s.LagP99US), pct(s.GeneratorCPU), pct(s.GatewayCPU), stepText(s.Pass, s.GatewayBound))
		ms[ps.Mode] = s.CPUMsPerCall
	}
	for _, p := range pairs {
		t.printf("%s\t", p.of(ms))
	}
	t.endRow()
}

// writeSteady writes the steady ladder of one kind (audio, or audio+video):
// one row per concurrency level, then each mode's highest level held and
// failed steps. It writes nothing when the options list no level.
func (r *Result) writeSteady(ew *errWriter, modes []Mode, pairs []ratioPair, video bool) {
	o := r.Options
	levels := o.AudioLevels
	if video {
		levels = o.VideoLevels
	}
	if len(levels) == 0 {
		return
	}
	ew.printf("\nsteady %s: N calls up together for %s (after %s settle); pass: every call up, no loss, no late write\n",
		kindName(video), o.Window, o.Settle)
	t := newTable(ew)
	t.printf("calls\t")
	for _, md := range modes {
		t.printf("%s:\tpackets/s\tCPU µs/pkt\tRSS KB/call\tgoroutines/call\tfds/call\tgen CPU\tgw CPU\t\t", md.Label())
	}
	for _, p := range pairs {
		t.printf("µs/pkt %s\tKB/call %s\t", p, p)
	}
	t.endRow()
	for _, n := range steadyLevels(r.passPtrs(), video) {
		r.writeSteadyRow(t, n, pairs, video)
	}
	t.flush()
	for _, ps := range r.Passes {
		maxN, gwAt := ps.MaxAudioCalls, ps.AudioGatewayBoundAt
		if video {
			maxN, gwAt = ps.MaxVideoCalls, ps.VideoGatewayBoundAt
		}
		ew.printf("  %s: highest concurrency held %s\n", ps.Mode.Label(), limitText(countText(maxN), maxN > 0, gwAt > 0, strconv.Itoa(gwAt)+" calls"))
		for _, s := range ps.steady(video) {
			if !s.Pass {
				ew.printf("    %d calls failed: %s\n", s.N, strings.Join(s.Reasons, "; "))
			}
		}
	}
}

// writeSteadyRow writes the steady ladder's row for n calls: each mode's
// step (blank where a mode has none) and the ratios.
func (r *Result) writeSteadyRow(t table, n int, pairs []ratioPair, video bool) {
	t.printf("%d\t", n)
	us, kb := map[Mode]Float{}, map[Mode]Float{}
	for _, ps := range r.Passes {
		s := findSteady(ps.steady(video), n)
		if s == nil {
			t.printf("\t\t\t\t\t\t\t\t\t")
			continue
		}
		t.printf("\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", num(s.PacketRate, 0), num(s.CPUUsPerPacket, 2), num(s.RSSKBPerCall, 1),
			num(s.GoroutinesPerCall, 2), num(s.FDsPerCall, 2), pct(s.GeneratorCPU), pct(s.GatewayCPU), stepText(s.Pass, s.GatewayBound))
		us[ps.Mode], kb[ps.Mode] = s.CPUUsPerPacket, s.RSSKBPerCall
	}
	for _, p := range pairs {
		t.printf("%s\t%s\t", p.of(us), p.of(kb))
	}
	t.endRow()
}

// writeComparisons writes every figure measured in two modes or more: the
// three engines side by side (the modes that ran), then the transport
// figure's ratio to lean pion and to pion-defaults, and pion-defaults ÷ lean
// pion, each where both figures exist.
func (r *Result) writeComparisons(ew *errWriter) {
	if len(r.Comparisons) == 0 {
		return
	}
	var modes []Mode
	for _, m := range Modes() {
		if r.pass(m) != nil {
			modes = append(modes, m)
		}
	}
	pairs := r.ratioPairs()
	ew.println("\ncomparison (every figure measured in two modes or more)")
	t := newTable(ew)
	t.printf("figure\t")
	for _, m := range modes {
		t.printf("%s\t", m.Label())
	}
	for _, p := range pairs {
		t.printf("%s\t", p)
	}
	t.endRow()
	for _, c := range r.Comparisons {
		v := map[Mode]Float{ModeTransport: c.Transport, ModeLean: c.Lean, ModePionDefaults: c.PionDefaults}
		t.printf("%s\t", c.Figure)
		for _, m := range modes {
			t.printf("%s\t", sig(v[m]))
		}
		for _, p := range pairs {
			t.printf("%s\t", p.of(v))
		}
		t.endRow()
	}
	t.flush()
}

// passPtrs is the passes, as pointers.
func (r *Result) passPtrs() []*Pass {
	out := make([]*Pass, len(r.Passes))
	for i := range r.Passes {
		out[i] = &r.Passes[i]
	}
	return out
}

// steady returns the pass's steady ladder of the kind.
func (p *Pass) steady(video bool) []SteadyStep {
	if video {
		return p.SteadyVideo
	}
	return p.SteadyAudio
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

// sig formats f with 4 significant digits (whole numbers from 1000 up),
// "-" when not measured.
func sig(f Float) string {
	if !f.Valid() {
		return "-"
	}
	if math.Abs(float64(f)) >= 1000 {
		return strconv.FormatFloat(float64(f), 'f', 0, 64)
	}
	return strconv.FormatFloat(float64(f), 'g', 4, 64)
}

// stepText is a step's verdict: ok, FAIL, or gw-bound (failed with the
// gateway saturated: not the generator's limit).
func stepText(pass, gatewayBound bool) string {
	switch {
	case pass:
		return "ok"
	case gatewayBound:
		return "gw-bound"
	default:
		return "FAIL"
	}
}

// limitText is a ladder's limit line: the highest passing level (text;
// passed says whether one passed) and, when the ladder stopped on a
// gateway-bound step at level at, that the generator's limit was not reached.
func limitText(text string, passed, gatewayBound bool, at string) string {
	if !gatewayBound {
		return text
	}
	if !passed {
		text = "none"
	}
	return text + "; limit not reached: gateway-bound at " + at
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

// printf writes to e. The result needs no check: e.Write never fails and
// keeps the first error for WriteTable to return.
func (e *errWriter) printf(format string, a ...any) { _, _ = fmt.Fprintf(e, format, a...) }

// println writes to e like fmt.Fprintln; see printf.
func (e *errWriter) println(a ...any) { _, _ = fmt.Fprintln(e, a...) }

// table is a right-aligned tabwriter over an errWriter. Its writes need no
// check: the errWriter is the tabwriter's only output, so any failure is
// kept there for WriteTable to return.
type table struct{ tw *tabwriter.Writer }

func newTable(ew *errWriter) table {
	return table{tw: tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)}
}

func (t table) printf(format string, a ...any) { _, _ = fmt.Fprintf(t.tw, format, a...) }

// endRow ends the current row.
func (t table) endRow() { _, _ = fmt.Fprintln(t.tw) }

// flush aligns and writes the buffered rows.
func (t table) flush() { _ = t.tw.Flush() }
