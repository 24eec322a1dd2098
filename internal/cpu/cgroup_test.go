package cpu

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCgroup writes a cgroup v2 hierarchy: files maps paths under the
// root to contents; self is the process's /proc/self/cgroup content ("":
// no such file).
func fakeCgroup(t *testing.T, files map[string]string, self string) (root, selfFile string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "cgroup")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		f := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	selfFile = filepath.Join(dir, "self-cgroup")
	if self != "" {
		if err := os.WriteFile(selfFile, []byte(self), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, selfFile
}

func TestCgroupQuota(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		self    string
		cpus    float64
		limited bool
		err     string
	}{
		{"no limit", map[string]string{"cpu.max": "max 100000\n"}, "0::/\n", 0, false, ""},
		{"20 % quota at the root (a container)", map[string]string{"cpu.max": "20000 100000\n"}, "0::/\n", 0.2, true, ""},
		{"1.5 CPUs", map[string]string{"cpu.max": "150000 100000"}, "", 1.5, true, ""},
		{"no cpu.max (cgroup v1)", nil, "4:memory:/x\n1:cpu:/\n", 0, false, ""},
		{"the tightest along the path", map[string]string{
			"cpu.max": "max 100000", "a/cpu.max": "50000 100000", "a/b/cpu.max": "200000 100000",
		}, "1:cpu:/\n0::/a/b\n", 0.5, true, ""},
		{"malformed", map[string]string{"cpu.max": "lots"}, "", 0, false, "want \"MAX PERIOD\""},
		{"zero period", map[string]string{"cpu.max": "100 0"}, "", 0, false, "bad quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, self := fakeCgroup(t, tt.files, tt.self)
			cpus, limited, err := CgroupQuota(root, self)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("CgroupQuota error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || limited != tt.limited || math.Abs(cpus-tt.cpus) > 1e-12 {
				t.Errorf("CgroupQuota = %v, %v, %v; want %v, %v", cpus, limited, err, tt.cpus, tt.limited)
			}
		})
	}
}

// TestSamplerUnderQuota: under a 20 % quota the sampler judges the CPU
// use against 0.2 CPUs, not the machine's; the usage carries the label.
func TestSamplerUnderQuota(t *testing.T) {
	root, self := fakeCgroup(t, map[string]string{"cpu.max": "20000 100000"}, "0::/\n")
	s, err := New(Options{CgroupRoot: root, ProcSelfCgroup: self, EmbeddedGateway: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUs() != 0.2 {
		t.Errorf("CPUs() = %v, want 0.2", s.CPUs())
	}
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUs != 0.2 || !u.Quota || !u.EmbeddedGateway || u.Label() != "process CPU (generator + embedded gateway)" {
		t.Errorf("usage = %+v, label %q", u, u.Label())
	}
	root, self = fakeCgroup(t, map[string]string{"cpu.max": "max 100000"}, "")
	if cpus, quota, err := Available(root, self); err != nil || quota || cpus < 1 {
		t.Errorf("Available without a quota = %v, %v, %v", cpus, quota, err)
	}
	if _, err := New(Options{CgroupRoot: func() string { r, _ := fakeCgroup(t, map[string]string{"cpu.max": "x"}, ""); return r }()}); err == nil {
		t.Error("a malformed cpu.max did not fail the sampler")
	}
}
