package main

import (
	"context"
	"strings"
	"testing"

	"github.com/loadgen/loadgen/internal/gateway"
)

// TestMediaEngineFlag: --media-engine and the deprecated --pion-defaults are
// checked before anything starts; a bad name, a contradiction, or an engine
// the scenario cannot use exits 2 with the flag named, and nothing starts.
func TestMediaEngineFlag(t *testing.T) {
	withServers := writeScenario(t, "target:\n  rest_url: http://127.0.0.1:1\n  ice_servers: [{urls: [\"stun:s.example.com:3478\"]}]\nload: {rate: 1, max_calls: 1}\n")
	transport := writeScenario(t, "target:\n  rest_url: http://127.0.0.1:1\n  ice_servers: [{urls: [\"stun:s.example.com:3478\"]}]\nload: {rate: 1, max_calls: 1}\ncall: {media_engine: transport}\n")
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"unknown engine", []string{"run", "--media-engine", "lean", "../../scenarios/smoke.yaml"},
			`--media-engine: want pion, transport or pion-defaults, got "lean"`},
		{"empty engine after the file", []string{"run", "../../scenarios/smoke.yaml", "--media-engine", "Pion"},
			`--media-engine: want pion, transport or pion-defaults, got "Pion"`},
		{"pion-defaults contradicts", []string{"run", "--pion-defaults", "--media-engine", "transport", "../../scenarios/smoke.yaml"},
			"--pion-defaults (the same as --media-engine pion-defaults) contradicts --media-engine transport"},
		{"engine parsed, other override bad", []string{"run", "--media-engine", "pion-defaults", "--rate", "-3", "../../scenarios/smoke.yaml"},
			"load.rate: must be >= 0, got -3 (set by --rate)"},
		{"transport with ice servers", []string{"run", "--media-engine", "transport", withServers},
			"call.media_engine: transport gathers host candidates only; it cannot use ice servers (target.ice_servers; use pion) (set by --media-engine)"},
		{"scenario's transport with ice servers", []string{"validate", transport},
			transport + ":5: call.media_engine: transport gathers host candidates only"},
		{"scenario's transport with ice servers, run", []string{"run", transport},
			transport + ":5: call.media_engine: transport gathers host candidates only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _, stderr := testEnv(nil)
			started := false
			e.gatewayStarted = func(*gateway.Gateway) { started = true }
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			if code := runMain(ctx, e, tc.args); code != exitUsage {
				t.Errorf("runMain(%q) = %d, want %d\n%s", tc.args, code, exitUsage, stderr)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("runMain(%q) stderr does not contain %q:\n%s", tc.args, tc.wantStderr, stderr)
			}
			if started {
				t.Errorf("runMain(%q) started the gateway", tc.args)
			}
		})
	}
}

// TestMediaEngineFlagHelp: run's help lists --media-engine and calls
// --pion-defaults deprecated.
func TestMediaEngineFlagHelp(t *testing.T) {
	e, stdout, _ := testEnv(nil)
	if code := runMain(t.Context(), e, []string{"run", "-h"}); code != exitOK {
		t.Fatalf("run -h = %d", code)
	}
	for _, want := range []string{"-media-engine", "override call.media_engine: pion", "deprecated: the same as --media-engine pion-defaults"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("run -h does not say %q:\n%s", want, stdout)
		}
	}
}

// TestMediaEngineFlagRecorded: the engine the flags chose is the run's, in
// summary.json's labels and in the printed summary.
func TestMediaEngineFlagRecorded(t *testing.T) {
	path := writeScenario(t, "load: {rate: 20, max_calls: 1}\ncall: {hold: 0s}\ngateway: {answer_delay: 0s, ringing_delay: 0s}\n")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "pion"},
		{[]string{"--pion-defaults"}, "pion-defaults"},
		{[]string{"--media-engine", "pion-defaults", "--pion-defaults"}, "pion-defaults"},
	}
	for _, tc := range tests {
		t.Run(tc.want+strings.Join(tc.args, ""), func(t *testing.T) {
			out := t.TempDir()
			e, stdout, stderr := testEnv(nil)
			if code := runScenarioFile(t, e, append(append([]string{"--out", out}, tc.args...), path)...); code != exitOK {
				t.Fatalf("run %q = %d\n%s", tc.args, code, stderr)
			}
			if got := readSummary(t, out).Labels["media_engine"]; got != tc.want {
				t.Errorf("summary.json labels media_engine = %q, want %q", got, tc.want)
			}
			if want := "engine     " + tc.want + " media engine\n"; !strings.Contains(stdout.String(), want) {
				t.Errorf("summary does not say %q:\n%s", want, stdout)
			}
		})
	}
}

// TestBenchModesFlag: bench's --modes defaults to the three engines and
// refuses an unknown mode with exit 2 before anything starts.
func TestBenchModesFlag(t *testing.T) {
	e, stdout, _ := testEnv(nil)
	if code := runMain(t.Context(), e, []string{"bench", "-h"}); code != exitOK {
		t.Fatalf("bench -h = %d", code)
	}
	if want := `(default "transport,lean,pion-defaults")`; !strings.Contains(stdout.String(), want) {
		t.Errorf("bench -h does not say %s:\n%s", want, stdout)
	}
	e, _, stderr := testEnv(nil)
	if code := runMain(t.Context(), e, []string{"bench", "--modes", "transport,pion", "--json", "none"}); code != exitUsage {
		t.Errorf("bench --modes transport,pion = %d, want %d\n%s", code, exitUsage, stderr)
	}
	if want := `unknown mode "pion" (want transport, lean or pion-defaults)`; !strings.Contains(stderr.String(), want) {
		t.Errorf("bench --modes stderr lacks %q:\n%s", want, stderr)
	}
}
