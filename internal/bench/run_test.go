package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The real benchmark tests build loadgen once into a temporary directory.
var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		if err := os.RemoveAll(buildDir); err != nil {
			fmt.Fprintf(os.Stderr, "bench tests: remove %s: %v\n", buildDir, err)
		}
	}
	os.Exit(code)
}

// loadgenBinary builds ./cmd/loadgen (once) and returns its path.
func loadgenBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real loadgen processes (-short)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "loadgen-bench-test-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "loadgen")
		cmd := exec.Command("go", "build", "-o", buildBin, "../../cmd/loadgen")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = err
			buildBin = out.String()
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/loadgen: %v\n%s", buildErr, buildBin)
	}
	return buildBin
}

// children lists the processes whose parent is this test process.
func children(t *testing.T) []string {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // gone
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 1 && f[1] == self {
			out = append(out, d.Name()+" "+string(data[:i+1]))
		}
	}
	return out
}

// tinyOptions is a one-step ladder of each kind, a few seconds in all.
func tinyOptions(bin string, t *testing.T) Options {
	o := QuickOptions()
	o.Loadgen = bin
	o.Modes = []Mode{ModeLean}
	o.SetupRates = []float64{20}
	o.SetupDuration = 2 * time.Second
	o.AudioLevels = []int{4}
	o.VideoLevels = nil
	o.RampRate = 20
	o.Settle = 300 * time.Millisecond
	o.Window = time.Second
	o.HoldMargin = time.Second
	o.IdleDuration = time.Second
	o.ScrapeInterval = 500 * time.Millisecond
	o.WorkDir = t.TempDir()
	return o
}

func TestRunTinyLadder(t *testing.T) {
	bin := loadgenBinary(t)
	o := tinyOptions(bin, t)
	var progress bytes.Buffer
	o.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, o, Config{Version: "test", Command: []string{"loadgen", "bench"}})
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("Run() left child processes: %q", left)
	}
	if entries, _ := os.ReadDir(o.WorkDir); len(entries) != 0 {
		t.Errorf("Run() left %d entries in the work directory", len(entries))
	}
	if len(res.Passes) != 1 || res.Passes[0].Mode != ModeLean {
		t.Fatalf("Run() passes = %+v, want one lean pass", res.Passes)
	}
	p := res.Passes[0]
	if p.Idle == nil || p.Idle.Error != "" || !p.Idle.RSSKB.Valid() || p.Idle.RSSKB <= 0 || !p.Idle.CPURate.Valid() || !p.Idle.Goroutines.Valid() {
		t.Errorf("idle = %+v, want RSS, CPU and goroutines measured", p.Idle)
	}
	if len(p.Setup) != 1 {
		t.Fatalf("setup steps = %d, want 1", len(p.Setup))
	}
	s := p.Setup[0]
	if s.Error != "" || s.Calls.Attempted != 40 || s.Samples < 4 || !s.CPUSeconds.Valid() || s.CPUSeconds <= 0 || !s.CPUMsPerCall.Valid() {
		t.Errorf("setup step = %+v, want 40 calls with their CPU measured", s)
	}
	if len(p.SteadyAudio) != 1 {
		t.Fatalf("steady audio steps = %d, want 1", len(p.SteadyAudio))
	}
	a := p.SteadyAudio[0]
	if a.Error != "" || a.Calls.Succeeded != 4 || !a.Full || a.Packets <= 0 || !a.CPUUsPerPacket.Valid() ||
		a.RSSKB <= 0 || a.Goroutines <= p.Idle.Goroutines || a.FDs <= p.Idle.FDs {
		t.Errorf("steady step = %+v, want 4 calls up with packets, RSS, goroutines and fds above idle", a)
	}
	if len(p.SteadyVideo) != 0 {
		t.Errorf("steady video steps = %d, want none (no levels)", len(p.SteadyVideo))
	}

	// What Run measured survives JSON and prints.
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(&buf)
	if err != nil {
		t.Fatalf("ReadResult() error = %v", err)
	}
	if back.Passes[0].Setup[0].Calls != s.Calls || back.Pinning != res.Pinning {
		t.Errorf("round trip = %+v, want %+v", back.Passes[0].Setup[0].Calls, s.Calls)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "call setup") || !strings.Contains(table.String(), "steady audio") {
		t.Errorf("WriteTable():\n%s", table.String())
	}
}

func TestRunInterrupted(t *testing.T) {
	bin := loadgenBinary(t)
	o := tinyOptions(bin, t)
	o.IdleDuration = 20 * time.Second // interrupted long before it ends
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = Run(ctx, o, Config{})
	}()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("Run() did not return after its context was cancelled")
	}
	if err == nil || res == nil || !res.Interrupted {
		t.Fatalf("Run() = %+v, %v; want an interrupted result and an error", res, err)
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("Run() left child processes: %q", left)
	}
	if len(res.Passes) != 1 || res.Passes[0].Idle == nil || res.Passes[0].Idle.Error == "" || len(res.Passes[0].Setup) != 0 {
		t.Errorf("interrupted pass = %+v, want the idle step with an error and nothing after it", res.Passes)
	}
}
