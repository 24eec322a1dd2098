package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoak runs the real binary against a separate `loadgen serve` process
// at a steady rate for LOADGEN_SOAK seconds (CI: about 100), and checks
// that neither process leaks: the generator's goroutines, descriptors and
// RSS stay flat from the first steady sample to the last, the gateway's
// return to their baseline once the run ends, and the gateway holds no
// session. Off unless LOADGEN_SOAK is set (it takes minutes).
func TestSoak(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("LOADGEN_SOAK"))
	if secs <= 0 {
		t.Skip("set LOADGEN_SOAK=SECONDS to run the soak test")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	g := startServeProc(t)
	gwBase := g.health(t)
	out := t.TempDir()
	path := writeScenario(t, "name: soak\ntarget: {rest_url: \""+g.url+"\"}\nload: {rate: 10, duration: "+strconv.Itoa(secs)+"s, max_concurrent: 200}\ncall: {hold: 3s, video: true}\nthresholds:\n  failures: [\"count == 0\"]\n")
	cmd, stderr := startRun(t, io.Discard, "--out", out, "--metrics-listen", "127.0.0.1:0", "--progress-interval", "10s", path)
	metricsURL := waitMetricsURL(t, stderr)
	pid := cmd.Process.Pid
	// Steady state: 10 calls/s held 3 s is ~30 calls up. Sample after the
	// ramp-up and again near the end of arrivals.
	steady := time.Duration(min(20, secs/4)) * time.Second
	time.Sleep(steady)
	first := sampleProcess(t, pid, metricsURL)
	time.Sleep(time.Duration(secs)*time.Second - 2*steady)
	last := sampleProcess(t, pid, metricsURL)
	t.Logf("generator: first %+v, last %+v", first, last)
	if code := wait(t, cmd, time.Duration(secs)*time.Second+2*time.Minute, stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// Calls up vary by a few at any instant; each costs a dozen goroutines
	// and a few descriptors, so allow the swing of ~10 calls, no more.
	if d := last.goroutines - first.goroutines; d > 150 {
		t.Errorf("generator goroutines grew from %d to %d", first.goroutines, last.goroutines)
	}
	if d := last.fds - first.fds; d > 40 {
		t.Errorf("generator descriptors grew from %d to %d", first.fds, last.fds)
	}
	if last.rssKB > first.rssKB*3/2+20_000 {
		t.Errorf("generator RSS grew from %d KB to %d KB", first.rssKB, last.rssKB)
	}
	g.waitSessions(t, 0, 10*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		after := g.health(t)
		ok := after.goroutines <= gwBase.goroutines+5 && after.fds <= gwBase.fds+5
		if ok {
			t.Logf("gateway: baseline %+v, after %+v", gwBase, after)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not return to its baseline: before %+v, after %+v", gwBase, after)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if sf := readSummary(t, out); sf.Calls.Failed != 0 || sf.Calls.Succeeded < uint64(secs*9) {
		t.Errorf("summary.json calls %+v", sf.Calls)
	}
}

// health is a process's goroutines, descriptors and RSS.
type health struct {
	goroutines, fds int
	rssKB           int
}

// health reads the gateway's Go and process collectors.
func (g *gatewayProc) health(t *testing.T) health {
	t.Helper()
	return health{
		goroutines: int(g.gauge(t, "go_goroutines")),
		fds:        int(g.gauge(t, "process_open_fds")),
		rssKB:      int(g.gauge(t, "process_resident_memory_bytes") / 1024),
	}
}

// sampleProcess reads the generator's goroutines from its /metrics and
// its descriptors and RSS from /proc.
func sampleProcess(t *testing.T, pid int, metricsURL string) health {
	t.Helper()
	var h health
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			h.goroutines = int(f)
		}
	}
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	h.fds = len(fds)
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			h.rssKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return h
}

// waitMetricsURL waits for the run to print its metrics address.
func waitMetricsURL(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if u, ok := strings.CutPrefix(l, "metrics on "); ok {
				return strings.TrimSpace(u)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the run did not print its metrics address:\n%s", stderr)
	return ""
}
