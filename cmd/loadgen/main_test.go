package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/metrics/results"
	"github.com/loadgen/loadgen/internal/token"
)

// syncBuffer is a bytes.Buffer safe for the run's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv returns an env writing to buffers, with the given variables.
func testEnv(vars map[string]string) (*env, *syncBuffer, *syncBuffer) {
	var stdout, stderr syncBuffer
	return &env{
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return vars[k] },
	}, &stdout, &stderr
}

// writeScenario writes a scenario file into a temporary directory.
func writeScenario(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runLimit bounds every in-process run.
const runLimit = 60 * time.Second

func TestExitCodes(t *testing.T) {
	bad := writeScenario(t, "load:\n  rate: -1\n  max_calls: 1\n")
	tests := []struct {
		name       string
		args       []string
		vars       map[string]string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{"no command", nil, nil, exitUsage, "Usage:", ""},
		{"unknown command", []string{"fly"}, nil, exitUsage, `unknown command "fly"`, ""},
		{"help", []string{"--help"}, nil, exitOK, "", "99  thresholds crossed"},
		{"command help", []string{"run", "-h"}, nil, exitOK, "", "105 interrupted by SIGINT or SIGTERM"},
		{"validate help lists its codes only", []string{"validate", "-h"}, nil, exitOK, "", "Exit codes:\n  0   ok\n  2   usage error or invalid scenario\n"},
		{"flags after the file", []string{"run", "/nonexistent/x.yaml", "--out", "/tmp/x"}, nil, exitUsage, "no such file", ""},
		{"bad flag after the file", []string{"run", "x.yaml", "--nope"}, nil, exitUsage, "flag provided but not defined: -nope", ""},
		{"log-interval 0", []string{"run", "--log-interval", "0s", "../../scenarios/smoke.yaml"}, nil, exitUsage, "--log-interval must be > 0", ""},
		{"negative grace", []string{"run", "../../scenarios/smoke.yaml", "--grace", "-1s"}, nil, exitUsage, "--grace must be >= 0", ""},
		{"bad shard", []string{"run", "--shard", "3/3", "../../scenarios/smoke.yaml"}, nil, exitUsage, "shard 3/3: want 0 <= I < N", ""},
		{"bad start-at", []string{"run", "--start-at", "noon", "../../scenarios/smoke.yaml"}, nil, exitUsage, "--start-at: want an RFC 3339 instant", ""},
		{"bad rate override", []string{"run", "../../scenarios/smoke.yaml", "--rate", "-3"}, nil, exitUsage, "load.rate: must be >= 0, got -3 (set by --rate)", ""},
		{"bad metrics address", []string{"run", "--metrics-listen", "nohost", "../../scenarios/smoke.yaml"}, nil, exitUsage, "--metrics-listen: want host:port", ""},
		{"bad flag", []string{"run", "--nope", "x.yaml"}, nil, exitUsage, "flag provided but not defined", ""},
		{"run without file", []string{"run"}, nil, exitUsage, "want exactly one scenario file, got 0", ""},
		{"run missing file", []string{"run", "/nonexistent/x.yaml"}, nil, exitUsage, "no such file", ""},
		{"run invalid scenario", []string{"run", bad}, nil, exitUsage, "load.rate: must be >= 0, got -1", ""},
		{"validate invalid", []string{"validate", bad}, nil, exitUsage, bad + ":2: load.rate", ""},
		{"validate shipped", []string{"validate", "../../scenarios/smoke.yaml", "../../scenarios/peak.yaml"}, nil, exitOK, "", "smoke.yaml: ok: "},
		{"tokens no key", []string{"tokens", "--realm", "r", "--account", "a@b.c", "--callee", "c@d.e"}, nil, exitUsage, "no token key: set LOADGEN_TOKEN_KEY", ""},
		{"tokens short key", []string{"tokens", "--realm", "r", "--account", "a@b.c", "--callee", "c@d.e"},
			map[string]string{tokenKeyEnv: "short"}, exitUsage, "token key must be 16 or 32 characters, got 5", ""},
		{"tokens missing realm", []string{"tokens", "--account", "a@b.c", "--callee", "c@d.e"}, nil, exitUsage, "--realm, --account and --callee are required", ""},
		{"tokens bad iv", []string{"tokens", "--realm", "r", "--account", "a@b.c", "--callee", "c@d.e", "--iv", "short"},
			map[string]string{tokenKeyEnv: "0123456789abcdef0123456789abcdef"}, exitUsage, "iv must be 16 characters", ""},
		{"serve realm without key", []string{"serve", "--realm", "r"}, nil, exitUsage, "--realm needs --token-key-env", ""},
		{"serve empty key env", []string{"serve", "--token-key-env", "NOPE", "--realm", "r"}, nil, exitUsage, "NOPE is empty or unset", ""},
		{"report missing", []string{"report", t.TempDir()}, nil, exitFailure, "summary.json", ""},
		{"version", []string{"version"}, nil, exitOK, "", "loadgen dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, stdout, stderr := testEnv(tc.vars)
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			code := runMain(ctx, e, tc.args)
			if code != tc.wantCode {
				t.Errorf("runMain(%q) = %d, want %d\nstderr:\n%s", tc.args, code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("runMain(%q) stderr does not contain %q:\n%s", tc.args, tc.wantStderr, stderr)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("runMain(%q) stdout does not contain %q:\n%s", tc.args, tc.wantStdout, stdout)
			}
		})
	}
}

// TestTokensDecodeInGateway checks that `loadgen tokens` output is what the
// token package (the gateway's validator) decodes back, for both key sizes.
func TestTokensDecodeInGateway(t *testing.T) {
	for _, key := range []string{"0123456789abcdef", "0123456789abcdef0123456789abcdef"} {
		e, stdout, stderr := testEnv(map[string]string{tokenKeyEnv: key})
		code := runMain(t.Context(), e, []string{"tokens", "--realm", "realm-test", "--account", "caller@example.com",
			"--callee", "callee@example.com", "--timestamp", "1700000000000", "--iv", "ABCDEFGHIJKLMNOP"})
		if code != exitOK {
			t.Fatalf("tokens with a %d-character key: exit %d: %s", len(key), code, stderr)
		}
		var set token.Set
		if err := json.Unmarshal([]byte(stdout.String()), &set); err != nil {
			t.Fatalf("tokens output %q: %v", stdout, err)
		}
		if strings.Contains(stdout.String(), key) || strings.Contains(stderr.String(), key) {
			t.Errorf("the key appears in the output")
		}
		for _, c := range []struct{ tok, want string }{
			{set.AccountToken, "caller@example.com"},
			{set.FromToken, "sip:caller@example.com"},
			{set.ToToken, "sip:callee@example.com"},
		} {
			user, ts, err := token.Decode(key, c.tok)
			if err != nil || user != c.want || ts.UnixMilli() != 1700000000000 {
				t.Errorf("Decode(%q) = %q, %d, %v; want %q at 1700000000000", c.tok, user, ts.UnixMilli(), err, c.want)
			}
		}
		if set.Realm != "realm-test" || set.Caller != "sip:caller@example.com" || set.Callee != "sip:callee@example.com" {
			t.Errorf("tokens printed %+v", set)
		}
	}
}

// TestTokensVector reproduces the protocol document's AES-128-ECB vector
// through the command.
func TestTokensVector(t *testing.T) {
	e, stdout, _ := testEnv(map[string]string{tokenKeyEnv: "0123456789abcdef"})
	code := runMain(t.Context(), e, []string{"tokens", "--realm", "realm-test", "--account", "caller@example.com",
		"--callee", "sip:callee@example.com", "--timestamp", "1700000000000"})
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	const want = "ffddb3389787f150ea545e245e560962100f2c9e126e5e1e407b5959a71abcb9377222e061a924c591cd9c27ea163ed4"
	if !strings.Contains(stdout.String(), `"accountToken":"`+want+`"`) {
		t.Errorf("tokens output %s lacks the vector's accountToken %s", stdout, want)
	}
}

// runScenarioFile runs `loadgen run` in-process and returns the exit code,
// stdout and stderr.
func runScenarioFile(t *testing.T, e *env, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	return runMain(ctx, e, append([]string{"run"}, args...))
}

// readSummary parses dir/summary.json.
func readSummary(t *testing.T, dir string) *results.SummaryFile {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sf, err := results.ReadSummaryFile(f)
	if err != nil {
		t.Fatalf("summary.json does not parse: %v", err)
	}
	return sf
}

// TestRunThresholdBreach runs real calls against the embedded gateway with
// a threshold no call can meet: exit 99, the breach listed with its measured
// value, results written.
func TestRunThresholdBreach(t *testing.T) {
	path := writeScenario(t, `
load: {rate: 5, max_calls: 2}
call: {hold: 200ms}
gateway: {answer_delay: 20ms, ringing_delay: 5ms}
thresholds:
  connect: ["p(99) < 1ms"]
  failures: ["count == 0"]
`)
	out := t.TempDir()
	junit, md := filepath.Join(out, "junit.xml"), filepath.Join(out, "summary.md")
	e, stdout, stderr := testEnv(nil)
	if code := runScenarioFile(t, e, path, "--out", out, "--junit", junit, "--summary-md", md); code != exitThresholds {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitThresholds, stdout, stderr)
	}
	// The JUnit file: a case per threshold and one for validity; the
	// crossed threshold is the one failure, with its measured value.
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, data)
	}
	cases, failures := 0, 0
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			cases++
			if c.Failure != nil {
				failures++
				if !strings.Contains(c.Failure.Message, "p(99) < 1ms") || !strings.Contains(c.Failure.Message, "measured") {
					t.Errorf("failure message %q", c.Failure.Message)
				}
			}
		}
	}
	if cases != 3 || failures != 1 {
		t.Errorf("junit.xml has %d cases and %d failures, want 3 (2 thresholds + validity) and 1\n%s", cases, failures, data)
	}
	if md, err := os.ReadFile(md); err != nil || !strings.Contains(string(md), "❌") {
		t.Errorf("summary.md = %q, %v: want the crossed threshold marked", md, err)
	}
	if !regexp.MustCompile(`thresholds crossed: connect: p\(99\) < 1ms: measured [0-9.]+ms: FAILED`).MatchString(stderr.String()) {
		t.Errorf("stderr does not list the crossed threshold with its value:\n%s", stderr)
	}
	sf := readSummary(t, out)
	if sf.Calls.Succeeded != 2 || sf.Calls.Failed != 0 {
		t.Errorf("summary.json calls = %+v, want 2 succeeded", sf.Calls)
	}
	var failed, passed int
	for _, th := range sf.Thresholds {
		if th.OK {
			passed++
		} else {
			failed++
		}
	}
	if failed != 1 || passed != 1 {
		t.Errorf("summary.json thresholds = %+v, want one crossed and one passed", sf.Thresholds)
	}
}

