package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// Config is what Run needs besides the options: the description of the
// run that only the caller knows.
type Config struct {
	// Version is loadgen's version, recorded in the result.
	Version string
	// Command is the command line, recorded in the result.
	Command []string
}

// Run runs the benchmark: for each mode, the idle generator, then the setup
// ladder and the two steady ladders. It returns the result so far with
// Interrupted set, and ctx's error, when ctx ends part way; every child
// process has been stopped and reaped when it returns.
func Run(ctx context.Context, o Options, cfg Config) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	hz, hzErr := ClockTicks() // falls back to DefaultClockTicks
	pin, err := ResolvePinning(o.GeneratorCPUs, o.GatewayCPUs, runtime.NumCPU(), exec.LookPath)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.WorkDir, "loadgen-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: work directory: %w", err)
	}
	b := &bencher{o: o, hz: hz, pin: pin, work: work, progress: o.Progress, client: &http.Client{Timeout: 2 * time.Second}}
	if b.progress == nil {
		b.progress = io.Discard
	}
	if !o.KeepWorkDir {
		defer func() {
			// A leftover directory does not change the measurements: say so, but keep the result.
			if err := os.RemoveAll(work); err != nil {
				b.logf("remove work directory: %v", err)
			}
		}()
	}
	res := &Result{
		Schema:  Schema,
		Machine: DescribeMachine(cfg.Version, hz, time.Now()),
		Command: cfg.Command,
		Options: o,
		Pinning: pin,
		Started: time.Now().UTC(),
		Passes:  []Pass{},
	}
	if hzErr != nil {
		b.logf("clock ticks: %v (using %d)", hzErr, hz)
	}
	if o.KeepWorkDir {
		b.logf("step directories kept in %s", work)
	}
	for _, m := range o.Modes {
		if ctx.Err() != nil {
			break
		}
		res.Passes = append(res.Passes, b.pass(ctx, m))
	}
	res.Finished = time.Now().UTC()
	res.Comparisons = Compare(res.pass(ModeTransport), res.pass(ModeLean), res.pass(ModePionDefaults))
	if ctx.Err() != nil {
		res.Interrupted = true
		return res, fmt.Errorf("bench: %w", ctx.Err())
	}
	return res, nil
}

// bencher runs the steps of one benchmark.
type bencher struct {
	o        Options
	hz       int64
	pin      Pinning
	work     string
	progress io.Writer
	client   *http.Client
	steps    int
}

func (b *bencher) logf(format string, a ...any) {
	// Progress lines are best effort: a failed write must not stop the bench.
	_, _ = fmt.Fprintf(b.progress, "bench: "+format+"\n", a...)
}

