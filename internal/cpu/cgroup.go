package cpu

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Defaults for where the cgroup v2 files are read.
const (
	// DefaultCgroupRoot is where the cgroup v2 hierarchy is mounted.
	DefaultCgroupRoot = "/sys/fs/cgroup"
	// DefaultProcSelfCgroup names the process's cgroup ("0::/path").
	DefaultProcSelfCgroup = "/proc/self/cgroup"
)

// CgroupQuota returns the CPU bandwidth limit of the process's cgroup v2,
// in CPUs (quota / period of cpu.max; 0.2 for "20000 100000"), and
// whether there is one ("max 100000" is none). It reads cpu.max at the
// hierarchy's root (inside a container, the container's own cgroup) and
// along the process's cgroup path from selfCgroup (a /proc/self/cgroup
// file) up to the root, and keeps the smallest limit: the one that binds.
// Missing files mean no limit (cgroup v1, or no cpu controller); an
// unreadable or malformed cpu.max is an error.
func CgroupQuota(root, selfCgroup string) (cpus float64, limited bool, err error) {
	dirs := []string{root}
	if rel, err := cgroupPath(selfCgroup); err != nil {
		return 0, false, err
	} else if rel != "" {
		for p := path.Clean("/" + rel); p != "/"; p = path.Dir(p) {
			dirs = append(dirs, filepath.Join(root, filepath.FromSlash(p)))
		}
	}
	cpus = math.Inf(1)
	for _, d := range dirs {
		q, ok, err := readCPUMax(filepath.Join(d, "cpu.max"))
		if err != nil {
			return 0, false, err
		}
		if ok && q < cpus {
			cpus, limited = q, true
		}
	}
	if !limited {
		return 0, false, nil
	}
	return cpus, true, nil
}

// cgroupPath returns the cgroup v2 path ("0::/path" line) of a
// /proc/self/cgroup file; "" when there is none or the file is missing.
func cgroupPath(file string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cpu: cgroup: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return strings.TrimSpace(rest), nil
		}
	}
	return "", nil
}

// readCPUMax parses one cpu.max file: "$MAX $PERIOD", MAX "max" for no
// limit. ok is false without a limit or without the file.
func readCPUMax(file string) (cpus float64, ok bool, err error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cpu: cgroup: %w", err)
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 0, false, fmt.Errorf("cpu: cgroup: %s: want \"MAX PERIOD\", got %q", file, strings.TrimSpace(string(b)))
	}
	if fields[0] == "max" {
		return 0, false, nil
	}
	quota, err1 := strconv.ParseUint(fields[0], 10, 64)
	period, err2 := strconv.ParseUint(fields[1], 10, 64)
	if err1 != nil || err2 != nil || period == 0 || quota == 0 {
		return 0, false, fmt.Errorf("cpu: cgroup: %s: bad quota %q", file, strings.TrimSpace(string(b)))
	}
	return float64(quota) / float64(period), true, nil
}
