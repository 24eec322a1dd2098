package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics/results"
)

// These tests run the real binary as a separate process, with real signals,
// pipes and a separate `loadgen serve` process: the behaviour under test is
// the process's (exit codes, SIGPIPE, SIGKILL), which no in-process test
// can show.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds loadgen once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadgen-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "loadgen")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// gatewayProc is a `loadgen serve` process with its metrics.
type gatewayProc struct {
	url, metrics string
	cmd          *exec.Cmd
}

// startServeProc starts `loadgen serve` on loopback and waits for its address.
func startServeProc(t *testing.T, args ...string) *gatewayProc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--answer-delay", "20ms", "--ringing-delay", "10ms", "--media-ips", "127.0.0.1"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Logf("loadgen serve exited after SIGTERM: %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Logf("loadgen serve ignored SIGTERM for 15s; killed: %v", <-done)
		}
	})
	found := make(chan string, 2)
	scan := func(r io.Reader, prefix string) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- u
			}
		}
	}
	go scan(stdout, "gateway listening on ")
	go scan(stderr, "gateway metrics on ")
	for g.url == "" || g.metrics == "" {
		select {
		case u := <-found:
			if strings.HasSuffix(u, "/metrics") {
				g.metrics = u
			} else {
				g.url = u
			}
		case <-time.After(30 * time.Second):
			t.Fatal("loadgen serve did not print its addresses")
		}
	}
	return g
}

// gauge reads one unlabelled gauge of the gateway's /metrics.
func (g *gatewayProc) gauge(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(g.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s not in the gateway's metrics", name)
	return 0
}

// waitSessions waits until the gateway holds want sessions (bounded).
func (g *gatewayProc) waitSessions(t *testing.T, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := g.gauge(t, "loadgen_gateway_sessions_open")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway holds %v sessions, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scenarioAgainst writes a scenario placing calls on g.
func scenarioAgainst(t *testing.T, g *gatewayProc, load, call string) string {
	t.Helper()
	return writeScenario(t, "name: proc\ntarget: {rest_url: \""+g.url+"\"}\nload: "+load+"\ncall: "+call+"\n")
}

// exitStatus returns the process's exit code, or -signal when a signal
// killed it.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1000
}

// callLines counts the complete lines of dir/calls.jsonl, each parsed.
func callLines(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if l == "" {
			continue
		}
		var c results.CallLine
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("calls.jsonl line %d does not parse: %v", n+1, err)
		}
		n++
	}
	return n
}

// startRun starts `loadgen run` with args; its stderr is collected.
func startRun(t *testing.T, stdout io.Writer, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"run"}, args...)...)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// wait waits for cmd (bounded) and returns its exit status.
func wait(t *testing.T, cmd *exec.Cmd, within time.Duration, stderr *syncBuffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitStatus(err)
	case <-time.After(within):
		_ = cmd.Process.Kill()
		t.Fatalf("loadgen run did not end within %s (killed: %v)\nstderr:\n%s", within, <-done, stderr)
		return 0
	}
}

// TestProcessSignals: SIGINT, SIGTERM and a double SIGINT each end a real
// run with exit 105 and parseable results; a single signal leaves the
// gateway with no session.
func TestProcessSignals(t *testing.T) {
	g := startServeProc(t)
	tests := []struct {
		name    string
		signals []syscall.Signal
	}{
		{"SIGINT", []syscall.Signal{syscall.SIGINT}},
		{"SIGTERM", []syscall.Signal{syscall.SIGTERM}},
		{"SIGINT twice", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}},
	}
	// A second signal must find the calls still ending.
	slow := slowDeletes(t, g, 3*time.Second)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			gw := *g
			if len(tc.signals) > 1 {
				gw.url = slow.URL
			}
			path := scenarioAgainst(t, &gw, "{rate: 10, max_calls: 3}", "{hold: 1m}")
			cmd, stderr := startRun(t, io.Discard, "--out", out, path)
			g.waitSessions(t, 3, 30*time.Second)
			for _, sig := range tc.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond) // two distinct deliveries
			}
			if code := wait(t, cmd, 30*time.Second, stderr); code != exitInterrupted {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitInterrupted, stderr)
			}
			sf := readSummary(t, out)
			if sf.Calls.Attempted != 3 {
				t.Errorf("summary.json attempted %d, want 3", sf.Calls.Attempted)
			}
			if len(tc.signals) == 1 {
				g.waitSessions(t, 0, 10*time.Second)
				if n := callLines(t, out); n != 3 {
					t.Errorf("calls.jsonl has %d calls, want 3", n)
				}
			} else if !strings.Contains(stderr.String(), "again: exiting with the results recorded so far") {
				t.Errorf("the second signal's message is missing:\n%s", stderr)
			}
		})
	}
	// The double interrupt left its sessions: let the gateway expire them
	// by ending it (cleanup) rather than wait for the audits to lapse.
}

// slowDeletes is a proxy to g that holds every DELETE for d.
func slowDeletes(t *testing.T, g *gatewayProc, d time.Duration) *httptest.Server {
	t.Helper()
	target, err := url.Parse(g.url)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	return slow
}