// pass runs every ladder in mode m.
func (b *bencher) pass(ctx context.Context, m Mode) Pass {
	p := Pass{Mode: m, Setup: []SetupStep{}, SteadyAudio: []SteadyStep{}, SteadyVideo: []SteadyStep{}}
	idle := b.idle(ctx, m)
	p.Idle = &idle
	b.logf("%s idle: cpu %.1f ms/s, rss %.1f MB, %.0f goroutines, %.0f fds, %.0f threads%s",
		m, 1000*float64(idle.CPURate), float64(idle.RSSKB)/1024, float64(idle.Goroutines), float64(idle.FDs), float64(idle.Threads), errSuffix(idle.Error))
	p.Setup = Climb(ctx, b.o.SetupRates, func(ctx context.Context, rate float64) (SetupStep, bool) {
		s := b.setup(ctx, m, rate, p.Idle)
		b.logf("%s setup %g/s: %d calls, %.2f ms CPU/call, connect p99 %s, lag p99 %s, generator %.0f%% of a CPU: %s",
			m, rate, s.Calls.Attempted, float64(s.CPUMsPerCall), usText(s.ConnectP99US), usText(s.LagP99US), 100*float64(s.GeneratorCPU), verdict(s.Pass, s.Reasons))
		return s, s.Pass
	})
	steadyLadder := func(levels []int, video bool) []SteadyStep {
		return Climb(ctx, levels, func(ctx context.Context, n int) (SteadyStep, bool) {
			s := b.steady(ctx, m, n, video, p.Idle)
			b.logf("%s steady %s %d calls: %.0f packets/s, %.2f µs CPU/packet, %.1f KB RSS/call, %.1f goroutines/call, %.1f fds/call: %s",
				m, kindName(video), n, float64(s.PacketRate), float64(s.CPUUsPerPacket), float64(s.RSSKBPerCall),
				float64(s.GoroutinesPerCall), float64(s.FDsPerCall), verdict(s.Pass, s.Reasons))
			return s, s.Pass
		})
	}
	p.SteadyAudio = steadyLadder(b.o.AudioLevels, false)
	p.SteadyVideo = steadyLadder(b.o.VideoLevels, true)
	p.MaxSetupRate = MaxSetupRate(p.Setup)
	p.MaxAudioCalls = MaxSteadyCalls(p.SteadyAudio)
	p.MaxVideoCalls = MaxSteadyCalls(p.SteadyVideo)
	p.SetupGatewayBoundAt = SetupGatewayBound(p.Setup)
	p.AudioGatewayBoundAt = SteadyGatewayBound(p.SteadyAudio)
	p.VideoGatewayBoundAt = SteadyGatewayBound(p.SteadyVideo)
	return p
}

func kindName(video bool) string {
	if video {
		return "audio+video"
	}
	return "audio"
}

func verdict(pass bool, reasons []string) string {
	if pass {
		return "pass"
	}
	return "FAIL (" + strings.Join(reasons, "; ") + ")"
}

// joinText joins two error texts with "; ", either possibly empty.
func joinText(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (" + e + ")"
}

// Scenario texts. Each step's scenario targets the step's own gateway; the
// YAML keys are internal/scenario's.
const (
	// idleScenario keeps the rate at 0 for the idle time, then ends with
	// a ramp too short to start a call: the generator is up with no call.
	idleScenario = `name: bench-idle
target: {rest_url: %q}
load:
  stages: [{duration: %s, target: 0}, {duration: 1ms, target: 0.001}]
  max_calls: 1
call: {hold: 0s, audio: true, video: false}
`
	setupScenario = `name: bench-setup
target: {rest_url: %q}
load: {rate: %g, duration: %s, max_concurrent: %d}
call: {hold: %s, audio: true, video: false}
`
	// steadyScenario brings N calls up at the ramp rate (open model,
	// max_calls N) rather than all at once (closed model): a burst of N
	// setups would measure setup under overload, not steady state.
	steadyScenario = `name: bench-steady
target: {rest_url: %q}
load: {rate: %g, max_calls: %d, max_concurrent: %d}
call: {hold: %s, audio: true, video: %t}
`
)

// generatorRun is what one generator child left: its samples and its
// result files.
type generatorRun struct {
	samples   []Sample // the generator
	gwSamples []Sample // the gateway, at the same instants
	scrapes   []Scrape
	summary   *results.SummaryFile
	calls     []results.CallLine
	exitCode  int
	elapsed   time.Duration
	err       error
}

// run fills the common part of a step from a generator run.
func (g *generatorRun) run() RunInfo {
	r := RunInfo{ExitCode: g.exitCode, Elapsed: g.elapsed.Seconds(), Samples: len(g.samples), Scrapes: len(g.scrapes), GatewayCPU: NaN()}
	if g.err != nil {
		r.Error = strings.ReplaceAll(g.err.Error(), "\n", "; ")
	}
	return r
}

// stepRun describes one generator child.
type stepRun struct {
	name     string
	mode     Mode
	scenario func(url string) string
	grace    time.Duration // the generator's --grace
	timeout  time.Duration // how long it may run before it is stopped
	scrape   bool          // scrape go_goroutines from /metrics
	// scrapeAfter delays the first scrape from the generator's start: a
	// scrape costs the generator about 3 ms of CPU, so none is taken where
	// that would distort a CPU figure (the idle window, the ramp).
	scrapeAfter time.Duration
	calls       bool // read calls.jsonl
}

