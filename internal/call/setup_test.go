package call

import (
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/signal"
)

func TestSetupFromScenario(t *testing.T) {
	_, err := scenario.Parse("x.yaml", []byte(`
target:
  rest_url: https://gw.example.com:8443
  ice_servers: [{urls: "turn:t.example.com:3478", username: u, credential: c}]
  ice_transport_policy: relay
  media_ports: {min: 40000, max: 40010}
mode: token
token: {key_env: K, realm: r1}
load: {rate: 1, max_calls: 1}
call: {video: true, audio_file: missing.ogg}
`))
	if err == nil {
		t.Fatalf("Parse accepted a missing audio file")
	}
	s, err := scenario.Parse("x.yaml", []byte(`
target:
  rest_url: https://gw.example.com:8443
  ice_servers: [{urls: "turn:t.example.com:3478", username: u, credential: c}]
  ice_transport_policy: relay
  media_ports: {min: 40000, max: 40010}
mode: token
token: {key_env: K, realm: r1}
load: {rate: 1, max_calls: 1}
call: {video: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	sc := NewSignalConfig(s, "http://ignored:1", "1.2.3")
	if sc.BaseURL != "https://gw.example.com:8443" || sc.WSURL != "wss://gw.example.com:8443" || sc.Mode != signal.ModeToken || sc.Realm != "r1" || sc.Version != "1.2.3" {
		t.Errorf("NewSignalConfig = %+v", sc)
	}
	ec, err := NewEngineConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if !ec.RelayOnly || ec.PortMin != 40000 || ec.PortMax != 40010 || len(ec.ICEServers) != 1 || ec.ICEServers[0].Username != "u" || ec.IncludeLoopback {
		t.Errorf("NewEngineConfig = %+v", ec)
	}
	cc := NewConfig(s, "0123456789abcdef")
	if !cc.Video || cc.Credentials == nil || cc.Timeouts.Answer != scenario.DefaultAnswerTimeout {
		t.Errorf("NewConfig = %+v", cc)
	}
	creds, err := cc.Credentials(5, time.Unix(1700000000, 0))
	if err != nil || creds.PathUser == "" || creds.PathUser == "caller-5@example.com" || creds.From == "" || creds.To == "" {
		t.Errorf("token credentials = %+v, %v; want minted tokens", creds, err)
	}
	reg := NewConfig(&scenario.Scenario{Mode: scenario.ModeRegular, Call: scenario.Call{Caller: "sip:a-{n}@x.com", Callee: "b-{n}@x.com"}}, "")
	creds, err = reg.Credentials(7, time.Now())
	if err != nil || creds != signal.RegularCredentials("b-7@x.com", "sip:a-7@x.com") {
		t.Errorf("regular credentials = %+v, %v", creds, err)
	}
	emb, err := scenario.Parse("e.yaml", []byte("load: {rate: 1, max_calls: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc := NewSignalConfig(emb, "http://127.0.0.1:5000", ""); sc.BaseURL != "http://127.0.0.1:5000" || sc.Mode != signal.ModeRegular {
		t.Errorf("embedded NewSignalConfig = %+v", sc)
	}
	if ec, err := NewEngineConfig(emb); err != nil || !ec.IncludeLoopback || len(ec.IPs) != 1 {
		t.Errorf("embedded NewEngineConfig = %+v, %v", ec, err)
	}
}

// TestMediaIPs: target.media_ips chooses the addresses media is gathered
// on; an unspecified or malformed address is a scenario error.
func TestEngineFromScenario(t *testing.T) {
	tests := []struct {
		engine                  string // call.media_engine ("": absent)
		transport, pionDefaults bool
	}{
		{"", false, false},
		{"pion", false, false},
		{"transport", true, false},
		{"pion-defaults", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.engine, func(t *testing.T) {
			y := "load: {rate: 1, max_calls: 1}\n"
			if tt.engine != "" {
				y += "call: {media_engine: " + tt.engine + "}\n"
			}
			s, err := scenario.Parse("e.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			ec, err := NewEngineConfig(s)
			if err != nil {
				t.Fatal(err)
			}
			if ec.Transport != tt.transport || ec.PionDefaults != tt.pionDefaults {
				t.Errorf("NewEngineConfig: Transport %v, PionDefaults %v; want %v, %v", ec.Transport, ec.PionDefaults, tt.transport, tt.pionDefaults)
			}
		})
	}
}

func TestMediaIPs(t *testing.T) {
	s, err := scenario.Parse("x.yaml", []byte("target: {rest_url: \"http://127.0.0.1:9\", media_ips: [127.0.0.2]}\nload: {rate: 1, max_calls: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewEngineConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.IPs) != 1 || cfg.IPs[0] != "127.0.0.2" || !cfg.IncludeLoopback {
		t.Errorf("engine IPs %v loopback %v, want [127.0.0.2] with loopback", cfg.IPs, cfg.IncludeLoopback)
	}
	for _, bad := range []string{"0.0.0.0", "eth0", "::"} {
		_, err := scenario.Parse("x.yaml", []byte("target: {rest_url: \"http://127.0.0.1:9\", media_ips: [\""+bad+"\"]}\nload: {rate: 1, max_calls: 1}\n"))
		if err == nil || !strings.Contains(err.Error(), "x.yaml:1: target.media_ips[0]: must be a local IP address") {
			t.Errorf("media_ips [%s]: %v", bad, err)
		}
	}
}
