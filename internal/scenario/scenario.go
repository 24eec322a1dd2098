// Package scenario is the schema of a loadgen scenario file: strict YAML
// decoding, documented defaults, and validation that reports every problem at
// once with its file, line and field path, before anything starts.
//
// A scenario reads, in full (every key optional unless noted):
//
//	name: peak                      # label for metrics; default: the file's base name
//	target:                         # absent (or "target: embedded"): the built-in gateway
//	  rest_url: https://gw:443      # REST base, port explicit; absent = embedded
//	  ws_url: wss://gw:443          # websocket base; default: rest_url with ws(s)://
//	  tls: {insecure_skip_verify: false}
//	  ice_servers:
//	    - urls: ["turn:turn.example.com:3478?transport=udp"]
//	      username: user
//	      credential: secret
//	  ice_transport_policy: all     # all | relay
//	  agent: "callme-js-sdk/5.2.0 loadgen"
//	  media_ports: {min: 40000, max: 49999}
//	mode: regular                   # regular | token
//	token:                          # mode: token only
//	  key_env: LOADGEN_TOKEN_KEY    # name of the environment variable holding the key
//	  realm: realm-test
//	  account: "caller-{n}@example.com"
//	load:                           # open model ...
//	  rate: 10                      # calls/s (the start rate when stages are given)
//	  stages: [{duration: 30s, target: 10}]
//	  arrivals: uniform             # uniform | poisson
//	  seed: 1                       # poisson only
//	  max_concurrent: 1000          # a start that finds the cap full is dropped
//	  duration: 2m
//	  max_calls: 0
//	  # ... or closed model: concurrent: 20 (with duration and/or max_calls)
//	  #     failure_pause: 1s   # a slot whose call failed waits this long
//	call:
//	  caller: "sip:caller-{n}@example.com"
//	  callee: "callee-{n}@example.com"
//	  display_name: ""
//	  hold: 10s                     # or {distribution: uniform|exponential|normal, min, max, mean, stddev}
//	  audio: true
//	  video: false
//	  audio_file: ""                # Ogg/Opus; default: the embedded asset
//	  video_file: ""                # IVF/VP8; default: the embedded asset
//	  hold_unhold: [{at: 3s, duration: 2s}]
//	  ended_by: caller              # caller | gateway
//	  media_engine: pion            # pion | transport | pion-defaults
//	  timeouts: {start: 10s, answer: 30s, ice: 10s, dtls: 10s, media: 5s, end: 10s}
//	thresholds:
//	  connect: ["p(99) < 2s", {threshold: "p(50) < 300ms", abort_on_fail: true, delay_abort_eval: 10s}]
//	outputs: {metrics_listen: "127.0.0.1:9090", out_dir: results}
//	gateway: {answer_delay: 500ms, ringing: true, ringing_delay: 100ms, reject_ratio: 0, reject_status: 486}
//
// Templates (caller, callee, account) may contain {n}, replaced by the call's
// index in the run (from 0), so every call is a distinct user.
package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/metrics/threshold"
)

