package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
)

// sampleResult is a three-mode result with one step per ladder passed and
// the next failed.
func sampleResult() *Result {
	o := QuickOptions()
	o.Loadgen = "/usr/bin/loadgen"
	w := NewWindow(t0, at(3*time.Second))
	pass := func(m Mode, ms, us, kb Float) Pass {
		return Pass{
			Mode: m,
			Idle: &IdleStep{RunInfo: RunInfo{GatewayCPU: 0.01}, Window: w, CPURate: 0.005, RSSKB: 18000, Threads: 6, FDs: 30, Goroutines: NaN()},
			Setup: []SetupStep{
				{RunInfo: RunInfo{Samples: 12, GatewayCPU: 0.2}, Rate: 25, Duration: 3 * time.Second, Calls: Calls{Attempted: 75, Succeeded: 75},
					ConnectP99US: 4700, LagP99US: 1100, Window: w, CPUSeconds: 0.3, IdleCPUSeconds: 0.015, CPUMsPerCall: ms, GeneratorCPU: 0.1, PeakRSSKB: 30000, Pass: true},
				{Rate: 50, CPUSeconds: NaN(), CPUMsPerCall: NaN(), GeneratorCPU: NaN(), PeakRSSKB: NaN(), Reasons: []string{"3 calls failed"}},
			},
			SteadyAudio: []SteadyStep{{N: 25, Hold: 7 * time.Second, Calls: Calls{Attempted: 25, Succeeded: 25},
				Media: metrics.MediaTotals{Calls: 25, PacketsSent: 9000, PacketsReceived: 9000}, UpAt: at(time.Second), FirstEnd: at(8 * time.Second),
				Window: w, Full: true, CPUSeconds: 0.2, Packets: 7500, PacketRate: 2500, CPUUsPerPacket: us, RSSKB: 40000, RSSKBPerCall: kb,
				Goroutines: 512, GoroutinesPerCall: 20, FDs: 80, FDsPerCall: 2, Threads: 6, ThreadsPerCall: 0, Pass: true}},
			SteadyVideo:   []SteadyStep{},
			MaxSetupRate:  25,
			MaxAudioCalls: 25,
		}
	}
	r := &Result{
		Schema:  Schema,
		Machine: Machine{Host: "vm", CPUs: 2, CPUModel: "AMD EPYC", Kernel: "6.1", OS: "linux", Arch: "amd64", GoVersion: "go1.26", Version: "dev", ClockTicks: 100, LoadAvg: "0.5 0.4 0.3", Date: t0},
		Command: []string{"loadgen", "bench", "--quick=true"},
		Options: o,
		Pinning: Pinning{Taskset: "/usr/bin/taskset", GeneratorCPUs: "0", GatewayCPUs: "1", GeneratorCPUCount: 1},
		Started: t0, Finished: at(time.Minute),
		Passes: []Pass{pass(ModeTransport, 1.25, 10, 200), pass(ModeLean, 2.5, 20, 400), pass(ModePionDefaults, 5, 45, 600)},
	}
	r.Comparisons = Compare(r.pass(ModeTransport), r.pass(ModeLean), r.pass(ModePionDefaults))
	return r
}

