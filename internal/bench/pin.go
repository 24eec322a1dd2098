package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Pinning records where the two processes ran.
type Pinning struct {
	// Taskset is the taskset binary used; empty when nothing was pinned.
	Taskset string `json:"taskset,omitempty"`
	// GeneratorCPUs and GatewayCPUs are the taskset CPU lists (empty when
	// not pinned).
	GeneratorCPUs string `json:"generator_cpus,omitempty"`
	GatewayCPUs   string `json:"gateway_cpus,omitempty"`
	// GeneratorCPUCount is how many CPUs the generator could run on.
	GeneratorCPUCount int `json:"generator_cpu_count"`
	// Note says why nothing was pinned, when so.
	Note string `json:"note,omitempty"`
}

// GatewayCPUCount is how many CPUs the gateway could run on: its pinned
// list's, or ncpu (the machine's) when nothing was pinned.
func (p Pinning) GatewayCPUCount(ncpu int) int {
	if p.GatewayCPUs == "" {
		return ncpu
	}
	cpus, err := ParseCPUList(p.GatewayCPUs)
	if err != nil {
		return ncpu
	}
	return len(cpus)
}

// ParseCPUList parses a taskset/cpuset list such as "0-3,6" into CPU ids.
func ParseCPUList(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("bench: empty CPU list")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bench: CPU list %q: bad CPU %q", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bench: CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// cpuRange formats CPUs lo..hi as a taskset list.
func cpuRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// ResolvePinning decides where the generator and the gateway run. With
// PinAuto it pins when taskset is found and there are at least two CPUs:
// the generator gets CPUs 0..n/2-1, the gateway the rest. lookPath finds
// taskset (exec.LookPath).
func ResolvePinning(genCPUs, gwCPUs string, ncpu int, lookPath func(string) (string, error)) (Pinning, error) {
	if genCPUs == PinNone {
		return Pinning{GeneratorCPUCount: ncpu, Note: "pinning disabled"}, nil
	}
	taskset, err := lookPath("taskset")
	if err != nil {
		if genCPUs != PinAuto {
			return Pinning{}, fmt.Errorf("bench: CPU lists given but taskset not found: %w", err)
		}
		return Pinning{GeneratorCPUCount: ncpu, Note: "taskset not found: processes not pinned"}, nil
	}
	if genCPUs == PinAuto {
		if ncpu < 2 {
			return Pinning{GeneratorCPUCount: ncpu, Note: "one CPU: processes not pinned"}, nil
		}
		half := ncpu / 2
		return Pinning{Taskset: taskset, GeneratorCPUs: cpuRange(0, half-1), GatewayCPUs: cpuRange(half, ncpu-1), GeneratorCPUCount: half}, nil
	}
	cpus, err := ParseCPUList(genCPUs)
	if err != nil {
		return Pinning{}, err
	}
	if _, err := ParseCPUList(gwCPUs); err != nil {
		return Pinning{}, err
	}
	return Pinning{Taskset: taskset, GeneratorCPUs: genCPUs, GatewayCPUs: gwCPUs, GeneratorCPUCount: len(cpus)}, nil
}

// wrap prefixes argv with taskset when cpus is set.
func (p Pinning) wrap(cpus string, argv []string) []string {
	if p.Taskset == "" || cpus == "" {
		return argv
	}
	return append([]string{p.Taskset, "-c", cpus}, argv...)
}
