package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// Schema names the version of the result JSON's layout.
const Schema = "loadgen.bench/v1"

// Float is a float64 that is written to JSON as null when it is NaN or
// infinite (a figure that could not be measured) and read back as NaN.
type Float float64

// NaN is the "not measured" Float.
func NaN() Float { return Float(math.NaN()) }

// Valid reports whether f was measured.
func (f Float) Valid() bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// MarshalJSON writes the number, or null.
func (f Float) MarshalJSON() ([]byte, error) {
	if !f.Valid() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = NaN()
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("bench: number %s: %w", b, err)
	}
	*f = Float(v)
	return nil
}

// Result is everything one benchmark run measured: the JSON written by
// `loadgen bench --json`.
type Result struct {
	Schema  string  `json:"schema"`
	Machine Machine `json:"machine"`
	// Command is the command line the benchmark ran with.
	Command []string `json:"command,omitempty"`
	// Options are the exact options.
	Options Options `json:"options"`
	Pinning Pinning `json:"pinning"`
	// Started and Finished bound the run.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Interrupted is set when the run was cancelled part way.
	Interrupted bool `json:"interrupted,omitempty"`
	// Passes are the ladders, once per mode.
	Passes []Pass `json:"passes"`
	// Comparisons are each figure measured in both modes, with the ratio
	// pion-defaults / lean.
	Comparisons []Comparison `json:"comparisons"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	Host       string `json:"host"`
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	Kernel     string `json:"kernel"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	GoVersion  string `json:"go_version"`
	Version    string `json:"loadgen_version"`
	ClockTicks int64  `json:"clock_ticks"`
	// LoadAvg is /proc/loadavg when the run started: anything else
	// running makes the figures noisier.
	LoadAvg string    `json:"loadavg"`
	Date    time.Time `json:"date"`
}

// Pass is one mode's ladders.
type Pass struct {
	Mode Mode      `json:"mode"`
	Idle *IdleStep `json:"idle"`
	// Setup is the call setup ladder, in the order run.
	Setup []SetupStep `json:"setup"`
	// SteadyAudio and SteadyVideo are the steady-state ladders.
	SteadyAudio []SteadyStep `json:"steady_audio"`
	SteadyVideo []SteadyStep `json:"steady_video"`
	// MaxSetupRate is the highest setup rate that passed (0: none);
	// MaxAudioCalls and MaxVideoCalls the highest concurrency held.
	MaxSetupRate  float64 `json:"max_setup_rate"`
	MaxAudioCalls int     `json:"max_audio_calls"`
	MaxVideoCalls int     `json:"max_video_calls"`
	// SetupGatewayBoundAt, AudioGatewayBoundAt and VideoGatewayBoundAt
	// are the level where a ladder stopped on a gateway-bound step (0:
	// it did not): the generator's limit was not reached.
	SetupGatewayBoundAt float64 `json:"setup_gateway_bound_at,omitempty"`
	AudioGatewayBoundAt int     `json:"audio_gateway_bound_at,omitempty"`
	VideoGatewayBoundAt int     `json:"video_gateway_bound_at,omitempty"`
}

// RunInfo is what every child run reports besides its figures.
type RunInfo struct {
	// ExitCode is the generator's exit status (-1: killed or not started).
	ExitCode int `json:"exit_code"`
	// Error says why the step could not be measured ("" when it was).
	Error string `json:"error,omitempty"`
	// Elapsed is the step's wall time, seconds.
	Elapsed float64 `json:"elapsed_seconds"`
	// Samples and Scrapes count the readings taken.
	Samples int `json:"samples"`
	Scrapes int `json:"scrapes"`
	// GatewayCPU is the gateway's CPU over the measured window (a steady
	// step without one: over the whole run), in CPUs (1.0 = one CPU busy):
	// near its CPU count, the gateway was the limit.
	GatewayCPU Float `json:"gateway_cpu"`
	// GatewayBound marks a failing step whose gateway used at least
	// GatewayBoundShare of its CPUs: the gateway, not the generator, was
	// the bottleneck, and the step is not the generator's limit.
	GatewayBound bool `json:"gateway_bound"`
}

