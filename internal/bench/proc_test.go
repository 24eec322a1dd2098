package bench

import (
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	data, err := os.ReadFile("testdata/proc/4242/stat")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    ProcStat
		wantErr string
	}{
		{name: "command with spaces and parentheses", in: string(data),
			want: ProcStat{UTime: 1234, STime: 567, Threads: 9, RSSPages: 12345}},
		{name: "plain", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 100 42 0",
			want: ProcStat{UTime: 7, STime: 3, Threads: 1, RSSPages: 42}},
		{name: "no command", in: "1 init S 0", wantErr: "no command name"},
		{name: "truncated", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 7 3", wantErr: "fields after the command name"},
		{name: "bad utime", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 x 3 0 0 20 0 1 0 5 100 42 0", wantErr: "utime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStat() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStat() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseStat() = %+v, want %+v", got, tt.want)
			}
			if got.CPUTicks() != tt.want.UTime+tt.want.STime {
				t.Errorf("CPUTicks() = %d, want %d", got.CPUTicks(), tt.want.UTime+tt.want.STime)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	file, err := os.ReadFile("testdata/proc/4242/status")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    ProcStatus
		wantErr string
	}{
		{name: "testdata", in: string(file), want: ProcStatus{VmRSSKB: 48278, VmHWMKB: 61084, Threads: 9}},
		{name: "no VmHWM", in: "VmRSS:\t 10 kB\nThreads:\t2\n", want: ProcStatus{VmRSSKB: 10, Threads: 2}},
		{name: "zombie has no VmRSS", in: "Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n", wantErr: "no VmRSS"},
		{name: "bad unit", in: "VmRSS:\t 10 MB\nThreads:\t2\n", wantErr: `unit "MB"`},
		{name: "bad threads", in: "VmRSS:\t 10 kB\nThreads:\tmany\n", wantErr: "Threads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStatus() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStatus() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseStatus() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// auxv builds an auxiliary vector from key/value pairs.
func auxv(pairs ...uint64) []byte {
	b := make([]byte, 0, 8*len(pairs))
	for _, v := range pairs {
		b = binary.NativeEndian.AppendUint64(b, v)
	}
	return b
}

func TestParseAuxvClockTicks(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    int64
		wantErr bool
	}{
		{name: "present", in: auxv(33, 0x7fff, 16, 0xbfebfbff, 6, 4096, 17, 100, 3, 0x400040, 0, 0), want: 100},
		{name: "250 Hz", in: auxv(17, 250, 0, 0), want: 250},
		{name: "after the terminator", in: auxv(6, 4096, 0, 0, 17, 100), wantErr: true},
		{name: "absent", in: auxv(6, 4096, 0, 0), wantErr: true},
		{name: "zero", in: auxv(17, 0, 0, 0), wantErr: true},
		{name: "empty", in: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuxvClockTicks(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAuxvClockTicks() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseAuxvClockTicks() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestProcReaderTestdata(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := ProcReader{Root: "testdata/proc"}.Read(4242, now)
	if err != nil {
		t.Fatalf("Read() error = %v", err)
	}
	want := Sample{T: now, CPUTicks: 1801, RSSKB: 48278, Threads: 9, FDs: 5}
	if got != want {
		t.Errorf("Read() = %+v, want %+v", got, want)
	}
	if _, err := (ProcReader{Root: "testdata/proc"}).Read(4243, now); err == nil {
		t.Error("Read() of a missing process: no error")
	}
}

func TestProcReaderSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	got, err := ProcReader{}.Read(os.Getpid(), time.Now())
	if err != nil {
		t.Fatalf("Read(self) error = %v", err)
	}
	if got.RSSKB <= 0 || got.Threads <= 0 || got.FDs < 3 {
		t.Errorf("Read(self) = %+v, want RSS, threads and at least stdin/out/err", got)
	}
	hz, err := ClockTicks()
	if err != nil || hz <= 0 {
		t.Errorf("ClockTicks() = %d, %v; want a rate", hz, err)
	}
}

func TestCPUModel(t *testing.T) {
	f, err := os.Open("testdata/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := CPUModel(f), "AMD EPYC 7B13 64-Core Processor"; got != want {
		t.Errorf("CPUModel() = %q, want %q", got, want)
	}
	if got := CPUModel(strings.NewReader("processor : 0\n")); got != "" {
		t.Errorf("CPUModel(no model) = %q, want empty", got)
	}
}

func TestParseGoroutines(t *testing.T) {
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseGoroutines(f)
	if err != nil || got != 1015 {
		t.Errorf("ParseGoroutines() = %g, %v; want 1015", got, err)
	}
	if _, err := ParseGoroutines(strings.NewReader("go_threads 6\n")); err == nil {
		t.Error("ParseGoroutines(no go_goroutines): no error")
	}
	if _, err := ParseGoroutines(strings.NewReader("go_goroutines many\n")); err == nil {
		t.Error("ParseGoroutines(bad value): no error")
	}
}
