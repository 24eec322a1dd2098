package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Mode is how the generator builds its call peers: one media engine
// (`loadgen run --media-engine`).
type Mode string

// The modes a pass can run in.
const (
	// ModeTransport is `--media-engine transport`: loadgen's own per-core
	// media transport.
	ModeTransport Mode = "transport"
	// ModeLean is `--media-engine pion`: the lean pion engine (labelled
	// "lean pion" in tables; the mode keeps its name so that results
	// written before the transport engine still read the same).
	ModeLean Mode = "lean"
	// ModePionDefaults is `--media-engine pion-defaults`: pion's defaults,
	// the naive build every figure is compared with.
	ModePionDefaults Mode = "pion-defaults"
)

// Modes lists the modes in their default order.
func Modes() []Mode { return []Mode{ModeTransport, ModeLean, ModePionDefaults} }

// ParseMode maps "transport", "lean" or "pion-defaults" to its Mode.
func ParseMode(s string) (Mode, error) {
	if m := Mode(s); slices.Contains(Modes(), m) {
		return m, nil
	}
	return "", fmt.Errorf("bench: unknown mode %q (want transport, lean or pion-defaults)", s)
}

// JoinModes writes modes as a --modes value: "transport,lean,pion-defaults".
func JoinModes(modes []Mode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

// Engine is the mode's `loadgen run --media-engine` value.
func (m Mode) Engine() string {
	if m == ModeLean {
		return "pion"
	}
	return string(m)
}

// Label names the mode in tables: "lean pion" for ModeLean, else the mode.
func (m Mode) Label() string {
	if m == ModeLean {
		return "lean pion"
	}
	return string(m)
}

// Pinning values of Options.GeneratorCPUs and GatewayCPUs.
const (
	// PinAuto splits the CPUs: the generator gets the first half, the
	// gateway the rest (taskset needed, and at least 2 CPUs).
	PinAuto = ""
	// PinNone runs both processes unpinned.
	PinNone = "none"
)

// Defaults of the full benchmark (DefaultOptions).
const (
	// DefaultWindow is the steady window: the "held for 60 s".
	DefaultWindow = 60 * time.Second
	// DefaultSetupDuration is how long each setup step offers its rate.
	DefaultSetupDuration = 10 * time.Second
	// DefaultRampRate is the rate the steady ladder brings its calls up at.
	DefaultRampRate = 50
	// DefaultMaxConnectP99 is the setup ladder's connect criterion.
	DefaultMaxConnectP99 = 250 * time.Millisecond
	// DefaultMaxLagP99 is the setup ladder's scheduler-lag criterion.
	DefaultMaxLagP99 = 5 * time.Millisecond
	// DefaultSampleInterval is the /proc sampling period.
	DefaultSampleInterval = 250 * time.Millisecond
)

// Options configure a benchmark run. Start from DefaultOptions or
// QuickOptions; every field is recorded in the result.
type Options struct {
	// Loadgen is the loadgen binary run as the gateway and the generator
	// (required; the CLI passes its own executable).
	Loadgen string `json:"loadgen"`
	// Modes are the passes, in order (default transport, lean,
	// pion-defaults).
	Modes []Mode `json:"modes"`

	// SetupRates are the setup ladder's open-model rates, calls/s,
	// ascending; empty skips the ladder.
	SetupRates []float64 `json:"setup_rates"`
	// SetupDuration is how long each setup step offers its rate.
	SetupDuration time.Duration `json:"setup_duration_ns"`
	// SetupHold is the setup calls' hold time once media flows.
	SetupHold time.Duration `json:"setup_hold_ns"`
	// MaxConnectP99 and MaxLagP99 are a setup step's criteria: p99 of
	// connect (from the scheduled start) and of scheduler lag.
	MaxConnectP99 time.Duration `json:"max_connect_p99_ns"`
	MaxLagP99     time.Duration `json:"max_lag_p99_ns"`

	// AudioLevels and VideoLevels are the steady ladders' concurrent call
	// counts (audio only; audio+video), ascending; empty skips a ladder.
	AudioLevels []int `json:"audio_levels"`
	VideoLevels []int `json:"video_levels"`
	// RampRate is the rate (calls/s) at which a steady step brings its
	// calls up.
	RampRate float64 `json:"ramp_rate"`
	// Settle is the wait from the last call's first media to the window.
	Settle time.Duration `json:"settle_ns"`
	// Window is the steady window every call must be up for.
	Window time.Duration `json:"window_ns"`
	// HoldMargin is added to each steady call's hold beyond ramp, settle
	// and window, so that the window fits when setups lag a little.
	HoldMargin time.Duration `json:"hold_margin_ns"`

	// IdleDuration is how long the idle generator is measured.
	IdleDuration time.Duration `json:"idle_duration_ns"`
	// SampleInterval is the /proc sampling period.
	SampleInterval time.Duration `json:"sample_interval_ns"`
	// ScrapeInterval is the period of /metrics scrapes for the goroutine
	// count. A scrape costs the generator about 3 ms of CPU and a few MB
	// of garbage, so scrapes are taken only after the measured windows:
	// after the idle window, and after the steady window while every call
	// is still up; never in setup steps.
	ScrapeInterval time.Duration `json:"scrape_interval_ns"`
	// AnswerDelay is the gateway's answer delay (serve --answer-delay);
	// ringing is sent at once.
	AnswerDelay time.Duration `json:"answer_delay_ns"`
	// GatewayEngine is the gateway's media engine (serve --media-engine):
	// "transport" by default, so the gateway, which has one CPU as the
	// generator does, is not the first to saturate; "pion" as before.
	GatewayEngine string `json:"gateway_engine"`

	// GeneratorCPUs and GatewayCPUs are taskset CPU lists such as "0" or
	// "0-7"; PinAuto splits the machine, PinNone disables pinning.
	GeneratorCPUs string `json:"generator_cpus"`
	GatewayCPUs   string `json:"gateway_cpus"`

	// WorkDir is where the temporary step directories go ("" = the
	// system's temporary directory); KeepWorkDir keeps them.
	WorkDir     string `json:"work_dir,omitempty"`
	KeepWorkDir bool   `json:"keep_work_dir,omitempty"`

	// Progress receives one line per step as the benchmark goes; nil
	// discards them.
	Progress io.Writer `json:"-"`
}

// DefaultOptions is the full benchmark: the ladders with a 60 s
// steady window. It takes from 10 to about 35 minutes, depending on how far
// the ladders climb.
func DefaultOptions() Options {
	return Options{
		Modes:          Modes(),
		GatewayEngine:  "transport",
		SetupRates:     []float64{10, 25, 50, 100, 200, 400},
		SetupDuration:  DefaultSetupDuration,
		MaxConnectP99:  DefaultMaxConnectP99,
		MaxLagP99:      DefaultMaxLagP99,
		AudioLevels:    []int{50, 100, 200, 400, 800, 1600},
		VideoLevels:    []int{50, 100, 200, 400, 800},
		RampRate:       DefaultRampRate,
		Settle:         2 * time.Second,
		Window:         DefaultWindow,
		HoldMargin:     3 * time.Second,
		IdleDuration:   10 * time.Second,
		SampleInterval: DefaultSampleInterval,
		ScrapeInterval: 5 * time.Second,
	}
}

// QuickOptions is a small ladder with short windows, a smoke test of the
// benchmark itself that finishes in about two minutes on two cores; its
// figures are noisier than the full run's.
func QuickOptions() Options {
	o := DefaultOptions()
	o.SetupRates = []float64{25, 50, 100, 200}
	o.SetupDuration = 3 * time.Second
	o.AudioLevels = []int{25, 50}
	o.VideoLevels = []int{10, 25}
	o.Settle = time.Second
	o.Window = 4 * time.Second
	o.HoldMargin = time.Second
	o.IdleDuration = 4 * time.Second
	o.ScrapeInterval = 2 * time.Second
	return o
}

// Validate reports every problem with o.
func (o Options) Validate() error {
	var p problems
	o.checkSubjects(&p)
	o.checkLadders(&p)
	o.checkCriteria(&p)
	o.checkPinning(&p)
	return errors.Join(p...)
}

// problems collects validation errors in the order they are found.
type problems []error

func (p *problems) add(err error) { *p = append(*p, err) }

// bad adds a "bench: "-prefixed error.
func (p *problems) bad(format string, a ...any) { p.add(fmt.Errorf("bench: "+format, a...)) }

// checkSubjects checks what is measured: the loadgen binary and the modes.
func (o Options) checkSubjects(p *problems) {
	if o.Loadgen == "" {
		p.bad("no loadgen binary")
	}
	if len(o.Modes) == 0 {
		p.bad("no mode")
	}
	for _, m := range o.Modes {
		if _, err := ParseMode(string(m)); err != nil {
			p.add(err)
		}
	}
}

// checkLadders checks the setup rates and the steady call counts.
func (o Options) checkLadders(p *problems) {
	if !slices.IsSorted(o.SetupRates) || (len(o.SetupRates) > 0 && o.SetupRates[0] <= 0) {
		p.bad("setup rates must be > 0 and ascending, got %v", o.SetupRates)
	}
	for _, l := range [][]int{o.AudioLevels, o.VideoLevels} {
		if !slices.IsSorted(l) || (len(l) > 0 && l[0] <= 0) {
			p.bad("call counts must be > 0 and ascending, got %v", l)
		}
	}
	if len(o.SetupRates) > 0 && o.SetupDuration <= 0 {
		p.bad("setup duration must be > 0, got %s", o.SetupDuration)
	}
}

// checkCriteria checks the step timings, the pass criteria and the
// sampling intervals.
func (o Options) checkCriteria(p *problems) {
	if o.GatewayEngine != "transport" && o.GatewayEngine != "pion" {
		p.bad("gateway engine must be transport or pion, got %q", o.GatewayEngine)
	}
	if o.SetupHold < 0 || o.Settle < 0 || o.HoldMargin < 0 || o.AnswerDelay < 0 {
		p.bad("setup hold, settle, hold margin and answer delay must be >= 0")
	}
	if o.MaxConnectP99 <= 0 || o.MaxLagP99 <= 0 {
		p.bad("connect and lag criteria must be > 0, got %s and %s", o.MaxConnectP99, o.MaxLagP99)
	}
	if (len(o.AudioLevels) > 0 || len(o.VideoLevels) > 0) && (o.Window <= 0 || o.RampRate <= 0) {
		p.bad("steady window and ramp rate must be > 0, got %s and %g", o.Window, o.RampRate)
	}
	if o.IdleDuration < 500*time.Millisecond {
		p.bad("idle duration must be >= 500ms, got %s", o.IdleDuration)
	}
	if o.SampleInterval < 10*time.Millisecond || o.ScrapeInterval < 100*time.Millisecond {
		p.bad("sample interval must be >= 10ms and scrape interval >= 100ms")
	}
}

// checkPinning checks that the generator and gateway CPUs are both
// automatic, both PinNone, or both valid CPU lists.
func (o Options) checkPinning(p *problems) {
	if (o.GeneratorCPUs == PinAuto) != (o.GatewayCPUs == PinAuto) || (o.GeneratorCPUs == PinNone) != (o.GatewayCPUs == PinNone) {
		p.bad("generator and gateway CPUs must both be automatic, both %q or both CPU lists (got %q and %q)", PinNone, o.GeneratorCPUs, o.GatewayCPUs)
		return
	}
	if o.GeneratorCPUs == PinAuto || o.GeneratorCPUs == PinNone {
		return
	}
	for _, l := range []string{o.GeneratorCPUs, o.GatewayCPUs} {
		if _, err := ParseCPUList(l); err != nil {
			p.add(err)
		}
	}
}

// steadyHold is a steady step's call hold: the ramp, settle, the window
// and the margin.
func (o Options) steadyHold(n int) time.Duration {
	ramp := time.Duration(float64(n) / o.RampRate * float64(time.Second))
	return (ramp + o.Settle + o.Window + o.HoldMargin).Round(time.Millisecond)
}