// IdleStep is the idle generator: engine, signalling client and metrics
// endpoint up, no call. Its figures are the baseline of every per-call one.
type IdleStep struct {
	RunInfo
	Window Window `json:"window"`
	// CPURate is CPU seconds per second (1.0 = one CPU busy).
	CPURate    Float `json:"cpu_rate"`
	RSSKB      Float `json:"rss_kb"`
	Threads    Float `json:"threads"`
	FDs        Float `json:"fds"`
	Goroutines Float `json:"goroutines"`
}

// Calls are a step's call counters, from summary.json.
type Calls struct {
	Attempted  uint64 `json:"attempted"`
	Succeeded  uint64 `json:"succeeded"`
	Failed     uint64 `json:"failed"`
	Aborted    uint64 `json:"aborted"`
	Dropped    uint64 `json:"dropped"`
	InProgress uint64 `json:"in_progress"`
}

func callsOf(s *results.SummaryFile) Calls {
	c := s.Calls
	return Calls{Attempted: c.Attempted, Succeeded: c.Succeeded, Failed: c.Failed, Aborted: c.Aborted, Dropped: c.Dropped, InProgress: c.InProgress}
}

// SetupStep is one rate of the setup ladder.
type SetupStep struct {
	RunInfo
	// Rate is the offered rate, calls/s, for Duration; Hold is each call's
	// hold once media flowed.
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration_ns"`
	Hold     time.Duration `json:"hold_ns"`
	Calls    Calls         `json:"calls"`
	// Achieved is the achieved start rate, calls/s.
	Achieved float64 `json:"achieved_rate"`
	// ConnectP99US, MediaP99US (from the scheduled start) and LagP99US,
	// microseconds.
	ConnectP99US int64 `json:"connect_p99_us"`
	MediaP99US   int64 `json:"media_p99_us"`
	LagP99US     int64 `json:"lag_p99_us"`
	// Window is the run (summary.json's start to end): every call of the
	// step starts and ends in it.
	Window Window `json:"window"`
	// CPUSeconds is the generator's CPU in the window; IdleCPUSeconds the
	// idle generator's rate times the window, subtracted from it.
	CPUSeconds     Float `json:"cpu_seconds"`
	IdleCPUSeconds Float `json:"idle_cpu_seconds"`
	// CPUMsPerCall is (CPUSeconds − IdleCPUSeconds) / attempted calls, ms:
	// subscribe, websocket, offer, ICE, DTLS, first media, hang-up and
	// unsubscribe together.
	CPUMsPerCall Float `json:"cpu_ms_per_call"`
	// GeneratorCPU is CPUSeconds / window (1.0 = one CPU busy).
	GeneratorCPU Float `json:"generator_cpu"`
	// PeakRSSKB is the largest RSS sampled in the window.
	PeakRSSKB Float `json:"peak_rss_kb"`
	// Pass and Reasons are the verdict (Reasons says why not).
	Pass    bool     `json:"pass"`
	Reasons []string `json:"reasons,omitempty"`
}