// Defaults applied to keys that are absent from a scenario file. A key that
// is present is never replaced or clamped: an out-of-range value is an error.
const (
	// DefaultArrivals is the arrival process of the open model.
	DefaultArrivals = ArrivalsUniform
	// DefaultSeed seeds Poisson arrivals and hold-time sampling, so a run
	// can be replayed.
	DefaultSeed uint64 = 1
	// DefaultMaxConcurrent caps the calls in flight in the open model.
	DefaultMaxConcurrent = 1000
	// DefaultFailurePause is how long a closed-model slot whose call failed
	// waits before its next call, so a refusing gateway is not hammered.
	DefaultFailurePause = time.Second
	// DefaultCaller is the caller template (regular mode's from).
	DefaultCaller = "sip:caller-{n}@example.com"
	// DefaultCallee is the callee template (the REST path user and the to).
	DefaultCallee = "callee-{n}@example.com"
	// DefaultAccount is the token-mode account template.
	DefaultAccount = "caller-{n}@example.com"
	// DefaultHold is the time a call stays up once media flows.
	DefaultHold = 10 * time.Second
	// DefaultStartTimeout bounds each of subscribe, websocket and callStart.
	DefaultStartTimeout = 10 * time.Second
	// DefaultAnswerTimeout bounds the wait for the answer SDP after the
	// callStart was accepted (the SDK never times out here; loadgen must).
	DefaultAnswerTimeout = 30 * time.Second
	// DefaultICETimeout bounds ICE from the answer to connected.
	DefaultICETimeout = 10 * time.Second
	// DefaultDTLSTimeout bounds DTLS from ICE connected to connected.
	DefaultDTLSTimeout = 10 * time.Second
	// DefaultMediaTimeout bounds the wait for the first remote RTP packet
	// after DTLS connected.
	DefaultMediaTimeout = 5 * time.Second
	// DefaultEndTimeout bounds each of the ending requests (DELETE of the
	// call session, DELETE of the subscription), and the wait for a
	// gateway-ended call's callEnd after its hold time.
	DefaultEndTimeout = 10 * time.Second
	// DefaultRejectStatus is the status the embedded gateway answers a
	// rejected call with when reject_ratio > 0.
	DefaultRejectStatus = 486
	// DefaultRinging makes the embedded gateway send ringing.
	DefaultRinging = true
)

// Mode is how calls authenticate.
type Mode string

// The modes.
const (
	// ModeRegular is the regular anonymous call (callee as path user).
	ModeRegular Mode = "regular"
	// ModeToken is the token-based anonymous call (fresh tokens per call).
	ModeToken Mode = "token"
)

// Arrivals is the arrival process of the open model.
type Arrivals string

// The arrival processes.
const (
	// ArrivalsUniform starts calls evenly spaced at the planned rate.
	ArrivalsUniform Arrivals = "uniform"
	// ArrivalsPoisson starts calls as a (seeded) Poisson process of the
	// planned rate.
	ArrivalsPoisson Arrivals = "poisson"
)

// ICEPolicy is the ICE transport policy.
type ICEPolicy string

// The ICE transport policies.
const (
	// ICEAll uses every candidate type.
	ICEAll ICEPolicy = "all"
	// ICERelay uses TURN relay candidates only (to load the TURN servers too).
	ICERelay ICEPolicy = "relay"
)

// EndedBy says who ends a call after its hold time.
type EndedBy string

// Who ends the call.
const (
	// EndedByCaller: loadgen hangs up (DELETE) after the hold time.
	EndedByCaller EndedBy = "caller"
	// EndedByGateway: loadgen waits for the gateway's callEnd after the hold
	// time (at most timeouts.end), then cleans up.
	EndedByGateway EndedBy = "gateway"
)

// MediaEngine is how the generator builds its call peers.
type MediaEngine string

// The media engines.
const (
	// EnginePion is the lean pion engine: one webrtc.API and certificate
	// per process, only the interceptors the statistics need, a shared
	// pacer (the default).
	EnginePion MediaEngine = "pion"
	// EngineTransport is loadgen's own per-core media transport: shared
	// UDP sockets read and written in batches, ICE, DTLS and SRTP driven
	// synchronously. It gathers host candidates only: no STUN or TURN.
	EngineTransport MediaEngine = "transport"
	// EnginePionDefaults builds peers the way a straightforward pion
	// program does (a certificate per call, pion's default interceptors, a
	// ticker per track): for comparison benchmarks.
	EnginePionDefaults MediaEngine = "pion-defaults"
)

// DefaultMediaEngine is the engine of a scenario that names none.
const DefaultMediaEngine = EnginePion

// MediaEngines lists the engines, the default first.
func MediaEngines() []MediaEngine {
	return []MediaEngine{EnginePion, EngineTransport, EnginePionDefaults}
}

