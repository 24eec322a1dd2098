package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadgen/loadgen/internal/gateway"
)

// TestValidateEqualsRun: every check `loadgen run` makes before it starts,
// `loadgen validate` makes too, with the same file:line: field message and
// exit 2, and run starts nothing.
func TestValidateEqualsRun(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.ogg")
	if err := os.WriteFile(garbage, []byte("OggS but not really an Ogg Opus stream at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbageVideo := filepath.Join(dir, "garbage.ivf")
	if err := os.WriteFile(garbageVideo, []byte("DKIF garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		vars map[string]string
		want string
	}{
		{"ended_by gateway with an external target",
			"target: {rest_url: http://127.0.0.1:1}\nload: {rate: 1, max_calls: 1}\ncall: {ended_by: gateway}\n", nil,
			":3: call.ended_by: \"gateway\" needs the built-in gateway"},
		{"garbage ogg",
			"load: {rate: 1, max_calls: 1}\ncall: {audio_file: " + garbage + "}\n", nil,
			":2: call.audio_file: "},
		{"garbage ivf",
			"load: {rate: 1, max_calls: 1}\ncall: {video: true, video_file: " + garbageVideo + "}\n", nil,
			":2: call.video_file: "},
		{"token key unset",
			"mode: token\ntoken: {key_env: LG_TEST_KEY, realm: r}\nload: {rate: 1, max_calls: 1}\n", nil,
			":2: token.key_env: environment variable LG_TEST_KEY is not set"},
		{"token key too short",
			"mode: token\ntoken: {key_env: LG_TEST_KEY, realm: r}\nload: {rate: 1, max_calls: 1}\n", map[string]string{"LG_TEST_KEY": "short"},
			":2: token.key_env: the key in LG_TEST_KEY: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeScenario(t, tc.yaml)
			for _, cmd := range []string{"validate", "run"} {
				e, _, stderr := testEnv(tc.vars)
				started := false
				e.gatewayStarted = func(*gateway.Gateway) { started = true }
				ctx, cancel := context.WithTimeout(t.Context(), runLimit)
				code := runMain(ctx, e, []string{cmd, path})
				cancel()
				if code != exitUsage {
					t.Errorf("%s: exit %d, want %d\n%s", cmd, code, exitUsage, stderr)
				}
				if !strings.Contains(stderr.String(), path+tc.want) {
					t.Errorf("%s: stderr does not contain %q:\n%s", cmd, path+tc.want, stderr)
				}
				if started {
					t.Errorf("%s: the gateway was started for an invalid scenario", cmd)
				}
			}
		})
	}
}