// TestProcessHangupFailures: an interrupt whose hang-ups time out (a
// gateway that does not answer DELETE within timeouts.end) reports how many
// sessions may remain on the gateway and why, bounded by timeouts.end.
func TestProcessHangupFailures(t *testing.T) {
	g := startServeProc(t)
	slow := slowDeletes(t, g, 5*time.Second)
	out := t.TempDir()
	path := writeScenario(t, "name: frozen\ntarget: {rest_url: \""+slow.URL+"\"}\nload: {rate: 10, max_calls: 3}\ncall: {hold: 1m, timeouts: {end: 500ms}}\n")
	cmd, stderr := startRun(t, io.Discard, "--out", out, path)
	g.waitSessions(t, 3, 30*time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, cmd, 30*time.Second, stderr); code != exitInterrupted {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitInterrupted, stderr)
	}
	if !strings.Contains(stderr.String(), "3 sessions may remain on the gateway: their DELETE or unsubscribe failed (end the call session:") {
		t.Errorf("stderr does not report the failed hang-ups:\n%s", stderr)
	}
	sf := readSummary(t, out)
	if !strings.Contains(strings.Join(sf.Notes, "\n"), "3 sessions may remain on the gateway") {
		t.Errorf("summary.json notes = %q", sf.Notes)
	}
}

// TestProcessClosedStdout: `loadgen run ... | head -1` exits with the
// run's own code (not 141, SIGPIPE) and every result file is complete.
func TestProcessClosedStdout(t *testing.T) {
	g := startServeProc(t)
	out := t.TempDir()
	path := scenarioAgainst(t, g, "{rate: 10, max_calls: 4}", "{hold: 200ms}")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd, stderr := startRun(t, pw, "--out", out, path)
	pw.Close()
	// head -1: read one line, then close the pipe.
	line, _ := bufio.NewReader(pr).ReadString('\n')
	pr.Close()
	if !strings.Contains(line, "loadgen") {
		t.Errorf("first line %q", line)
	}
	if code := wait(t, cmd, 60*time.Second, stderr); code != exitOK {
		t.Errorf("exit %d, want 0 (SIGPIPE must not end the run)\nstderr:\n%s", code, stderr)
	}
	if sf := readSummary(t, out); sf.Calls.Succeeded != 4 {
		t.Errorf("summary.json: %d succeeded, want 4", sf.Calls.Succeeded)
	}
	if n := callLines(t, out); n != 4 {
		t.Errorf("calls.jsonl has %d calls, want 4", n)
	}
}

// TestProcessNoSuccessFails: a run in which every call failed exits 99
// through the implicit failures threshold, with no threshold of its own.
func TestProcessNoSuccessFails(t *testing.T) {
	out := t.TempDir()
	path := writeScenario(t, "name: refused\ntarget: {rest_url: \"http://127.0.0.1:1\"}\nload: {rate: 20, max_calls: 6}\ncall: {hold: 100ms}\n")
	cmd, stderr := startRun(t, io.Discard, "--out", out, path)
	if code := wait(t, cmd, 60*time.Second, stderr); code != exitThresholds {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitThresholds, stderr)
	}
	sf := readSummary(t, out)
	if sf.Calls.Failed != 6 {
		t.Errorf("summary.json: %d failed, want 6", sf.Calls.Failed)
	}
}

// TestProcessSignalChaos: SIGINT or SIGTERM at random instants across
// repeated short runs; each time the exit code is 105, the results parse
// and the gateway is left with no session.
func TestProcessSignalChaos(t *testing.T) {
	g := startServeProc(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := range 6 {
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[rng.IntN(2)]
		after := time.Duration(200+rng.IntN(1800)) * time.Millisecond
		t.Run(fmt.Sprintf("%d-%v-after-%v", i, sig, after), func(t *testing.T) {
			out := t.TempDir()
			path := scenarioAgainst(t, g, "{rate: 8, duration: 30s}", "{hold: 700ms}")
			cmd, stderr := startRun(t, io.Discard, "--out", out, path)
			time.Sleep(after)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := wait(t, cmd, 30*time.Second, stderr); code != exitInterrupted {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitInterrupted, stderr)
			}
			sf := readSummary(t, out)
			if n := callLines(t, out); uint64(n) != sf.Calls.Succeeded+sf.Calls.Failed+sf.Calls.Aborted {
				t.Errorf("calls.jsonl has %d calls, summary.json %+v", n, sf.Calls)
			}
			g.waitSessions(t, 0, 10*time.Second)
		})
	}
}

// TestProcessKill9: SIGKILL loses at most the last second of calls:
// calls.jsonl is flushed every second and summary.json is rewritten every
// few seconds marked incomplete.
func TestProcessKill9(t *testing.T) {
	g := startServeProc(t)
	out := t.TempDir()
	path := scenarioAgainst(t, g, "{rate: 5, duration: 60s}", "{hold: 200ms}")
	cmd, stderr := startRun(t, io.Discard, "--out", out, path)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Wait for a partial summary and some calls, then kill.
	for {
		if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil && callLinesQuiet(out) >= 5 {
			break
		}
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			t.Fatalf("no partial results after 30 s\nstderr:\n%s", stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, cmd, 10*time.Second, stderr); code != -int(syscall.SIGKILL) {
		t.Errorf("exit %d, want killed by SIGKILL", code)
	}
	sf := readSummary(t, out)
	if sf.Complete {
		t.Errorf("a killed run's summary.json says complete")
	}
	if n := callLines(t, out); n < 5 {
		t.Errorf("calls.jsonl has %d calls after the kill, want >= 5", n)
	}
}

// callLinesQuiet counts calls.jsonl's newline-terminated lines.
func callLinesQuiet(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, "calls.jsonl"))
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "\n")
}