// ParseMediaEngine maps an engine's name to its MediaEngine.
func ParseMediaEngine(name string) (MediaEngine, error) {
	for _, e := range MediaEngines() {
		if string(e) == name {
			return e, nil
		}
	}
	return "", fmt.Errorf("scenario: unknown media engine %q (want %s)", name, engineNames())
}

// engineNames lists the engines' names for messages: "pion", "transport" or "pion-defaults".
func engineNames() string {
	es := MediaEngines()
	q := make([]string, len(es))
	for i, e := range es {
		q[i] = strconv.Quote(string(e))
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// Distribution is the shape of the hold time.
type Distribution string

// The hold-time distributions.
const (
	// DistFixed is a constant hold time (written as a plain duration).
	DistFixed Distribution = "fixed"
	// DistUniform is uniform on [min, max].
	DistUniform Distribution = "uniform"
	// DistExponential has the given mean, clamped to [min, max] if given.
	DistExponential Distribution = "exponential"
	// DistNormal has the given mean and stddev, clamped to [min, max]
	// (min defaults to 0: a hold time is never negative).
	DistNormal Distribution = "normal"
)

// Scenario is one decoded scenario file. Build it with Load or Parse; a
// Scenario built in code can be checked with Validate.
type Scenario struct {
	// Name labels the run's metrics; default: the file's base name.
	Name string
	// Target is the gateway to load; Embedded when no rest_url is given.
	Target Target
	// Mode is regular or token (default regular).
	Mode Mode
	// Token holds token-mode settings; nil in regular mode.
	Token *Token
	// Load is the load model.
	Load LoadModel
	// Call describes each call.
	Call Call
	// Thresholds are the pass/fail criteria, in file order.
	Thresholds []Threshold
	// Outputs says where results go.
	Outputs Outputs
	// Gateway tunes the embedded gateway (ignored by, and an error with, an
	// external target).
	Gateway Gateway

	file  string
	lines map[string]int // field path -> line, for Validate's messages
}

// Target is the gateway under load.
type Target struct {
	// RESTURL is "http(s)://host:port"; empty means the embedded gateway.
	RESTURL string
	// WSURL is "ws(s)://host:port"; default: RESTURL with the ws scheme.
	WSURL string
	// InsecureSkipVerify accepts any TLS certificate (labs only).
	InsecureSkipVerify bool
	// ICEServers are the STUN/TURN servers given to every call.
	ICEServers []ICEServer
	// ICETransportPolicy is all (default) or relay.
	ICETransportPolicy ICEPolicy
	// Agent is the X-Cpaas-Agent header; empty means the signal package's
	// default ("callme-js-sdk/5.2.0 loadgen/<version>").
	Agent string
	// PortMin and PortMax bound the UDP ports of media sockets; both zero
	// means ephemeral ports.
	PortMin, PortMax uint16
	// MediaIPs are the local addresses media candidates are gathered on
	// (hosts with several interfaces; empty: every usable interface, or
	// 127.0.0.1 for a gateway on this host).
	MediaIPs []string
}

// Embedded reports whether the run uses the built-in gateway.
func (t Target) Embedded() bool { return t.RESTURL == "" }

// ICEServer is one STUN or TURN server.
type ICEServer struct {
	// URLs are stun:, stuns:, turn: or turns: URLs.
	URLs []string
	// Username and Credential authenticate to TURN.
	Username, Credential string
}

// Token is token mode's configuration. The key itself is never in the file.
type Token struct {
	// KeyEnv names the environment variable holding the 16- or 32-character
	// realm key.
	KeyEnv string
	// Realm is sent as ?tokenrealm= on every REST request.
	Realm string
	// Account is the caller account template (default DefaultAccount).
	Account string
}

// LoadModel is the load model: open (Rate/Stages) or closed (Concurrent).
type LoadModel struct {
	// Rate is the arrival rate in calls/s; with Stages, the rate at time 0
	// (default 0 then).
	Rate float64
	// Stages ramp the rate linearly, each from the previous target (or Rate)
	// to its Target over its Duration, as k6's ramping-arrival-rate.
	Stages []Stage
	// Arrivals is uniform (default) or poisson.
	Arrivals Arrivals
	// Seed seeds Poisson arrivals and hold-time sampling (default DefaultSeed).
	Seed uint64
	// MaxConcurrent caps calls in flight (open model; default
	// DefaultMaxConcurrent); a start that finds it full is dropped.
	MaxConcurrent int
	// Duration is how long new calls start; with Stages it is their sum.
	Duration time.Duration
	// MaxCalls stops the run after this many starts (0: no limit).
	MaxCalls uint64
	// FailurePause is how long a closed-model slot whose call failed waits
	// before starting the next one (DefaultFailurePause; 0: at once).
	FailurePause time.Duration
	// Concurrent, when > 0, selects the closed model: keep this many calls
	// up, replacing each that ends.
	Concurrent int
}

// Closed reports whether the load is the closed model.
func (l LoadModel) Closed() bool { return l.Concurrent > 0 }

// TotalDuration is how long calls start: Duration, or the sum of the stages.
func (l LoadModel) TotalDuration() time.Duration {
	if len(l.Stages) == 0 {
		return l.Duration
	}
	var d time.Duration
	for _, s := range l.Stages {
		d += s.Duration
	}
	return d
}

// Stage is one linear ramp of the arrival rate.
type Stage struct {
	// Duration of the ramp (> 0).
	Duration time.Duration
	// Target is the rate in calls/s at the end of the stage.
	Target float64
}

// Call describes what every call does.
type Call struct {
	// Caller and Callee are templates with {n}.
	Caller, Callee string
	// DisplayName is the caller's display name (regular mode only).
	DisplayName string
	// Hold is how long the call stays up once media flows.
	Hold Hold
	// Audio and Video select the media streams (default audio only).
	// Every call carries audio (the media engine has no video-only calls),
	// so Audio must stay true; it exists so that a file says so.
	Audio, Video bool
	// AudioFile and VideoFile replace the embedded media (Ogg/Opus,
	// IVF/VP8); relative paths are resolved against the scenario's
	// directory.
	AudioFile, VideoFile string
	// HoldUnhold puts the call on hold at offsets into the hold time.
	HoldUnhold []HoldUnhold
	// EndedBy is caller (default) or gateway.
	EndedBy EndedBy
	// MediaEngine builds the call peers: pion (default), transport (host
	// candidates only: no ICE servers, no relay policy) or pion-defaults.
	MediaEngine MediaEngine
	// Timeouts bound each phase.
	Timeouts Timeouts
}

// Hold is a hold time: fixed or drawn from a distribution.
type Hold struct {
	// Distribution is fixed, uniform, exponential or normal.
	Distribution Distribution
	// Fixed is the hold time of DistFixed.
	Fixed time.Duration
	// Min and Max bound the samples (uniform: required; others: optional,
	// Max zero meaning unbounded).
	Min, Max time.Duration
	// Mean of exponential and normal.
	Mean time.Duration
	// StdDev of normal.
	StdDev time.Duration
}

// HoldUnhold is one mid-call hold: at At into the hold time the call is put
// on hold, and Duration later taken off hold.
type HoldUnhold struct {
	// At is the offset into the hold time.
	At time.Duration
	// Duration is how long the call stays on hold.
	Duration time.Duration
}

// Timeouts bound the phases of a call; every one must be > 0.
type Timeouts struct {
	// Start bounds each of subscribe, websocket and callStart (offer
	// included), and each hold/unhold request (DefaultStartTimeout).
	Start time.Duration
	// Answer bounds the wait for the answer SDP, and for the answer to a
	// hold/unhold (DefaultAnswerTimeout).
	Answer time.Duration
	// ICE bounds ICE from the applied answer to connected (DefaultICETimeout).
	ICE time.Duration
	// DTLS bounds DTLS from ICE connected to connected (DefaultDTLSTimeout).
	DTLS time.Duration
	// Media bounds the wait for the first remote RTP packet
	// (DefaultMediaTimeout).
	Media time.Duration
	// End bounds each ending request, and the wait for a gateway-ended
	// call's callEnd (DefaultEndTimeout).
	End time.Duration
}

// Threshold is one threshold expression as written, with its parsed form.
type Threshold struct {
	// Metric and Expr as written, e.g. "connect" and "p(99) < 2s".
	Metric, Expr string
	// AbortOnFail stops the run as soon as the threshold is crossed.
	AbortOnFail bool
	// DelayAbortEval delays the first abort evaluation.
	DelayAbortEval time.Duration
	// Line is the expression's line in the file (0 if built in code).
	Line int
	// Parsed is filled by Validate when the expression is valid.
	Parsed threshold.Threshold
}

// Outputs says where results go; the command line may override them.
type Outputs struct {
	// MetricsListen is a host:port for the Prometheus endpoint ("" = none).
	MetricsListen string
	// OutDir receives summary.json, the .hlog files and calls.jsonl ("" = none).
	OutDir string
	// MetricsLinger keeps /metrics up this long after the run, with the
	// final values (0: it stops with the run).
	MetricsLinger time.Duration
	// HistogramBuckets are the classic Prometheus bucket bounds of the
	// phase histograms, in seconds, ascending (nil: 2^(i/8) s from about
	// 1 ms to 64 s, within 10 % of the HDR percentiles from 5 ms to 10 s).
	HistogramBuckets []float64
}

// Gateway tunes the embedded gateway.
type Gateway struct {
	// AnswerDelay is the least time between the callStart response and the
	// answer; nil means the gateway package's default.
	AnswerDelay *time.Duration
	// Ringing makes it send ringing (default DefaultRinging).
	Ringing bool
	// RingingDelay delays ringing after the callStart response; nil means
	// the gateway package's default.
	RingingDelay *time.Duration
	// RejectRatio is the fraction of calls rejected (0..1).
	RejectRatio float64
	// RejectStatus is the status of rejected calls (default DefaultRejectStatus).
	RejectStatus int
}

// defaults returns a Scenario holding every default.
func defaults() *Scenario {
	return &Scenario{
		Target: Target{ICETransportPolicy: ICEAll},
		Mode:   ModeRegular,
		Load:   LoadModel{Arrivals: DefaultArrivals, Seed: DefaultSeed, MaxConcurrent: DefaultMaxConcurrent, FailurePause: DefaultFailurePause},
		Call: Call{
			Caller: DefaultCaller, Callee: DefaultCallee,
			Hold:        Hold{Distribution: DistFixed, Fixed: DefaultHold},
			Audio:       true,
			EndedBy:     EndedByCaller,
			MediaEngine: DefaultMediaEngine,
			Timeouts: Timeouts{
				Start: DefaultStartTimeout, Answer: DefaultAnswerTimeout, ICE: DefaultICETimeout,
				DTLS: DefaultDTLSTimeout, Media: DefaultMediaTimeout, End: DefaultEndTimeout,
			},
		},
		Gateway: Gateway{Ringing: DefaultRinging, RejectStatus: DefaultRejectStatus},
		lines:   map[string]int{},
	}
}

// File is the path the scenario was loaded from ("" if built in code).
func (s *Scenario) File() string { return s.file }

// Expand replaces every {n} in a template with the call index n.
func Expand(template string, n uint64) string {
	return strings.ReplaceAll(template, "{n}", strconv.FormatUint(n, 10))
}

// Errorf returns a problem of this scenario at the field path, located at
// the line the field (or its closest written ancestor) has in the file: for
// checks made outside this package (a media file's content, the token key in
// the environment), so they read like the file's own errors.
func (s *Scenario) Errorf(path, format string, a ...any) error {
	return &FieldError{File: s.file, Line: s.line(path), Path: path, Msg: fmt.Sprintf(format, a...)}
}
