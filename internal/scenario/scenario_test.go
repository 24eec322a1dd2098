package scenario

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShippedScenarios loads and validates every file in scenarios/.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d scenario files, want at least smoke, peak, soak and token", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatalf("Load(%s) = %v, want no error", f, err)
			}
			if d := s.Describe(); d == "" {
				t.Errorf("Describe() is empty")
			}
			t.Log(s.Describe())
		})
	}
}

func TestBadScenarios(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every message, in order
	}{
		{"unknown key with suggestion", "load:\n  rat: 5\n  duration: 10s\n",
			[]string{`bad.yaml:1: load: needs rate (calls/s), stages, or concurrent`, `bad.yaml:2: load.rat: unknown field (did you mean "rate"?)`}},
		{"unknown top-level key", "lod:\n  rate: 5\n",
			[]string{`bad.yaml:1: lod: unknown field (did you mean "load"?)`, `bad.yaml:1: load: needs rate (calls/s), stages, or concurrent`, `bad.yaml:1: load: needs duration or max_calls, or the run never ends`}},
		{"stage duration zero", "load:\n  stages:\n    - {duration: 10s, target: 5}\n    - {duration: 10s, target: 5}\n    - {duration: 0s, target: 0}\n",
			[]string{`bad.yaml:5: load.stages[2].duration: must be > 0, got 0s`}},
		{"stages overflow", "load:\n  stages:\n    - {duration: 2562047h, target: 1}\n    - {duration: 2562047h, target: 0}\n",
			[]string{`bad.yaml:4: load.stages[1].duration: the stages add up to more than 2562047h47m16.854775807s`}},
		{"duration without unit", "load:\n  rate: 5\n  duration: 30\n",
			[]string{`bad.yaml:3: load.duration: must be a duration such as "30s" or "1m30s", got "30"`}},
		{"negative rate", "load:\n  rate: -1\n  duration: 10s\n",
			[]string{`bad.yaml:2: load.rate: must be >= 0, got -1`}},
		{"zero rate", "load:\n  rate: 0\n  duration: 10s\n",
			[]string{`bad.yaml:2: load.rate: must be > 0 (calls per second)`}},
		{"rate as string", "load:\n  rate: fast\n  duration: 10s\n",
			[]string{`bad.yaml:2: load.rate: must be a finite number, got "fast"`}},
		{"never ends", "load:\n  rate: 5\n",
			[]string{`bad.yaml:1: load: needs duration or max_calls, or the run never ends`}},
		{"bad arrivals", "load:\n  rate: 5\n  duration: 1m\n  arrivals: bursty\n",
			[]string{`bad.yaml:4: load.arrivals: must be "uniform" or "poisson", got "bursty"`}},
		{"seed without poisson", "load:\n  rate: 5\n  duration: 1m\n  seed: 3\n",
			[]string{`bad.yaml:4: load.seed: only used with arrivals: poisson`}},
		{"closed and open mixed", "load:\n  concurrent: 10\n  rate: 5\n  duration: 1m\n",
			[]string{`bad.yaml:3: load.rate: not used with load.concurrent (the closed model keeps exactly that many calls up)`}},
		{"max_concurrent zero", "load:\n  rate: 5\n  duration: 1m\n  max_concurrent: 0\n",
			[]string{`bad.yaml:4: load.max_concurrent: must be > 0, got 0`}},
		{"duration with stages", "load:\n  duration: 1m\n  stages:\n    - {duration: 10s, target: 5}\n",
			[]string{`bad.yaml:2: load.duration: not used with load.stages (the run lasts as long as the stages add up to)`}},
		{"token mode without section", "mode: token\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:1: mode: token mode needs a token section (key_env, realm)`}},
		{"token key in file", "mode: token\ntoken:\n  key_env: 0123456789abcdef!\n  realm: r\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:3: token.key_env: must be an environment variable name, got "0123456789abcdef!" (the key itself never goes in the file)`}},
		{"bad mode", "mode: tokens\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:1: mode: must be "regular" or "token", got "tokens"`}},
		{"no media", "load: {rate: 1, max_calls: 1}\ncall:\n  audio: false\n",
			[]string{`bad.yaml:3: call.audio: must be true: every call carries audio (video-only calls are not supported)`}},
		{"bad hold distribution", "load: {rate: 1, max_calls: 1}\ncall:\n  hold: {distribution: gamma, mean: 3s}\n",
			[]string{`bad.yaml:3: call.hold.distribution: must be "uniform", "exponential" or "normal", got "gamma"`}},
		{"uniform min above max", "load: {rate: 1, max_calls: 1}\ncall:\n  hold: {distribution: uniform, min: 5s, max: 2s}\n",
			[]string{`bad.yaml:3: call.hold: min 5s is above max 2s`}},
		{"normal without stddev", "load: {rate: 1, max_calls: 1}\ncall:\n  hold:\n    distribution: normal\n    mean: 10s\n",
			[]string{`bad.yaml:3: call.hold.stddev: must be > 0, got 0s`}},
		{"hold_unhold past hold", "load: {rate: 1, max_calls: 1}\ncall:\n  hold: 5s\n  hold_unhold:\n    - {at: 1s, duration: 1s}\n    - {at: 4s, duration: 2s}\n",
			[]string{`bad.yaml:6: call.hold_unhold[1]: ends at 6s, after the longest hold time (5s)`}},
		{"bad placeholder", "load: {rate: 1, max_calls: 1}\ncall:\n  callee: \"callee-{i}@example.com\"\n",
			[]string{`bad.yaml:3: call.callee: unknown placeholder "{i}" (only {n} is supported)`}},
		{"zero timeout", "load: {rate: 1, max_calls: 1}\ncall:\n  timeouts:\n    answer: 0s\n",
			[]string{`bad.yaml:4: call.timeouts.answer: must be > 0, got 0s`}},
		{"ended_by typo", "load: {rate: 1, max_calls: 1}\ncall:\n  ended_by: callee\n",
			[]string{`bad.yaml:3: call.ended_by: must be "caller" or "gateway", got "callee"`}},
		{"unknown media engine", "load: {rate: 1, max_calls: 1}\ncall:\n  media_engine: lean\n",
			[]string{`bad.yaml:3: call.media_engine: must be "pion", "transport" or "pion-defaults", got "lean"`}},
		{"transport with ice servers", "target:\n  rest_url: http://127.0.0.1:8080\n  ice_servers:\n    - urls: [\"stun:stun.example.com:3478\"]\nload: {rate: 1, max_calls: 1}\ncall:\n  media_engine: transport\n",
			[]string{`bad.yaml:7: call.media_engine: transport gathers host candidates only; it cannot use ice servers (target.ice_servers; use pion)`}},
		{"transport relay only", "target:\n  rest_url: http://127.0.0.1:8080\n  ice_servers:\n    - {urls: [\"turn:t.example.com:3478\"], username: u, credential: c}\n  ice_transport_policy: relay\nload: {rate: 1, max_calls: 1}\ncall:\n  media_engine: transport\n",
			[]string{
				`bad.yaml:8: call.media_engine: transport gathers host candidates only; it cannot use ice servers (target.ice_servers; use pion)`,
				`bad.yaml:8: call.media_engine: transport gathers host candidates only; it cannot use ice_transport_policy: relay (use pion)`,
			}},
		{"media engine not a string", "load: {rate: 1, max_calls: 1}\ncall:\n  media_engine: [pion]\n",
			[]string{`bad.yaml:3: call.media_engine: must be a string, got a list`}},
		{"rest_url without port", "target:\n  rest_url: https://gw.example.com\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:2: target.rest_url: needs an explicit port (e.g. https://gw.example.com:443), got "https://gw.example.com"`}},
		{"relay without turn", "target:\n  ice_transport_policy: relay\n  ice_servers:\n    - urls: stun:stun.example.com:3478\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:2: target.ice_transport_policy: relay needs at least one turn: or turns: server in target.ice_servers`}},
		{"turn without credentials", "target:\n  ice_servers:\n    - urls: [\"turn:t.example.com:3478\"]\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:3: target.ice_servers[0]: TURN server "turn:t.example.com:3478" needs username and credential`}},
		{"gateway knobs with external target", "target: {rest_url: \"http://127.0.0.1:8080\"}\ngateway: {answer_delay: 1s}\nload: {rate: 1, max_calls: 1}\n",
			[]string{`bad.yaml:2: gateway: only used with the embedded gateway (target.rest_url is set)`}},
		{"bad threshold", "load: {rate: 1, max_calls: 1}\nthresholds:\n  connect:\n    - \"p(99) < 2s\"\n    - \"p(99) < 2x\"\n",
			[]string{`bad.yaml:5: thresholds.connect[1]: "p(99) < 2x": bad value "2x": unknown unit "x": want us, ms, s or m`}},
		{"threshold not a list", "load: {rate: 1, max_calls: 1}\nthresholds:\n  connect: \"p(99) < 2s\"\n",
			[]string{`bad.yaml:3: thresholds.connect: must be a list of expressions such as ["p(99) < 2s"], got "p(99) < 2s"`}},
		{"duplicate key", "load:\n  rate: 1\n  rate: 2\n  max_calls: 1\n",
			[]string{`bad.yaml:3: load.rate: duplicate field (first at line 2)`}},
		{"missing value", "load:\n  rate:\n  max_calls: 1\n",
			[]string{`bad.yaml:2: load.rate: missing value`}},
		{"bad metrics_listen", "load: {rate: 1, max_calls: 1}\noutputs:\n  metrics_listen: localhost\n",
			[]string{`bad.yaml:3: outputs.metrics_listen: must be host:port such as "127.0.0.1:9090" or ":9090", got "localhost"`}},
		{"yaml syntax", "load:\n  rate: [1\n",
			[]string{`bad.yaml:1: did not find expected ',' or ']'`}},
		{"several problems at once", "load:\n  rate: -2\n  duration: 0s\n  arrivals: poison\ncall:\n  hold: -1s\n  vidoe: true\n",
			[]string{
				`bad.yaml:2: load.rate: must be >= 0, got -2`,
				`bad.yaml:3: load.duration: must be > 0, got 0s`,
				`bad.yaml:4: load.arrivals: must be "uniform" or "poisson", got "poison"`,
				`bad.yaml:6: call.hold: must be >= 0, got -1s`,
				`bad.yaml:7: call.vidoe: unknown field (did you mean "video"?)`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("bad.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want errors %q", tt.yaml, s.Describe(), tt.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse(%q) error %T, want Errors", tt.yaml, err)
			}
			got := make([]string, len(es))
			for i, e := range es {
				got[i] = e.Error()
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Parse(%q) errors:\n%s\nwant:\n%s", tt.yaml, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("ok.yaml", []byte("load: {rate: 3, duration: 10s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Target.Embedded() || s.Mode != ModeRegular || s.Name != "ok" {
		t.Errorf("target/mode/name = %v/%v/%q, want embedded/regular/ok", s.Target.Embedded(), s.Mode, s.Name)
	}
	c := s.Call
	want := Timeouts{DefaultStartTimeout, DefaultAnswerTimeout, DefaultICETimeout, DefaultDTLSTimeout, DefaultMediaTimeout, DefaultEndTimeout}
	if c.Timeouts != want || c.Hold.Fixed != DefaultHold || !c.Audio || c.Video || c.EndedBy != EndedByCaller {
		t.Errorf("call defaults = %+v", c)
	}
	if s.Load.MaxConcurrent != DefaultMaxConcurrent || s.Load.Arrivals != ArrivalsUniform || s.Load.Seed != DefaultSeed {
		t.Errorf("load defaults = %+v", s.Load)
	}
	if got, want := s.Describe(), "ok: regular calls to embedded gateway; uniform arrivals at 3/s for 10s, ~30 calls; cap 1000 in flight; hold 10s; audio"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

func TestFullScenario(t *testing.T) {
	y := `name: full
target:
  rest_url: https://gw.example.com:8443
  tls: {insecure_skip_verify: true}
  ice_servers:
    - urls: ["stun:stun.example.com:3478", "turn:turn.example.com:3478?transport=udp"]
      username: u
      credential: c
  ice_transport_policy: relay
  agent: test-agent
  media_ports: {min: 40000, max: 40100}
mode: token
token: {key_env: MY_KEY, realm: r1, account: "acc-{n}@x.com"}
load:
  rate: 1
  stages: [{duration: 10s, target: 5}, {duration: 20s, target: 5}, {duration: 10s, target: 0}]
  arrivals: poisson
  seed: 7
  max_concurrent: 50
  max_calls: 1000
call:
  callee: "callee-{n}@x.com"
  hold: {distribution: normal, mean: 10s, stddev: 2s, min: 5s, max: 15s}
  video: true
  hold_unhold: [{at: 1s, duration: 1s}, {at: 3s, duration: 1s}]
  ended_by: gateway
  timeouts: {start: 1s, answer: 2s, ice: 3s, dtls: 4s, media: 5s, end: 6s}
thresholds:
  connect: ["p(99) < 2s", {threshold: "p(50) < 300ms", abort_on_fail: true, delay_abort_eval: 10s}]
  failures: ["rate < 0.01"]
outputs: {metrics_listen: ":9091", out_dir: out}
`
	s, err := Parse("dir/full.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.WSURL != "wss://gw.example.com:8443" {
		t.Errorf("WSURL = %q, want derived wss://gw.example.com:8443", s.Target.WSURL)
	}
	if s.Target.PortMin != 40000 || s.Target.PortMax != 40100 || !s.Target.InsecureSkipVerify || len(s.Target.ICEServers[0].URLs) != 2 {
		t.Errorf("target = %+v", s.Target)
	}
	if s.Token == nil || s.Token.KeyEnv != "MY_KEY" || s.Token.Account != "acc-{n}@x.com" {
		t.Errorf("token = %+v", s.Token)
	}
	if len(s.Thresholds) != 3 || !s.Thresholds[1].AbortOnFail || s.Thresholds[1].DelayAbortEval != 10*time.Second || s.Thresholds[1].Line != 29 {
		t.Errorf("thresholds = %+v", s.Thresholds)
	}
	if s.Thresholds[2].Parsed.Metric != "failures" {
		t.Errorf("threshold not parsed: %+v", s.Thresholds[2])
	}
	if got := s.ExpectedCalls(); got != 30+100+25 {
		t.Errorf("ExpectedCalls() = %v, want 155", got)
	}
	want := "full: token calls to https://gw.example.com:8443 (relay only); poisson arrivals (seed 7): 1→5/s over 10s, 5/s for 20s, 5→0/s over 10s (40s), ~155 calls; cap 50 in flight; hold normal 10s±2s [5s..15s]; audio+video, 2 mid-call holds; ended by the gateway; 3 thresholds"
	if got := s.Describe(); got != want {
		t.Errorf("Describe() = %q\nwant %q", got, want)
	}
	k, err := s.Token.Key(func(n string) string { return map[string]string{"MY_KEY": "k"}[n] })
	if k != "k" || err != nil {
		t.Errorf("Key() = %q, %v", k, err)
	}
	if _, err := s.Token.Key(func(string) string { return "" }); err == nil {
		t.Errorf("Key() with unset variable = nil error")
	}
}

func TestMediaEngine(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       MediaEngine
		describe   string // the end of Describe()
	}{
		{"default", "load: {rate: 1, max_calls: 1}\n", EnginePion, "; audio"},
		{"pion", "load: {rate: 1, max_calls: 1}\ncall: {media_engine: pion}\n", EnginePion, "; audio"},
		{"transport", "load: {rate: 1, max_calls: 1}\ncall: {media_engine: transport}\n", EngineTransport, "; audio; transport media engine"},
		{"transport with media ports", "target: {rest_url: \"http://127.0.0.1:8080\", media_ports: {min: 40000, max: 40100}}\nload: {rate: 1, max_calls: 1}\ncall: {media_engine: transport}\n", EngineTransport, "; transport media engine"},
		{"pion-defaults", "load: {rate: 1, max_calls: 1}\ncall: {media_engine: pion-defaults}\n", EnginePionDefaults, "; pion-defaults media engine"},
		{"pion with ice servers", "target:\n  rest_url: http://127.0.0.1:8080\n  ice_servers: [{urls: [\"stun:s.example.com:3478\"]}]\nload: {rate: 1, max_calls: 1}\ncall: {media_engine: pion}\n", EnginePion, "; audio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("e.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if s.Call.MediaEngine != tt.want {
				t.Errorf("MediaEngine = %q, want %q", s.Call.MediaEngine, tt.want)
			}
			if d := s.Describe(); !strings.HasSuffix(d, tt.describe) {
				t.Errorf("Describe() = %q, want it to end with %q", d, tt.describe)
			}
		})
	}
}

func TestParseMediaEngine(t *testing.T) {
	for _, e := range MediaEngines() {
		if got, err := ParseMediaEngine(string(e)); got != e || err != nil {
			t.Errorf("ParseMediaEngine(%q) = %q, %v", e, got, err)
		}
	}
	for _, bad := range []string{"", "lean", "Pion", "transport "} {
		if got, err := ParseMediaEngine(bad); err == nil {
			t.Errorf("ParseMediaEngine(%q) = %q, nil error", bad, got)
		}
	}
	if _, err := ParseMediaEngine("x"); err == nil || err.Error() != `scenario: unknown media engine "x" (want "pion", "transport" or "pion-defaults")` {
		t.Errorf("ParseMediaEngine(x) error = %v", err)
	}
}

func TestValidateInCode(t *testing.T) {
	s := defaults()
	s.Load.Rate = 5
	s.Load.Duration = time.Minute
	if errs := s.Validate(); len(errs) != 0 {
		t.Fatalf("Validate() = %v, want none", errs)
	}
	s.Load.Stages = []Stage{{Duration: 0, Target: 1}}
	s.Load.Duration = 0
	errs := s.Validate()
	if len(errs) != 1 || errs[0].Error() != "load.stages[0].duration: must be > 0, got 0s" {
		t.Errorf("Validate() = %v", errs)
	}
}

func TestHoldSample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		h    Hold
	}{
		{"fixed", Hold{Distribution: DistFixed, Fixed: 3 * time.Second}},
		{"uniform", Hold{Distribution: DistUniform, Min: time.Second, Max: 2 * time.Second}},
		{"exponential", Hold{Distribution: DistExponential, Mean: time.Second, Min: 100 * time.Millisecond, Max: 3 * time.Second}},
		{"normal", Hold{Distribution: DistNormal, Mean: time.Second, StdDev: time.Second, Max: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum time.Duration
			const n = 20000
			for range n {
				d := tt.h.Sample(r)
				lo, hi := tt.h.Min, tt.h.Max
				if tt.h.Distribution == DistFixed {
					lo, hi = tt.h.Fixed, tt.h.Fixed
				}
				if d < lo || d > hi {
					t.Fatalf("Sample() = %v, outside [%v, %v]", d, lo, hi)
				}
				sum += d
			}
			mean := sum / n
			want := map[string]time.Duration{"fixed": 3 * time.Second, "uniform": 1500 * time.Millisecond, "exponential": 1000 * time.Millisecond, "normal": 940 * time.Millisecond}[tt.name]
			if diff := mean - want; diff < -60*time.Millisecond || diff > 60*time.Millisecond {
				t.Errorf("mean of Sample() = %v, want about %v", mean, want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	if got := Expand("sip:load-{n}@x.com/{n}", 42); got != "sip:load-42@x.com/42" {
		t.Errorf("Expand = %q", got)
	}
}

func TestEmbeddedGatewayKnobs(t *testing.T) {
	s, err := Parse("g.yaml", []byte("target: embedded\ngateway: {answer_delay: 0s, ringing: false, reject_ratio: 0.25}\nload: {rate: 1, max_calls: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := s.Gateway
	if g.AnswerDelay == nil || *g.AnswerDelay != 0 || g.RingingDelay != nil || g.Ringing || g.RejectRatio != 0.25 || g.RejectStatus != DefaultRejectStatus {
		t.Errorf("gateway = %+v", g)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"target: remote\nload: {rate: 1, max_calls: 1}\n", `g.yaml:1: target: must be "embedded" or a mapping with rest_url, got "remote"`},
		{"gateway: {reject_ratio: 1.5}\nload: {rate: 1, max_calls: 1}\n", `g.yaml:1: gateway.reject_ratio: must be between 0 and 1, got 1.5`},
		{"gateway: {ringing: false, ringing_delay: 1s}\nload: {rate: 1, max_calls: 1}\n", `g.yaml:1: gateway.ringing_delay: set but gateway.ringing is false`},
	} {
		_, err := Parse("g.yaml", []byte(tt.yaml))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
