package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/loadgen/loadgen/internal/scenario"
)

// TestReadme keeps the README true: its scenario reference decodes and
// validates, its first lines give the two set-up commands, and every
// subcommand it lists exists.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README has no yaml block")
	}
	ref := m[1]
	if _, err := scenario.Parse("README.md", []byte(ref)); err != nil {
		t.Errorf("README's scenario reference does not validate:\n%v", err)
	}
	// The commented-out alternatives must be valid too: an external target
	// (without the embedded gateway's section) and token mode.
	external := uncomment(ref, "# target:")
	external = external[:strings.Index(external, "\ngateway:")] + "\n"
	if _, err := scenario.Parse("README.md", []byte(external)); err != nil {
		t.Errorf("README's scenario reference with a target does not validate:\n%v", err)
	}
	var tokLines []string
	for _, l := range strings.Split(uncomment(ref, "# token:"), "\n") {
		if !strings.Contains(l, "(regular mode only)") {
			tokLines = append(tokLines, l)
		}
	}
	tok := strings.Replace(strings.Join(tokLines, "\n"), "mode: regular", "mode: token", 1)
	if _, err := scenario.Parse("README.md", []byte(tok)); err != nil {
		t.Errorf("README's scenario reference in token mode does not validate:\n%v", err)
	}
	head := strings.Join(strings.SplitN(readme, "\n", 8)[:7], "\n")
	for _, cmd := range []string{"go run ./cmd/loadgen run scenarios/smoke.yaml", "go test ./..."} {
		if !strings.Contains(head, cmd) {
			t.Errorf("README's first lines lack %q", cmd)
		}
	}
	for _, sub := range regexp.MustCompile("`loadgen ([a-z]+)").FindAllStringSubmatch(readme, -1) {
		if _, ok := commands()[sub[1]]; !ok {
			t.Errorf("README names `loadgen %s`, which is not a command", sub[1])
		}
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "go test") {
		t.Errorf(".ci/run does not run the README's test command")
	}
}

// uncomment removes the "# " of the block that starts with the line start
// and of its indented lines.
func uncomment(yaml, start string) string {
	lines := strings.Split(yaml, "\n")
	in := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, start):
			in = true
		case in && strings.HasPrefix(l, "#   "):
		default:
			in = false
		}
		if in {
			lines[i] = strings.TrimPrefix(l, "# ")
		}
	}
	return strings.Join(lines, "\n")
}