// SteadyStep is one concurrency of a steady ladder.
type SteadyStep struct {
	RunInfo
	// Calls is N, the calls held up together; Video whether they carry
	// video; Hold each call's hold; RampRate the rate they came up at.
	N        int           `json:"calls_target"`
	Video    bool          `json:"video"`
	Hold     time.Duration `json:"hold_ns"`
	RampRate float64       `json:"ramp_rate"`
	Calls    Calls         `json:"calls"`
	// Media is summary.json's media totals over the whole run.
	Media metrics.MediaTotals `json:"media"`
	// LateWritesInWindow counts the late media writes of the calls whose
	// late writes fall in the steady window (LateWritesInWindow); writes
	// made late by the ramp or by other calls' teardown are not steady
	// state and only show in Media.LateWrites.
	LateWritesInWindow uint64 `json:"late_writes_in_window"`
	// UpAt is when the last call got media; FirstEnd when the first call
	// began to end. Window is the steady window inside them; Full whether
	// it got its whole length.
	UpAt     time.Time `json:"up_at"`
	FirstEnd time.Time `json:"first_end"`
	Window   Window    `json:"window"`
	Full     bool      `json:"window_full"`
	// CPUSeconds is the generator's CPU in the window; IdleCPUSeconds the
	// idle generator's share of it.
	CPUSeconds     Float `json:"cpu_seconds"`
	IdleCPUSeconds Float `json:"idle_cpu_seconds"`
	GeneratorCPU   Float `json:"generator_cpu"`
	// Packets is the RTP packets sent plus received in the window
	// (PacketsInWindow); PacketRate per second.
	Packets    Float `json:"packets"`
	PacketRate Float `json:"packet_rate"`
	// CPUUsPerPacket is (CPUSeconds − IdleCPUSeconds) / Packets, µs. It
	// includes everything the calls cost while up (RTCP, ICE keepalives,
	// timers), not only the packet path.
	CPUUsPerPacket Float `json:"cpu_us_per_packet"`
	// RSSKB, Goroutines, FDs and Threads are medians over the window.
	RSSKB      Float `json:"rss_kb"`
	Goroutines Float `json:"goroutines"`
	FDs        Float `json:"fds"`
	Threads    Float `json:"threads"`
	// The per-call figures: (value − idle value) / N.
	RSSKBPerCall      Float    `json:"rss_kb_per_call"`
	GoroutinesPerCall Float    `json:"goroutines_per_call"`
	FDsPerCall        Float    `json:"fds_per_call"`
	ThreadsPerCall    Float    `json:"threads_per_call"`
	Pass              bool     `json:"pass"`
	Reasons           []string `json:"reasons,omitempty"`
}

// Comparison is one figure measured in at least two modes (the same step
// in each). A mode without the step has null; a ratio is null unless both of
// its figures were measured.
type Comparison struct {
	// Figure names it, e.g. "setup cpu_ms_per_call @ 50/s".
	Figure string `json:"figure"`
	// Transport, Lean and PionDefaults are the figure in each mode.
	Transport    Float `json:"transport"`
	Lean         Float `json:"lean"`
	PionDefaults Float `json:"pion_defaults"`
	// Ratio is PionDefaults / Lean.
	Ratio Float `json:"ratio"`
	// TransportVsLean is Transport / Lean; TransportVsPionDefaults is
	// Transport / PionDefaults.
	TransportVsLean         Float `json:"transport_vs_lean"`
	TransportVsPionDefaults Float `json:"transport_vs_pion_defaults"`
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write result: %w", err)
	}
	return nil
}

// ReadResult decodes a result written by WriteJSON, checking its schema.
func ReadResult(rd io.Reader) (*Result, error) {
	var r Result
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: read result: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("bench: read result: schema %q, want %q", r.Schema, Schema)
	}
	return &r, nil
}

// pass returns the pass of mode m, or nil.
func (r *Result) pass(m Mode) *Pass {
	for i := range r.Passes {
		if r.Passes[i].Mode == m {
			return &r.Passes[i]
		}
	}
	return nil
}

// Compare lists every figure measured in at least two of the modes (the
// same step in each; a nil pass is a mode not run) with the transport figure's
// ratios to lean and to pion-defaults and pion-defaults / lean. Failed steps
// are compared too: their raw figures are still what the process cost.
func Compare(transport, lean, pion *Pass) []Comparison {
	c := &comparer{passes: [3]*Pass{transport, lean, pion}, out: []Comparison{}}
	ran := 0
	for _, p := range c.passes {
		if p != nil {
			ran++
		}
	}
	if ran < 2 {
		return c.out
	}
	c.idle("idle cpu_rate", func(s *IdleStep) *Float { return &s.CPURate })
	c.idle("idle rss_kb", func(s *IdleStep) *Float { return &s.RSSKB })
	for _, rate := range setupRates(c.passes[:]) {
		c.add(fmt.Sprintf("setup cpu_ms_per_call @ %g/s", rate), c.figure(func(p *Pass) *Float {
			if s := findSetup(p.Setup, rate); s != nil {
				return &s.CPUMsPerCall
			}
			return nil
		}))
	}
	c.steady(false)
	c.steady(true)
	return c.out
}