// TestRunInterrupt interrupts a run whose calls hold for a minute: the
// first Ctrl-C ends every call properly (the gateway has no session or
// subscription left) and the results are written.
func TestRunInterrupt(t *testing.T) {
	path := writeScenario(t, `
load: {rate: 20, max_calls: 3, max_concurrent: 10}
call: {hold: 1m, video: true}
gateway: {answer_delay: 10ms, ringing_delay: 5ms}
`)
	out := t.TempDir()
	e, stdout, stderr := testEnv(nil)
	interrupts := make(chan os.Signal, 2)
	e.interrupts = interrupts
	gwc := make(chan *gateway.Gateway, 1)
	e.gatewayStarted = func(g *gateway.Gateway) { gwc <- g }
	var atStop gateway.Stats
	e.gatewayStopping = func(s gateway.Stats) { atStop = s }

	done := make(chan int, 1)
	go func() { done <- runScenarioFile(t, e, "--out", out, path) }()
	var gw *gateway.Gateway
	select {
	case gw = <-gwc:
	case code := <-done:
		t.Fatalf("run ended with %d before starting the gateway: %s", code, stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for gw.Stats().CallsAnswered < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("calls not answered in time: %+v\n%s", gw.Stats(), stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	interrupts <- os.Interrupt
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not end after the interrupt:\n%s", stderr)
	}
	if code != exitInterrupted {
		t.Errorf("exit %d after an interrupt, want %d\nstderr:\n%s", code, exitInterrupted, stderr)
	}
	if atStop.Sessions != 0 || atStop.Subscriptions != 0 || atStop.Sockets != 0 {
		t.Errorf("gateway at the end of the run: %+v, want no session, subscription or socket", atStop)
	}
	sf := readSummary(t, out)
	if sf.Calls.Attempted != 3 || sf.Calls.Aborted != 3 {
		t.Errorf("summary.json calls = %+v, want 3 attempted and aborted", sf.Calls)
	}
	if !strings.Contains(stdout.String(), "run stopped early: interrupted") {
		t.Errorf("summary does not say the run was interrupted:\n%s", stdout)
	}
	calls, err := os.ReadFile(filepath.Join(out, "calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	if len(lines) != 3 {
		t.Fatalf("calls.jsonl has %d lines, want 3", len(lines))
	}
	for _, l := range lines {
		var c results.CallLine
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		if c.Outcome != "aborted" {
			t.Errorf("call %d outcome %q, want aborted", c.Index, c.Outcome)
		}
		if _, ok := c.Phases["end"]; !ok {
			t.Errorf("call %d has no end phase: the DELETE was not answered", c.Index)
		}
	}
}

// TestRunMetricsScrape scrapes /metrics during a real run and checks the
// series against what the run did.
func TestRunMetricsScrape(t *testing.T) {
	path := writeScenario(t, `
name: scrape
load: {rate: 10, max_calls: 3}
call: {hold: 3s}
gateway: {answer_delay: 10ms, ringing_delay: 5ms}
outputs: {histogram_buckets: [0.01, 0.1, 1, 10]}
`)
	e, _, stderr := testEnv(nil)
	done := make(chan int, 1)
	go func() { done <- runScenarioFile(t, e, "--metrics-listen", "127.0.0.1:0", path) }()
	addrRE := regexp.MustCompile(`metrics on (http://[0-9.:]+/metrics)`)
	var url string
	deadline := time.Now().Add(30 * time.Second)
	for url == "" {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no metrics address in stderr:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Scrape while the three calls hold: all started, none finished.
	var fams map[string]*dtoFamily
	for {
		fams = scrape(t, url)
		if gauge(fams, "loadgen_calls_in_progress") == 3 && gauge(fams, "loadgen_calls_up") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never saw 3 calls in progress and up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range []string{"loadgen_call_phase_seconds", "loadgen_calls_dropped_total", "loadgen_scheduler_lag_seconds",
		"loadgen_process_cpu_seconds_total", "loadgen_process_resident_memory_bytes", "loadgen_target_rate_calls_per_second"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Setup phases are recorded when the setup completes: the three calls
	// still holding are in the connect histogram already (scraped again:
	// a scrape reads the gauge of calls up after its snapshot).
	fams = scrape(t, url)
	connects := 0.0
	for _, m := range fams["loadgen_call_phase_seconds"].Metrics {
		if m.Metric["__name__"] == "loadgen_call_phase_seconds_count" && m.Metric["phase"] == "connect" && m.Metric["timing"] == "scheduled" {
			connects = float64(m.Value)
		}
	}
	if connects != 3 {
		t.Errorf("connect histogram counts %v calls while 3 hold, want 3 (recorded at setup)", connects)
	}
	// The scenario's bucket bounds, and only those, on the phase histograms.
	les := map[string]bool{}
	for _, m := range fams["loadgen_call_phase_seconds"].Metrics {
		if le, ok := m.Metric["le"]; ok {
			les[string(le)] = true
		}
	}
	if want := map[string]bool{"0.01": true, "0.1": true, "1": true, "10": true, "+Inf": true}; !maps.Equal(les, want) {
		t.Errorf("phase histogram bounds %v, want the scenario's %v", les, want)
	}
	if v := gauge(fams, "loadgen_target_rate_calls_per_second"); v != 10 && v != 0 {
		t.Errorf("target rate = %v, want 10 (or 0 once arrivals ended)", v)
	}
	if code := <-done; code != exitOK {
		t.Fatalf("run exit %d:\n%s", code, stderr)
	}
}

// dtoFamily is the parsed form of one metric family.
type dtoFamily = struct {
	Name    string
	Metrics []*model.Sample
}

func scrape(t *testing.T, url string) map[string]*dtoFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.SampleDecoder{Dec: expfmt.NewDecoder(resp.Body, expfmt.NewFormat(expfmt.TypeTextPlain)), Opts: &expfmt.DecodeOptions{Timestamp: model.Now()}}
	out := map[string]*dtoFamily{}
	for {
		var v model.Vector
		if err := dec.Decode(&v); err != nil {
			break
		}
		for _, s := range v {
			name := string(s.Metric[model.MetricNameLabel])
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if out[base] == nil {
				out[base] = &dtoFamily{Name: base}
			}
			out[base].Metrics = append(out[base].Metrics, s)
		}
	}
	return out
}

func gauge(fams map[string]*dtoFamily, name string) float64 {
	f := fams[name]
	if f == nil || len(f.Metrics) == 0 {
		return -1
	}
	return float64(f.Metrics[0].Value)
}

// externalGateway starts a gateway (the serve command's) on 127.0.0.1 with
// short delays and f's other settings, closed when the test ends.
func externalGateway(t *testing.T, f gatewayFlags, getenv func(string) string) *gateway.Server {
	t.Helper()
	f.listen, f.ips = "127.0.0.1:0", "127.0.0.1"
	f.answerDelay, f.ringingDelay = 10*time.Millisecond, 5*time.Millisecond
	eg, err := startGateway(f, getenv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eg.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return eg
}

// TestRunExternalTarget points a scenario at a gateway outside the run (the
// way a real gateway is loaded): token mode, with the key handed to both
// through the environment.
func TestRunExternalTarget(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	vars := map[string]string{"GWKEY": key, tokenKeyEnv: key}
	eg := externalGateway(t, gatewayFlags{tokenKeyEnv: "GWKEY", realm: "ext"}, func(k string) string { return vars[k] })
	path := writeScenario(t, `
target: {rest_url: "`+eg.URL()+`"}
mode: token
token: {key_env: `+tokenKeyEnv+`, realm: ext, account: "ext-{n}@example.com"}
load: {rate: 10, max_calls: 3}
call: {hold: 300ms, video: true, callee: "callee-{n}@example.com"}
thresholds:
  failures: ["count == 0"]
  media: ["count == 3"]
`)
	out := t.TempDir()
	e, stdout, stderr := testEnv(vars)
	if code := runScenarioFile(t, e, "--out", out, path); code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stderr.String(), "embedded gateway") {
		t.Errorf("an embedded gateway was started for an external target:\n%s", stderr)
	}
	if st := eg.Gateway().Stats(); st.CallsAnswered != 3 || st.Sessions != 0 || st.Subscriptions != 0 {
		t.Errorf("external gateway after the run: %+v, want 3 answered calls and nothing left", st)
	}
	if sf := readSummary(t, out); sf.Media.PacketsReceived == 0 || sf.Media.PacketsLost != 0 {
		t.Errorf("media: %+v", sf.Media)
	}
}

// TestRunBoundedByDuration: a rate far beyond what the process can issue
// still ends at its duration (plus the calls' hold), and every start due
// before the duration is counted as dropped, not walked one by one.
func TestRunBoundedByDuration(t *testing.T) {
	path := writeScenario(t, `
load: {rate: 1000000000, duration: 1s, max_concurrent: 5}
call: {hold: 100ms}
gateway: {answer_delay: 10ms, ringing_delay: 5ms}
`)
	out := t.TempDir()
	e, _, stderr := testEnv(nil)
	start := time.Now()
	code := runScenarioFile(t, e, "--out", out, path)
	if el := time.Since(start); el > 40*time.Second {
		t.Errorf("the run took %s: the schedule was not bounded by its 1s duration", el)
	}
	sf := readSummary(t, out)
	if sf.Calls.Attempted+sf.Calls.Dropped != 1_000_000_000 || sf.Calls.Attempted != sf.Calls.Succeeded+sf.Calls.Failed+sf.Calls.Aborted {
		t.Errorf("exit %d, calls %+v: want about 1e9 starts, all but a handful dropped\n%s", code, sf.Calls, stderr)
	}
}

// TestRunMetricsLinger: with --metrics-linger, /metrics stays up after the
// run with the final values: nothing in progress, the summary's counts.
func TestRunMetricsLinger(t *testing.T) {
	path := writeScenario(t, `
name: linger
load: {rate: 10, max_calls: 4}
call: {hold: 200ms}
gateway: {answer_delay: 10ms, ringing_delay: 5ms}
`)
	out := t.TempDir()
	e, stdout, stderr := testEnv(nil)
	interrupts := make(chan os.Signal, 1)
	e.interrupts = interrupts
	done := make(chan int, 1)
	go func() {
		done <- runScenarioFile(t, e, path, "--out", out, "--metrics-listen", "127.0.0.1:0", "--metrics-linger", "1m")
	}()
	// The summary is printed when the run is over; /metrics then lingers.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "--metrics-linger") {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not reach its linger:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	url := regexp.MustCompile(`metrics on (http://[0-9.:]+/metrics)`).FindStringSubmatch(stderr.String())[1]
	fams := scrape(t, url)
	if v := gauge(fams, "loadgen_calls_in_progress"); v != 0 {
		t.Errorf("final loadgen_calls_in_progress = %v, want 0", v)
	}
	var total float64
	for _, m := range fams["loadgen_calls_total"].Metrics {
		total += float64(m.Value)
	}
	sf := readSummary(t, out)
	if want := sf.Calls.Succeeded + sf.Calls.Failed + sf.Calls.Aborted; total != float64(want) || want != 4 {
		t.Errorf("final loadgen_calls_total = %v, summary.json %+v", total, sf.Calls)
	}
	if !strings.Contains(stdout.String(), "loadgen summary") {
		t.Errorf("the summary was not printed before the linger")
	}
	interrupts <- os.Interrupt // ends the linger early
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after a linger ended by a signal, want 0 (the run itself was complete)\n%s", code, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the linger did not end on a signal")
	}
}

// TestServeTransport: `serve --media-engine transport` answers calls on
// the transport, from pion callers and from transport callers (a socket
// per call on the gateway's side, so the callers' shared sockets tell the
// calls apart), with media both ways and nothing left afterwards.
func TestServeTransport(t *testing.T) {
	eg := externalGateway(t, gatewayFlags{mediaEngine: "transport"}, func(string) string { return "" })
	for i, engine := range []string{"pion", "transport"} {
		t.Run(engine, func(t *testing.T) {
			path := writeScenario(t, `
target: {rest_url: "`+eg.URL()+`"}
load: {rate: 10, max_calls: 4}
call: {hold: 300ms, video: true, media_engine: `+engine+`}
thresholds:
  failures: ["count == 0"]
  media: ["count == 4"]
`)
			out := t.TempDir()
			e, stdout, stderr := testEnv(nil)
			if code := runScenarioFile(t, e, "--out", out, path); code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if st := eg.Gateway().Stats(); st.CallsAnswered != uint64(4*(i+1)) || st.Sessions != 0 {
				t.Errorf("gateway after the run: %+v, want %d answered calls and no session", st, 4*(i+1))
			}
			if sf := readSummary(t, out); sf.Media.PacketsReceived == 0 || sf.Media.PacketsLost != 0 || sf.Media.UplinkPacketsLost != 0 {
				t.Errorf("media: %+v", sf.Media)
			}
		})
	}
}