// runGenerator starts a gateway, runs one generator child against it while
// sampling both, stops the gateway, and reads the generator's results.
func (b *bencher) runGenerator(ctx context.Context, sr stepRun) (g generatorRun) {
	start := time.Now()
	defer func() { g.elapsed = time.Since(start) }()
	g.exitCode = -1
	b.steps++
	dir := filepath.Join(b.work, fmt.Sprintf("%02d-%s-%s", b.steps, sr.mode, sr.name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		g.err = fmt.Errorf("bench: step directory: %w", err)
		return g
	}
	gw, url, err := b.startGateway(ctx, dir)
	if err != nil {
		g.err = err
		return g
	}
	defer gw.stop(syscall.SIGTERM, 15*time.Second)

	scenarioPath := filepath.Join(dir, "scenario.yaml")
	if err := os.WriteFile(scenarioPath, []byte(sr.scenario(url)), 0o644); err != nil {
		g.err = fmt.Errorf("bench: write scenario: %w", err)
		return g
	}
	outDir := filepath.Join(dir, "out")
	argv := []string{b.o.Loadgen, "run", "--out", outDir, "--metrics-listen", "127.0.0.1:0", "--grace", sr.grace.String(),
		"--media-engine", sr.mode.Engine()}
	argv = b.pin.wrap(b.pin.GeneratorCPUs, append(argv, scenarioPath))
	stdout, err := os.Create(filepath.Join(dir, "stdout.txt"))
	if err != nil {
		g.err = fmt.Errorf("bench: %w", err)
		return g
	}
	// The child writes through its own descriptor; closing ours reports nothing about that output.
	defer func() { _ = stdout.Close() }()
	metricsURL := make(chan string, 1)
	stderr := newLineWriter(8, func(line string) {
		if u, ok := strings.CutPrefix(line, "metrics on "); ok {
			select {
			case metricsURL <- strings.TrimSpace(u):
			default:
			}
		}
	})
	gen, err := startChild(argv, dir, stdout, stderr)
	if err != nil {
		g.err = err
		return g
	}
	defer gen.stop(syscall.SIGKILL, 5*time.Second) // normally exited already

	// The sampler and the scraper are owned here: cancelled and waited
	// for before the results are read.
	sctx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { g.samples, g.gwSamples = b.sample(sctx, gen.pid(), gw.pid()) })
	if sr.scrape {
		wg.Go(func() { g.scrapes = b.scrape(sctx, metricsURL, start.Add(sr.scrapeAfter)) })
	}
	waitErr := gen.waitExit(ctx, sr.timeout, 20*time.Second)
	stopSampling()
	wg.Wait()
	g.exitCode = gen.exitCode()
	if waitErr != nil {
		g.err = waitErr
	} else if g.exitCode != 0 {
		g.err = fmt.Errorf("bench: generator exited with status %d: %s", g.exitCode, stderr.Tail())
	}
	if b.o.KeepWorkDir {
		g.err = errors.Join(g.err, writeSamples(filepath.Join(dir, "samples.json"), &g))
	}
	f, err := os.Open(filepath.Join(outDir, results.SummaryFileName))
	if err != nil {
		g.err = errors.Join(g.err, fmt.Errorf("bench: no summary.json: %w", err))
		return g
	}
	defer func() { _ = f.Close() }() // read only
	if g.summary, err = results.ReadSummaryFile(f); err != nil {
		g.err = errors.Join(g.err, err)
		return g
	}
	if sr.calls {
		if g.calls, err = readCalls(filepath.Join(outDir, results.CallsFileName)); err != nil {
			g.err = errors.Join(g.err, err)
		}
	}
	return g
}

