package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultClockTicks is USER_HZ on every mainstream Linux build; ClockTicks
// falls back to it when the auxiliary vector cannot be read.
const DefaultClockTicks = 100

// atClkTck is the auxiliary-vector key of the clock-tick rate (AT_CLKTCK in
// <elf.h>), the value sysconf(_SC_CLK_TCK) and `getconf CLK_TCK` report.
const atClkTck = 17

// ProcStat is what the benchmark reads from /proc/<pid>/stat.
type ProcStat struct {
	// UTime and STime are the user and system CPU time in clock ticks.
	UTime, STime uint64
	// Threads is num_threads.
	Threads int
	// RSSPages is the resident set in pages.
	RSSPages int64
}

// CPUTicks is UTime + STime.
func (s ProcStat) CPUTicks() uint64 { return s.UTime + s.STime }

// ParseStat parses the content of /proc/<pid>/stat. The command name (field
// 2) is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')' (proc(5)).
func ParseStat(data []byte) (ProcStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ProcStat{}, errors.New("bench: /proc stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field k is f[k-3].
	const (
		utime   = 14 - 3
		stime   = 15 - 3
		threads = 20 - 3
		rss     = 24 - 3
	)
	if len(f) <= rss {
		return ProcStat{}, fmt.Errorf("bench: /proc stat: %d fields after the command name, want at least %d", len(f), rss+1)
	}
	var s ProcStat
	var err error
	if s.UTime, err = strconv.ParseUint(f[utime], 10, 64); err != nil {
		return ProcStat{}, fmt.Errorf("bench: /proc stat: utime: %w", err)
	}
	if s.STime, err = strconv.ParseUint(f[stime], 10, 64); err != nil {
		return ProcStat{}, fmt.Errorf("bench: /proc stat: stime: %w", err)
	}
	if s.Threads, err = strconv.Atoi(f[threads]); err != nil {
		return ProcStat{}, fmt.Errorf("bench: /proc stat: num_threads: %w", err)
	}
	if s.RSSPages, err = strconv.ParseInt(f[rss], 10, 64); err != nil {
		return ProcStat{}, fmt.Errorf("bench: /proc stat: rss: %w", err)
	}
	return s, nil
}

// ProcStatus is what the benchmark reads from /proc/<pid>/status.
type ProcStatus struct {
	// VmRSSKB and VmHWMKB are the resident set and its peak, in KiB.
	VmRSSKB, VmHWMKB int64
	// Threads is the number of threads.
	Threads int
}

// ParseStatus parses the content of /proc/<pid>/status. VmRSS is required
// (a zombie has none, which is an error here); VmHWM is optional.
func ParseStatus(r io.Reader) (ProcStatus, error) {
	var s ProcStatus
	var haveRSS, haveThreads bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "VmRSS":
			s.VmRSSKB, err = parseKB(val)
			haveRSS = err == nil
		case "VmHWM":
			s.VmHWMKB, err = parseKB(val)
		case "Threads":
			s.Threads, err = strconv.Atoi(val)
			haveThreads = err == nil
		default:
			continue
		}
		if err != nil {
			return ProcStatus{}, fmt.Errorf("bench: /proc status: %s: %w", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return ProcStatus{}, fmt.Errorf("bench: /proc status: %w", err)
	}
	if !haveRSS || !haveThreads {
		return ProcStatus{}, errors.New("bench: /proc status: no VmRSS or Threads line (process gone?)")
	}
	return s, nil
}

// parseKB parses "18296 kB".
func parseKB(v string) (int64, error) {
	num, unit, _ := strings.Cut(v, " ")
	if u := strings.TrimSpace(unit); u != "kB" {
		return 0, fmt.Errorf("unit %q, want kB", u)
	}
	return strconv.ParseInt(num, 10, 64)
}

// ParseAuxvClockTicks finds AT_CLKTCK in the content of /proc/self/auxv
// (pairs of native-endian machine words; this reads 64-bit words, the layout
// of every 64-bit Linux).
func ParseAuxvClockTicks(auxv []byte) (int64, error) {
	for i := 0; i+16 <= len(auxv); i += 16 {
		key := binary.NativeEndian.Uint64(auxv[i:])
		val := binary.NativeEndian.Uint64(auxv[i+8:])
		if key == 0 {
			break
		}
		if key == atClkTck && val > 0 && val < 1<<20 {
			return int64(val), nil
		}
	}
	return 0, errors.New("bench: auxv: no AT_CLKTCK")
}

// ClockTicks returns the clock-tick rate of /proc's CPU times (what
// `getconf CLK_TCK` prints), read from the auxiliary vector, or
// DefaultClockTicks with the reason it could not be read.
func ClockTicks() (int64, error) {
	data, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return DefaultClockTicks, fmt.Errorf("bench: clock ticks: %w", err)
	}
	hz, err := ParseAuxvClockTicks(data)
	if err != nil {
		return DefaultClockTicks, err
	}
	return hz, nil
}

// Sample is one reading of a process.
type Sample struct {
	// T is when it was read (wall clock, comparable with the instants in
	// calls.jsonl).
	T time.Time `json:"t"`
	// CPUTicks is utime+stime in clock ticks.
	CPUTicks uint64 `json:"cpu_ticks"`
	// RSSKB is VmRSS in KiB.
	RSSKB int64 `json:"rss_kb"`
	// Threads is the thread count.
	Threads int `json:"threads"`
	// FDs is the number of open file descriptors.
	FDs int `json:"fds"`
}

// ProcReader reads samples of processes under a /proc root.
type ProcReader struct {
	// Root is the proc file system's mount point ("/proc" when empty).
	Root string
}

func (p ProcReader) root() string {
	if p.Root == "" {
		return "/proc"
	}
	return p.Root
}

// Read takes one sample of pid, stamped with now.
func (p ProcReader) Read(pid int, now time.Time) (Sample, error) {
	dir := filepath.Join(p.root(), strconv.Itoa(pid))
	data, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Sample{}, fmt.Errorf("bench: read process %d: %w", pid, err)
	}
	st, err := ParseStat(data)
	if err != nil {
		return Sample{}, err
	}
	f, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return Sample{}, fmt.Errorf("bench: read process %d: %w", pid, err)
	}
	status, err := ParseStatus(f)
	_ = f.Close() // read only
	if err != nil {
		return Sample{}, err
	}
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return Sample{}, fmt.Errorf("bench: read process %d: %w", pid, err)
	}
	return Sample{T: now, CPUTicks: st.CPUTicks(), RSSKB: status.VmRSSKB, Threads: status.Threads, FDs: len(fds)}, nil
}