// comparer collects Compare's figures.
type comparer struct {
	passes [3]*Pass // transport, lean, pion-defaults; nil: not run
	out    []Comparison
}

// figure reads one figure from each pass that ran (f returns nil where the
// pass lacks the step).
func (c *comparer) figure(f func(*Pass) *Float) [3]*Float {
	var v [3]*Float
	for i, p := range c.passes {
		if p != nil {
			v[i] = f(p)
		}
	}
	return v
}

// add lists a figure found in at least two modes (nil: not in that mode)
// with one valid value at least.
func (c *comparer) add(name string, v [3]*Float) {
	var f [3]Float
	found, valid := 0, false
	for i, p := range v {
		f[i] = NaN()
		if p != nil {
			f[i] = *p
			found++
			valid = valid || p.Valid()
		}
	}
	if found < 2 || !valid {
		return
	}
	c.out = append(c.out, Comparison{Figure: name, Transport: f[0], Lean: f[1], PionDefaults: f[2],
		Ratio:                   Float(ratio(float64(f[1]), float64(f[2]))),
		TransportVsLean:         Float(ratio(float64(f[1]), float64(f[0]))),
		TransportVsPionDefaults: Float(ratio(float64(f[2]), float64(f[0]))),
	})
}

// idle adds one figure of the idle steps.
func (c *comparer) idle(name string, f func(*IdleStep) *Float) {
	c.add(name, c.figure(func(p *Pass) *Float {
		if p.Idle == nil {
			return nil
		}
		return f(p.Idle)
	}))
}

// steady adds the figures of one steady ladder, level by level.
func (c *comparer) steady(video bool) {
	kind := "audio"
	if video {
		kind = "video"
	}
	figs := []struct {
		name string
		f    func(*SteadyStep) *Float
	}{
		{"cpu_us_per_packet", func(s *SteadyStep) *Float { return &s.CPUUsPerPacket }},
		{"rss_kb_per_call", func(s *SteadyStep) *Float { return &s.RSSKBPerCall }},
		{"goroutines_per_call", func(s *SteadyStep) *Float { return &s.GoroutinesPerCall }},
		{"fds_per_call", func(s *SteadyStep) *Float { return &s.FDsPerCall }},
	}
	for _, n := range steadyLevels(c.passes[:], video) {
		for _, fig := range figs {
			c.add(fmt.Sprintf("%s %s @ %d", kind, fig.name, n), c.figure(func(p *Pass) *Float {
				if s := findSteady(p.steady(video), n); s != nil {
					return fig.f(s)
				}
				return nil
			}))
		}
	}
}

// setupRates lists the setup rates of the passes (nil: skipped), ascending.
func setupRates(passes []*Pass) []float64 {
	var rates []float64
	for _, p := range passes {
		if p == nil {
			continue
		}
		for _, s := range p.Setup {
			if !slices.Contains(rates, s.Rate) {
				rates = append(rates, s.Rate)
			}
		}
	}
	slices.Sort(rates)
	return rates
}

// steadyLevels lists the steady levels of one kind of the passes (nil:
// skipped), ascending.
func steadyLevels(passes []*Pass, video bool) []int {
	var ns []int
	for _, p := range passes {
		if p == nil {
			continue
		}
		for _, s := range p.steady(video) {
			if !slices.Contains(ns, s.N) {
				ns = append(ns, s.N)
			}
		}
	}
	slices.Sort(ns)
	return ns
}