// writeSamples keeps a step's readings beside its results (--keep).
func writeSamples(path string, g *generatorRun) error {
	data, err := json.MarshalIndent(struct {
		Generator []Sample `json:"generator"`
		Gateway   []Sample `json:"gateway"`
		Scrapes   []Scrape `json:"scrapes"`
	}{g.samples, g.gwSamples, g.scrapes}, "", " ")
	if err != nil {
		return fmt.Errorf("bench: samples: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("bench: samples: %w", err)
	}
	return nil
}

// startGateway starts `loadgen serve` on a free loopback port and returns
// it with its URL.
func (b *bencher) startGateway(ctx context.Context, dir string) (*child, string, error) {
	urlc := make(chan string, 1)
	stdout := newLineWriter(0, func(line string) {
		if u, ok := strings.CutPrefix(line, "gateway listening on "); ok {
			select {
			case urlc <- strings.TrimSpace(u):
			default:
			}
		}
	})
	stderr := newLineWriter(8, nil)
	argv := b.pin.wrap(b.pin.GatewayCPUs, []string{b.o.Loadgen, "serve", "--listen", "127.0.0.1:0",
		"--answer-delay", b.o.AnswerDelay.String(), "--ringing-delay", "0s", "--media-engine", b.o.GatewayEngine})
	gw, err := startChild(argv, dir, stdout, stderr)
	if err != nil {
		return nil, "", err
	}
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case u := <-urlc:
		return gw, u, nil
	case <-gw.done:
		return nil, "", fmt.Errorf("bench: the gateway exited with status %d: %s", gw.exitCode(), stderr.Tail())
	case <-t.C:
		gw.stop(syscall.SIGKILL, 5*time.Second)
		return nil, "", fmt.Errorf("bench: the gateway did not start within 15s: %s", stderr.Tail())
	case <-ctx.Done():
		gw.stop(syscall.SIGKILL, 5*time.Second)
		return nil, "", fmt.Errorf("bench: interrupted: %w", ctx.Err())
	}
}

// sample reads both processes every SampleInterval until ctx ends. A read
// that fails (the process is starting or gone) is skipped.
func (b *bencher) sample(ctx context.Context, gen, gw int) (genS, gwS []Sample) {
	var pr ProcReader
	t := time.NewTicker(b.o.SampleInterval)
	defer t.Stop()
	for {
		now := time.Now()
		if s, err := pr.Read(gen, now); err == nil {
			genS = append(genS, s)
		}
		if s, err := pr.Read(gw, now); err == nil {
			gwS = append(gwS, s)
		}
		select {
		case <-ctx.Done():
			return genS, gwS
		case <-t.C:
		}
	}
}

// scrape reads go_goroutines from the generator's /metrics every
// ScrapeInterval from notBefore on, once the generator has said where it
// serves them.
func (b *bencher) scrape(ctx context.Context, urlc <-chan string, notBefore time.Time) []Scrape {
	var url string
	select {
	case url = <-urlc:
	case <-ctx.Done():
		return nil
	}
	if d := time.Until(notBefore); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
	var out []Scrape
	t := time.NewTicker(b.o.ScrapeInterval)
	defer t.Stop()
	for {
		if n, err := scrapeGoroutines(ctx, b.client, url); err == nil {
			out = append(out, Scrape{T: time.Now(), Goroutines: n})
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// scrapeGoroutines fetches url and returns its go_goroutines value.
func scrapeGoroutines(ctx context.Context, c *http.Client, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: scrape: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bench: scrape: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read below; closing only releases the connection
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: scrape: status %s", resp.Status)
	}
	return ParseGoroutines(resp.Body)
}

// ParseGoroutines finds the go_goroutines sample in Prometheus text
// exposition.
func ParseGoroutines(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "go_goroutines ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("bench: go_goroutines %q: %w", v, err)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: scrape: %w", err)
	}
	return 0, errors.New("bench: no go_goroutines in the scrape")
}

// readCalls reads calls.jsonl.
func readCalls(path string) ([]results.CallLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	return ParseCalls(f)
}

