package bench

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// CPUModel returns the first "model name" of a /proc/cpuinfo ("" if none).
func CPUModel(cpuinfo io.Reader) string {
	sc := bufio.NewScanner(cpuinfo)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readTrimmed returns a small file's content without surrounding space, or
// "" when it cannot be read (the machine description is best effort).
func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DescribeMachine describes this machine; version is loadgen's version and
// hz the clock-tick rate in use.
func DescribeMachine(version string, hz int64, now time.Time) Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		Kernel:     readTrimmed("/proc/sys/kernel/osrelease"),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		GoVersion:  runtime.Version(),
		Version:    version,
		ClockTicks: hz,
		LoadAvg:    readTrimmed("/proc/loadavg"),
		Date:       now.UTC(),
	}
	m.Host, _ = os.Hostname() // "" when unknown
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPUModel = CPUModel(f)
		_ = f.Close() // read only
	}
	return m
}