func TestFloatJSON(t *testing.T) {
	tests := []struct {
		in   Float
		want string
	}{
		{1.5, "1.5"}, {0, "0"}, {NaN(), "null"}, {Float(math.Inf(1)), "null"}, {1e-7, "1e-07"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%g) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
		var back Float
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s) error = %v", b, err)
		}
		if tt.in.Valid() != back.Valid() || (tt.in.Valid() && back != tt.in) {
			t.Errorf("Unmarshal(%s) = %g, want %g", b, back, tt.in)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"x"`), &f); err == nil {
		t.Error(`Unmarshal("x"): no error`)
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	want := sampleResult()
	var buf bytes.Buffer
	if err := want.WriteJSON(&buf); err != nil {
		t.Fatalf("WriteJSON() error = %v", err)
	}
	if !strings.Contains(buf.String(), `"goroutines": null`) {
		t.Errorf("WriteJSON(): an unmeasured figure is not null:\n%s", buf.String())
	}
	got, err := ReadResult(&buf)
	if err != nil {
		t.Fatalf("ReadResult() error = %v", err)
	}
	// NaN != NaN: compare the re-encoded forms.
	var a, b bytes.Buffer
	if err := want.WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	if err := got.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("round trip differs:\nwant %s\ngot  %s", a.String(), b.String())
	}
	if !reflect.DeepEqual(got.Options.AudioLevels, want.Options.AudioLevels) || got.Options.Window != want.Options.Window {
		t.Errorf("round trip options = %+v, want %+v", got.Options, want.Options)
	}
	if _, err := ReadResult(strings.NewReader(`{"schema": "loadgen.bench/v0"}`)); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("ReadResult(old schema) error = %v, want a schema error", err)
	}
	if _, err := ReadResult(strings.NewReader(`{`)); err == nil {
		t.Error("ReadResult(truncated): no error")
	}
}

func TestCompare(t *testing.T) {
	r := sampleResult()
	third := 1.0 / 3
	tests := []struct {
		name                string
		transport, lean, pd *Pass
		// want: transport, lean, pion-defaults, pion-defaults÷lean,
		// transport÷lean, transport÷pion-defaults (NaN: null).
		want map[string][6]float64
		// absent are figures that must not be listed.
		absent []string
	}{
		{name: "three modes", transport: r.pass(ModeTransport), lean: r.pass(ModeLean), pd: r.pass(ModePionDefaults),
			want: map[string][6]float64{
				"setup cpu_ms_per_call @ 25/s":   {1.25, 2.5, 5, 2, 0.5, 0.25},
				"audio cpu_us_per_packet @ 25":   {10, 20, 45, 2.25, 0.5, 10.0 / 45},
				"audio rss_kb_per_call @ 25":     {200, 400, 600, 1.5, 0.5, third},
				"audio goroutines_per_call @ 25": {20, 20, 20, 1, 1, 1},
				"idle rss_kb":                    {18000, 18000, 18000, 1, 1, 1},
			},
			absent: []string{"setup cpu_ms_per_call @ 50/s"}},
		{name: "lean and pion-defaults (results before the transport engine)", lean: r.pass(ModeLean), pd: r.pass(ModePionDefaults),
			want: map[string][6]float64{
				"setup cpu_ms_per_call @ 25/s": {math.NaN(), 2.5, 5, 2, math.NaN(), math.NaN()},
				"audio rss_kb_per_call @ 25":   {math.NaN(), 400, 600, 1.5, math.NaN(), math.NaN()},
			}},
		{name: "transport and pion-defaults", transport: r.pass(ModeTransport), pd: r.pass(ModePionDefaults),
			want: map[string][6]float64{
				"setup cpu_ms_per_call @ 25/s": {1.25, math.NaN(), 5, math.NaN(), math.NaN(), 0.25},
			}},
		{name: "one mode", lean: r.pass(ModeLean), absent: []string{"setup cpu_ms_per_call @ 25/s", "idle rss_kb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]Comparison{}
			for _, c := range Compare(tt.transport, tt.lean, tt.pd) {
				got[c.Figure] = c
			}
			for name, w := range tt.want {
				c, ok := got[name]
				if !ok {
					t.Errorf("Compare(): no %q in %v", name, got)
					continue
				}
				g := [6]Float{c.Transport, c.Lean, c.PionDefaults, c.Ratio, c.TransportVsLean, c.TransportVsPionDefaults}
				for i := range g {
					if math.IsNaN(w[i]) != !g[i].Valid() || (g[i].Valid() && !near(float64(g[i]), w[i])) {
						t.Errorf("Compare() %s = %v, want %v", name, g, w)
						break
					}
				}
			}
			for _, name := range tt.absent {
				if _, ok := got[name]; ok {
					t.Errorf("Compare(): %q is listed", name)
				}
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	r := sampleResult()
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatalf("WriteTable() error = %v", err)
	}
	out := buf.String()
	for _, want := range []string{
		"2 CPUs (AMD EPYC)", "generator on CPUs 0, gateway on CPUs 1 (taskset)",
		"idle generator", "transport:", "lean pion:", "pion-defaults:", "CPU ms/s", "5.00", "call setup", "1.25", "2.50", "5.00",
		"transport÷lean", "transport÷pion-defaults", "pion-defaults÷lean", "0.50x", "0.25x", "2.00x",
		"lean pion: highest rate sustained 25 calls/s", "50/s failed: 3 calls failed",
		"steady audio", "10.00", "20.00", "45.00", "2.25x", "1.50x", "0.33x", "highest concurrency held 25 calls",
		"steady audio+video", "none (the first level failed)",
		"comparison (every figure measured in two modes or more)", "audio cpu_us_per_packet @ 25",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteTable() output lacks %q:\n%s", want, out)
		}
	}
	if err := r.WriteTable(failWriter{}); err == nil {
		t.Error("WriteTable(failing writer): no error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "0", want: []int{0}},
		{in: "0-3", want: []int{0, 1, 2, 3}},
		{in: "0-1,6, 8-9", want: []int{0, 1, 6, 8, 9}},
		{in: "", wantErr: true},
		{in: "a", wantErr: true},
		{in: "3-1", wantErr: true},
		{in: "-1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseCPUList(tt.in)
		if (err != nil) != tt.wantErr || !equalInts(got, tt.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func equalInts(a, b []int) bool { return reflect.DeepEqual(a, b) || (len(a) == 0 && len(b) == 0) }

func TestResolvePinning(t *testing.T) {
	found := func(string) (string, error) { return "/usr/bin/taskset", nil }
	missing := func(string) (string, error) { return "", exec.ErrNotFound }
	tests := []struct {
		name    string
		gen, gw string
		ncpu    int
		look    func(string) (string, error)
		want    Pinning
		wantErr bool
	}{
		{name: "two CPUs", ncpu: 2, look: found,
			want: Pinning{Taskset: "/usr/bin/taskset", GeneratorCPUs: "0", GatewayCPUs: "1", GeneratorCPUCount: 1}},
		{name: "sixteen CPUs", ncpu: 16, look: found,
			want: Pinning{Taskset: "/usr/bin/taskset", GeneratorCPUs: "0-7", GatewayCPUs: "8-15", GeneratorCPUCount: 8}},
		{name: "three CPUs", ncpu: 3, look: found,
			want: Pinning{Taskset: "/usr/bin/taskset", GeneratorCPUs: "0", GatewayCPUs: "1-2", GeneratorCPUCount: 1}},
		{name: "one CPU", ncpu: 1, look: found, want: Pinning{GeneratorCPUCount: 1, Note: "one CPU: processes not pinned"}},
		{name: "no taskset", ncpu: 4, look: missing, want: Pinning{GeneratorCPUCount: 4, Note: "taskset not found: processes not pinned"}},
		{name: "disabled", gen: PinNone, gw: PinNone, ncpu: 4, look: found, want: Pinning{GeneratorCPUCount: 4, Note: "pinning disabled"}},
		{name: "lists", gen: "0-1", gw: "2,3", ncpu: 4, look: found,
			want: Pinning{Taskset: "/usr/bin/taskset", GeneratorCPUs: "0-1", GatewayCPUs: "2,3", GeneratorCPUCount: 2}},
		{name: "lists without taskset", gen: "0", gw: "1", ncpu: 2, look: missing, wantErr: true},
		{name: "bad list", gen: "0", gw: "x", ncpu: 2, look: found, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolvePinning(tt.gen, tt.gw, tt.ncpu, tt.look)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ResolvePinning() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ResolvePinning() = %+v, want %+v", got, tt.want)
			}
		})
	}
	p := Pinning{Taskset: "/usr/bin/taskset"}
	if got := p.wrap("1", []string{"loadgen", "serve"}); strings.Join(got, " ") != "/usr/bin/taskset -c 1 loadgen serve" {
		t.Errorf("wrap() = %q", got)
	}
	if got := (Pinning{}).wrap("1", []string{"loadgen"}); strings.Join(got, " ") != "loadgen" {
		t.Errorf("wrap(not pinned) = %q", got)
	}
}

func TestGatewayCPUCount(t *testing.T) {
	tests := []struct {
		p    Pinning
		want int
	}{
		{Pinning{GatewayCPUs: "1"}, 1},
		{Pinning{GatewayCPUs: "8-15"}, 8},
		{Pinning{GatewayCPUs: "1-2,5"}, 3},
		{Pinning{}, 16}, // not pinned: the machine's
	}
	for _, tt := range tests {
		if got := tt.p.GatewayCPUCount(16); got != tt.want {
			t.Errorf("%+v.GatewayCPUCount(16) = %d, want %d", tt.p, got, tt.want)
		}
	}
}

func TestModes(t *testing.T) {
	tests := []struct {
		name, engine, label string
	}{
		{"transport", "transport", "transport"},
		{"lean", "pion", "lean pion"},
		{"pion-defaults", "pion-defaults", "pion-defaults"},
	}
	for _, tt := range tests {
		m, err := ParseMode(tt.name)
		if err != nil || m.Engine() != tt.engine || m.Label() != tt.label {
			t.Errorf("ParseMode(%q) = %q (engine %q, label %q), %v; want engine %q, label %q", tt.name, m, m.Engine(), m.Label(), err, tt.engine, tt.label)
		}
	}
	if _, err := ParseMode("pion"); err == nil {
		t.Error(`ParseMode("pion"): no error (the lean mode is "lean")`)
	}
	if got := DefaultOptions().Modes; !slices.Equal(got, []Mode{ModeTransport, ModeLean, ModePionDefaults}) {
		t.Errorf("DefaultOptions().Modes = %v, want transport, lean, pion-defaults", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	base := QuickOptions()
	base.Loadgen = "/bin/loadgen"
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{name: "quick", edit: func(*Options) {}},
		{name: "full", edit: func(o *Options) { *o = DefaultOptions(); o.Loadgen = "x" }},
		{name: "no binary", edit: func(o *Options) { o.Loadgen = "" }, wantErr: "no loadgen binary"},
		{name: "bad mode", edit: func(o *Options) { o.Modes = []Mode{"fast"} }, wantErr: `unknown mode "fast"`},
		{name: "rates not ascending", edit: func(o *Options) { o.SetupRates = []float64{50, 25} }, wantErr: "ascending"},
		{name: "zero calls", edit: func(o *Options) { o.AudioLevels = []int{0, 10} }, wantErr: "call counts must be > 0"},
		{name: "no window", edit: func(o *Options) { o.Window = 0 }, wantErr: "steady window"},
		{name: "no window needed without steady ladders", edit: func(o *Options) { o.Window, o.AudioLevels, o.VideoLevels = 0, nil, nil }},
		{name: "short idle", edit: func(o *Options) { o.IdleDuration = time.Millisecond }, wantErr: "idle duration"},
		{name: "half pinned", edit: func(o *Options) { o.GeneratorCPUs = "0" }, wantErr: "must both be"},
		{name: "bad CPU list", edit: func(o *Options) { o.GeneratorCPUs, o.GatewayCPUs = "0", "z" }, wantErr: "bad CPU"},
		{name: "both none", edit: func(o *Options) { o.GeneratorCPUs, o.GatewayCPUs = PinNone, PinNone }},
		{name: "negative hold", edit: func(o *Options) { o.SetupHold = -time.Second }, wantErr: "setup hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.edit(&o)
			err := o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() error = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestSteadyHold(t *testing.T) {
	o := DefaultOptions() // ramp 50/s, settle 2s, window 60s, margin 3s
	if got, want := o.steadyHold(400), 8*time.Second+2*time.Second+60*time.Second+3*time.Second; got != want {
		t.Errorf("steadyHold(400) = %s, want %s", got, want)
	}
}