// ParseCalls decodes calls.jsonl.
func ParseCalls(r io.Reader) ([]results.CallLine, error) {
	var out []results.CallLine
	dec := json.NewDecoder(r)
	for {
		var c results.CallLine
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("bench: calls.jsonl line %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
}

// sampleSlack is how far outside the sampled span a window end may fall.
func (b *bencher) sampleSlack() time.Duration { return 2 * b.o.SampleInterval }

// windowCPU is a process's CPU seconds in w, NaN when unmeasurable.
func (b *bencher) windowCPU(samples []Sample, w Window) Float {
	v, err := WindowCPU(samples, w, b.hz, b.sampleSlack())
	if err != nil {
		return NaN()
	}
	return Float(v)
}

func rss(s Sample) float64     { return float64(s.RSSKB) }
func threads(s Sample) float64 { return float64(s.Threads) }
func fds(s Sample) float64     { return float64(s.FDs) }

// idle measures the generator with no call: its CPU over IdleDuration
// (after start-up settles), with no scrape in that window, and its
// goroutines from scrapes taken just after it.
func (b *bencher) idle(ctx context.Context, m Mode) IdleStep {
	const skip = time.Second                           // start-up settles
	tail := b.o.ScrapeInterval + 1500*time.Millisecond // two scrapes
	stage := skip + b.o.IdleDuration + tail
	g := b.runGenerator(ctx, stepRun{
		name: "idle", mode: m,
		scenario:    func(url string) string { return fmt.Sprintf(idleScenario, url, stage) },
		grace:       5 * time.Second,
		timeout:     stage + 30*time.Second,
		scrape:      true,
		scrapeAfter: skip + b.o.IdleDuration + 500*time.Millisecond,
	})
	s := IdleStep{RunInfo: g.run(), CPURate: NaN(), RSSKB: NaN(), Threads: NaN(), FDs: NaN(), Goroutines: NaN()}
	if g.summary == nil {
		return s
	}
	from := g.summary.Start.Add(skip)
	s.Window = NewWindow(from, from.Add(b.o.IdleDuration))
	s.CPURate = Float(perUnit(float64(b.windowCPU(g.samples, s.Window)), 0, s.Window.Seconds))
	s.RSSKB = Float(WindowMedian(g.samples, s.Window, rss))
	s.Threads = Float(WindowMedian(g.samples, s.Window, threads))
	s.FDs = Float(WindowMedian(g.samples, s.Window, fds))
	all := NewWindow(g.summary.Start, g.summary.End)
	s.Goroutines = Float(ScrapeMedian(g.scrapes, all))
	s.GatewayCPU = Float(perUnit(float64(b.windowCPU(g.gwSamples, s.Window)), 0, s.Window.Seconds))
	return s
}

// setup runs one step of the setup ladder.
func (b *bencher) setup(ctx context.Context, m Mode, rate float64, idle *IdleStep) SetupStep {
	const grace = 10 * time.Second
	maxConcurrent := max(1000, int(math.Ceil(rate*10)))
	g := b.runGenerator(ctx, stepRun{
		name: fmt.Sprintf("setup-%g", rate), mode: m,
		scenario: func(url string) string {
			return fmt.Sprintf(setupScenario, url, rate, b.o.SetupDuration, maxConcurrent, b.o.SetupHold)
		},
		grace:   grace,
		timeout: b.o.SetupDuration + b.o.SetupHold + grace + 30*time.Second,
	})
	s := SetupStep{RunInfo: g.run(), Rate: rate, Duration: b.o.SetupDuration, Hold: b.o.SetupHold,
		CPUSeconds: NaN(), PeakRSSKB: NaN()}
	if sf := g.summary; sf != nil {
		s.Calls = callsOf(sf)
		s.Achieved = sf.Rate.Achieved
		s.LagP99US = sf.Lag.P99
		for _, ph := range sf.Phases {
			switch ph.Phase {
			case metrics.PhaseConnect.String():
				s.ConnectP99US = ph.Scheduled.P99
			case metrics.PhaseMedia.String():
				s.MediaP99US = ph.Scheduled.P99
			}
		}
		s.Window = NewWindow(sf.Start, sf.End)
		s.CPUSeconds = b.windowCPU(g.samples, s.Window)
		s.PeakRSSKB = Float(WindowMax(g.samples, s.Window, rss))
		s.GatewayCPU = Float(perUnit(float64(b.windowCPU(g.gwSamples, s.Window)), 0, s.Window.Seconds))
	}
	DeriveSetup(&s, idle)
	JudgeSetup(&s, SetupCriteria{MaxConnectP99: b.o.MaxConnectP99, MaxLagP99: b.o.MaxLagP99})
	MarkSetupGatewayBound(&s, b.pin.GatewayCPUCount(runtime.NumCPU()))
	return s
}

// steady runs one step of a steady ladder.
func (b *bencher) steady(ctx context.Context, m Mode, n int, video bool, idle *IdleStep) SteadyStep {
	hold := b.o.steadyHold(n)
	ramp := time.Duration(float64(n) / b.o.RampRate * float64(time.Second))
	grace := hold + 20*time.Second // calls end on their own after hold
	g := b.runGenerator(ctx, stepRun{
		name: fmt.Sprintf("steady-%s-%d", kindName(video), n), mode: m,
		scenario: func(url string) string {
			return fmt.Sprintf(steadyScenario, url, b.o.RampRate, n, n, hold, video)
		},
		grace:   grace,
		timeout: ramp + grace + 30*time.Second,
		scrape:  true,
		// After the planned window, before the first call ends: a
		// scrape's garbage would show in the window's RSS.
		scrapeAfter: ramp + b.o.Settle + b.o.Window + b.o.HoldMargin/2,
		calls:       true,
	})
	s := SteadyStep{RunInfo: g.run(), N: n, Video: video, Hold: hold, RampRate: b.o.RampRate,
		CPUSeconds: NaN(), Packets: NaN(), RSSKB: NaN(), Goroutines: NaN(), FDs: NaN(), Threads: NaN()}
	if g.summary != nil {
		s.Calls = callsOf(g.summary)
		s.Media = g.summary.Media.MediaTotals
	}
	if g.summary != nil && len(g.calls) > 0 {
		up, end, err := AllUp(g.calls)
		if err != nil {
			s.Error = joinText(s.Error, err.Error())
		} else {
			s.UpAt, s.FirstEnd = up, end
			s.Window, s.Full = SteadyWindow(up, end, b.o.Settle, b.o.Window)
			if s.Window.Seconds > 0 {
				s.CPUSeconds = b.windowCPU(g.samples, s.Window)
				s.Packets = Float(PacketsInWindow(g.calls, s.Window))
				s.LateWritesInWindow = LateWritesInWindow(g.calls, s.Window)
				s.RSSKB = Float(WindowMedian(g.samples, s.Window, rss))
				s.FDs = Float(WindowMedian(g.samples, s.Window, fds))
				s.Threads = Float(WindowMedian(g.samples, s.Window, threads))
				s.Goroutines = Float(ScrapeMedian(g.scrapes, NewWindow(up, end)))
				s.GatewayCPU = Float(perUnit(float64(b.windowCPU(g.gwSamples, s.Window)), 0, s.Window.Seconds))
			}
		}
	}
	if sf := g.summary; sf != nil && !s.GatewayCPU.Valid() {
		// No steady window (calls failed on the way up): the gateway's
		// CPU over the run still says whether it was the bottleneck.
		all := NewWindow(sf.Start, sf.End)
		s.GatewayCPU = Float(perUnit(float64(b.windowCPU(g.gwSamples, all)), 0, all.Seconds))
	}
	DeriveSteady(&s, idle)
	JudgeSteady(&s)
	MarkSteadyGatewayBound(&s, b.pin.GatewayCPUCount(runtime.NumCPU()))
	return s
}
