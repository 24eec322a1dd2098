package scenario

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/metrics/threshold"
)

// envName is what a key_env value must look like.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// placeholder finds {...} in templates.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// validator collects a scenario's problems.
type validator struct {
	s    *Scenario
	errs []error
}

func (v *validator) errorf(path, format string, a ...any) {
	v.errs = append(v.errs, &FieldError{File: v.s.file, Line: v.s.line(path), Path: path, Msg: fmt.Sprintf(format, a...)})
}

// line finds the line of path, or of its closest ancestor that has one
// (the document's top mapping, recorded as "", for a top-level field).
func (s *Scenario) line(path string) int {
	for p := path; p != ""; {
		if l, ok := s.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return s.lines[""]
}

// has reports whether path was written in the file.
func (s *Scenario) has(path string) bool {
	_, ok := s.lines[path]
	return ok
}

// Validate checks every value and the consistency between them, returning
// every problem found (nil if none). It parses each threshold expression with
// threshold.Parse and stores the result in Threshold.Parsed. It does
// not read the token key's environment variable (see Token.Key).
func (s *Scenario) Validate() []error {
	if s.lines == nil {
		s.lines = map[string]int{}
	}
	v := &validator{s: s}
	if strings.TrimSpace(s.Name) == "" && s.has("name") {
		v.errorf("name", "must not be empty")
	}
	v.target()
	v.mode()
	v.load()
	v.call()
	v.thresholds()
	v.outputs()
	v.gateway()
	return v.errs
}

// target checks the target: its URLs, ICE servers and policy, agent,
// media IPs and ports.
func (v *validator) target() {
	t := &v.s.Target
	v.targetURLs(t)
	v.iceServers(t.ICEServers)
	switch t.ICETransportPolicy {
	case ICEAll:
	case ICERelay:
		if !hasTURN(t.ICEServers) {
			v.errorf("target.ice_transport_policy", "relay needs at least one turn: or turns: server in target.ice_servers")
		}
	default:
		v.errorf("target.ice_transport_policy", `must be "all" or "relay", got %q`, t.ICETransportPolicy)
	}
	if v.s.has("target.agent") && strings.TrimSpace(t.Agent) == "" {
		v.errorf("target.agent", "must not be empty")
	}
	for i, ip := range t.MediaIPs {
		if a := net.ParseIP(ip); a == nil || a.IsUnspecified() {
			v.errorf(index("target.media_ips", i), "must be a local IP address such as 10.0.0.5, got %q", ip)
		}
	}
	if (t.PortMin == 0) != (t.PortMax == 0) {
		v.errorf("target.media_ports", "needs both min and max")
	} else if t.PortMin > t.PortMax {
		v.errorf("target.media_ports", "min %d is above max %d", t.PortMin, t.PortMax)
	}
}

// targetURLs checks the gateway URLs (and derives ws_url from rest_url),
// or, for the embedded gateway, that none of the remote target's settings
// is set.
func (v *validator) targetURLs(t *Target) {
	if t.RESTURL == "" {
		if t.WSURL != "" {
			v.errorf("target.ws_url", "needs target.rest_url (without it the embedded gateway is used)")
		}
		if t.InsecureSkipVerify {
			v.errorf("target.tls.insecure_skip_verify", "needs target.rest_url (the embedded gateway is plain http)")
		}
	} else {
		v.url("target.rest_url", t.RESTURL, "http", "https")
		if t.WSURL == "" {
			t.WSURL = wsFromREST(t.RESTURL)
		} else {
			v.url("target.ws_url", t.WSURL, "ws", "wss")
		}
	}
}

// iceServers checks each ICE server's URLs and TURN credentials.
func (v *validator) iceServers(servers []ICEServer) {
	for i, srv := range servers {
		p := index("target.ice_servers", i)
		if len(srv.URLs) == 0 {
			v.errorf(p+".urls", "must list at least one stun:, stuns:, turn: or turns: URL")
		}
		for j, u := range srv.URLs {
			scheme, _, _ := strings.Cut(u, ":")
			switch scheme {
			case "stun", "stuns":
			case "turn", "turns":
				if srv.Username == "" || srv.Credential == "" {
					v.errorf(p, "TURN server %q needs username and credential", u)
				}
			default:
				v.errorf(index(p+".urls", j), "must start with stun:, stuns:, turn: or turns:, got %q", u)
			}
		}
	}
}

func hasTURN(ss []ICEServer) bool {
	for _, s := range ss {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				return true
			}
		}
	}
	return false
}

// wsFromREST derives the websocket base from the REST base. URL schemes
// are case-insensitive (RFC 3986 §3.1): "HTTP://h:1" gives "ws://h:1".
func wsFromREST(rest string) string {
	if len(rest) >= len("https://") && strings.EqualFold(rest[:len("https://")], "https://") {
		return "wss://" + rest[len("https://"):]
	}
	if len(rest) >= len("http://") && strings.EqualFold(rest[:len("http://")], "http://") {
		rest = rest[len("http://"):]
	}
	return "ws://" + rest
}

func (v *validator) url(path, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil {
		v.errorf(path, "not a URL: %v", err)
		return
	}
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	switch {
	case !ok:
		v.errorf(path, "scheme must be %s, got %q", strings.Join(schemes, " or "), raw)
	case u.Hostname() == "":
		v.errorf(path, "needs a host, got %q", raw)
	case u.Port() == "":
		v.errorf(path, "needs an explicit port (e.g. %s://%s:443), got %q", u.Scheme, u.Hostname(), raw)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "":
		v.errorf(path, "must be scheme://host:port only, got %q", raw)
	}
}

func (v *validator) mode() {
	s := v.s
	switch s.Mode {
	case ModeRegular:
		if s.Token != nil {
			v.errorf("token", "only used with mode: token")
		}
	case ModeToken:
		if s.Token == nil {
			v.errorf("mode", "token mode needs a token section (key_env, realm)")
			return
		}
		t := s.Token
		switch {
		case t.KeyEnv == "":
			v.errorf("token.key_env", "required: the name of the environment variable holding the key")
		case !envName.MatchString(t.KeyEnv):
			v.errorf("token.key_env", "must be an environment variable name, got %q (the key itself never goes in the file)", t.KeyEnv)
		}
		if t.Realm == "" {
			v.errorf("token.realm", "required")
		}
		v.template("token.account", t.Account)
		if s.has("call.display_name") {
			v.errorf("call.display_name", "only used in regular mode")
		}
		if s.has("call.caller") {
			v.errorf("call.caller", "not used in token mode (the caller is token.account)")
		}
	default:
		v.errorf("mode", `must be "regular" or "token", got %q`, s.Mode)
	}
}

func (v *validator) template(path, t string) {
	if strings.TrimSpace(t) == "" {
		v.errorf(path, "must not be empty")
		return
	}
	for _, m := range placeholder.FindAllString(t, -1) {
		if m != "{n}" {
			v.errorf(path, "unknown placeholder %q (only {n} is supported)", m)
		}
	}
}

func (v *validator) positiveDur(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "must be > 0, got %s", d)
	}
}

func (v *validator) load() {
	l := &v.s.Load
	s := v.s
	if l.MaxCalls == 0 && s.has("load.max_calls") {
		v.errorf("load.max_calls", "must be > 0 (leave it out for no limit)")
	}
	if s.has("load.duration") {
		v.positiveDur("load.duration", l.Duration)
	}
	if s.has("load.concurrent") || l.Concurrent != 0 {
		v.closedLoad()
		return
	}
	if s.has("load.failure_pause") {
		v.errorf("load.failure_pause", "only used with load.concurrent (the open model's starts follow its rate, not the calls' ends)")
	}
	if l.Rate < 0 || notFinite(l.Rate) {
		v.errorf("load.rate", "must be >= 0, got %g", l.Rate)
	}
	if len(l.Stages) == 0 {
		v.constantRate()
	} else {
		v.stages()
	}
	v.arrivals()
	if l.MaxConcurrent <= 0 {
		v.errorf("load.max_concurrent", "must be > 0, got %d", l.MaxConcurrent)
	}
}

// closedLoad checks the closed model (load.concurrent), which takes none of
// the open model's fields.
func (v *validator) closedLoad() {
	l := &v.s.Load
	s := v.s
	if l.Concurrent <= 0 {
		v.errorf("load.concurrent", "must be > 0, got %d", l.Concurrent)
	}
	for _, k := range []string{"rate", "stages", "arrivals", "seed", "max_concurrent"} {
		if s.has("load." + k) {
			v.errorf("load."+k, "not used with load.concurrent (the closed model keeps exactly that many calls up)")
		}
	}
	v.needsEnd()
	if l.FailurePause < 0 {
		v.errorf("load.failure_pause", "must be >= 0, got %s", l.FailurePause)
	}
}

// constantRate checks an open model without stages: it needs a rate and an end.
func (v *validator) constantRate() {
	l := &v.s.Load
	s := v.s
	if s.has("load.stages") {
		v.errorf("load.stages", "must list at least one stage (or leave it out)")
	}
	if l.Rate == 0 {
		if s.has("load.rate") {
			v.errorf("load.rate", "must be > 0 (calls per second)")
		} else {
			v.errorf("load", "needs rate (calls/s), stages, or concurrent")
		}
	}
	v.needsEnd()
}

// needsEnd reports a load with neither a duration nor a call limit.
func (v *validator) needsEnd() {
	l := &v.s.Load
	if l.Duration <= 0 && l.MaxCalls == 0 && !v.s.has("load.duration") {
		v.errorf("load", "needs duration or max_calls, or the run never ends")
	}
}

// stages checks the staged open model: every stage, a total duration that
// fits a time.Duration, and a non-zero peak rate.
func (v *validator) stages() {
	l := &v.s.Load
	if v.s.has("load.duration") {
		v.errorf("load.duration", "not used with load.stages (the run lasts as long as the stages add up to)")
	}
	peak := l.Rate
	var total time.Duration
	for i, st := range l.Stages {
		p := index("load.stages", i)
		v.positiveDur(p+".duration", st.Duration)
		if st.Duration > 0 {
			if total > math.MaxInt64-st.Duration {
				v.errorf(p+".duration", "the stages add up to more than %s", time.Duration(math.MaxInt64))
			}
			total += min(st.Duration, math.MaxInt64-total)
		}
		if st.Target < 0 {
			v.errorf(p+".target", "must be >= 0, got %g", st.Target)
		}
		peak = max(peak, st.Target)
	}
	if peak <= 0 {
		v.errorf("load.stages", "every rate is 0: no call would start")
	}
}

// arrivals checks the arrival process and that a seed comes only with poisson.
func (v *validator) arrivals() {
	switch v.s.Load.Arrivals {
	case ArrivalsUniform:
		if v.s.has("load.seed") {
			v.errorf("load.seed", "only used with arrivals: poisson")
		}
	case ArrivalsPoisson:
	default:
		v.errorf("load.arrivals", `must be "uniform" or "poisson", got %q`, v.s.Load.Arrivals)
	}
}

// notFinite reports NaN or an infinity (possible in values built in code).
func notFinite(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

func (v *validator) call() {
	c := &v.s.Call
	if v.s.Mode != ModeToken {
		v.template("call.caller", c.Caller)
	}
	v.template("call.callee", c.Callee)
	if !c.Audio {
		v.errorf("call.audio", "must be true: every call carries audio (video-only calls are not supported)")
	}
	v.mediaFile("call.audio_file", c.AudioFile, c.Audio, "audio", ".ogg")
	v.mediaFile("call.video_file", c.VideoFile, c.Video, "video", ".ivf")
	maxHold := v.hold("call.hold", c.Hold)
	var prevEnd time.Duration
	for i, h := range c.HoldUnhold {
		p := index("call.hold_unhold", i)
		switch {
		case h.At < 0:
			v.errorf(p+".at", "must be >= 0, got %s", h.At)
		case i > 0 && h.At < prevEnd:
			v.errorf(p+".at", "must be at or after the previous hold's end (%s), got %s", prevEnd, h.At)
		}
		v.positiveDur(p+".duration", h.Duration)
		end := h.At + h.Duration
		if maxHold > 0 && end > maxHold {
			v.errorf(p, "ends at %s, after the longest hold time (%s)", end, maxHold)
		}
		prevEnd = end
	}
	switch c.EndedBy {
	case EndedByCaller, EndedByGateway:
	default:
		v.errorf("call.ended_by", `must be "caller" or "gateway", got %q`, c.EndedBy)
	}
	v.mediaEngine()
	t := c.Timeouts
	for _, x := range []struct {
		name string
		d    time.Duration
	}{{"start", t.Start}, {"answer", t.Answer}, {"ice", t.ICE}, {"dtls", t.DTLS}, {"media", t.Media}, {"end", t.End}} {
		v.positiveDur("call.timeouts."+x.name, x.d)
	}
}

// mediaEngine checks the engine's name, and that the transport engine, which
// gathers host candidates only, is given no ICE server and no relay policy.
func (v *validator) mediaEngine() {
	e := v.s.Call.MediaEngine
	if _, err := ParseMediaEngine(string(e)); err != nil {
		v.errorf("call.media_engine", "must be %s, got %q", engineNames(), e)
		return
	}
	if e != EngineTransport {
		return
	}
	t := v.s.Target
	if len(t.ICEServers) > 0 {
		v.errorf("call.media_engine", "transport gathers host candidates only; it cannot use ice servers (target.ice_servers; use pion)")
	}
	if t.ICETransportPolicy == ICERelay {
		v.errorf("call.media_engine", "transport gathers host candidates only; it cannot use ice_transport_policy: relay (use pion)")
	}
}

func (v *validator) mediaFile(path, file string, on bool, kind, ext string) {
	if file == "" {
		return
	}
	if !on {
		v.errorf(path, "set but call.%s is false", kind)
		return
	}
	if !strings.EqualFold(fileExt(file), ext) {
		v.errorf(path, "must be a %s file, got %q", ext, file)
		return
	}
	if _, err := os.Stat(file); err != nil {
		v.errorf(path, "%v", err)
	}
}

func fileExt(p string) string {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return ""
	}
	return p[i:]
}

// hold validates a hold time and returns its largest possible value (0 if
// unbounded).
func (v *validator) hold(path string, h Hold) time.Duration {
	forbid := func(name string, set bool, why string) {
		if set {
			v.errorf(path+"."+name, "not used by %s", why)
		}
	}
	switch h.Distribution {
	case DistFixed:
		if h.Fixed < 0 {
			v.errorf(path, "must be >= 0, got %s", h.Fixed)
		}
		return h.Fixed
	case DistUniform:
		forbid("mean", h.Mean != 0, "the uniform distribution")
		forbid("stddev", h.StdDev != 0, "the uniform distribution")
		if !v.s.has(path+".max") && h.Max == 0 {
			v.errorf(path+".max", "required by the uniform distribution")
		}
		v.bounds(path, h)
		return h.Max
	case DistExponential:
		forbid("stddev", h.StdDev != 0, "the exponential distribution")
		v.positiveDur(path+".mean", h.Mean)
		v.bounds(path, h)
		return h.Max
	case DistNormal:
		v.positiveDur(path+".mean", h.Mean)
		v.positiveDur(path+".stddev", h.StdDev)
		v.bounds(path, h)
		return h.Max
	case "":
		return 0 // reported by the decoder
	default:
		v.errorf(path+".distribution", `must be "uniform", "exponential" or "normal", got %q`, h.Distribution)
		return 0
	}
}

func (v *validator) bounds(path string, h Hold) {
	if h.Min < 0 {
		v.errorf(path+".min", "must be >= 0, got %s", h.Min)
	}
	if h.Max < 0 {
		v.errorf(path+".max", "must be >= 0, got %s", h.Max)
	}
	if h.Max > 0 && h.Min > h.Max {
		v.errorf(path, "min %s is above max %s", h.Min, h.Max)
	}
	if h.Max > 0 && h.Mean > h.Max {
		v.errorf(path+".mean", "%s is above max %s", h.Mean, h.Max)
	}
	if h.Mean > 0 && h.Mean < h.Min {
		v.errorf(path+".mean", "%s is below min %s", h.Mean, h.Min)
	}
}

func (v *validator) thresholds() {
	seen := map[string]int{}
	for i := range v.s.Thresholds {
		t := &v.s.Thresholds[i]
		n := seen[t.Metric]
		seen[t.Metric] = n + 1
		p := index(join("thresholds", t.Metric), n)
		line := t.Line
		if line == 0 {
			line = v.s.line(p)
		}
		fail := func(format string, a ...any) {
			v.errs = append(v.errs, &FieldError{File: v.s.file, Line: line, Path: p, Msg: fmt.Sprintf(format, a...)})
		}
		parsed, err := threshold.Parse(t.Metric, t.Expr)
		if err != nil {
			fail("%s", strings.TrimPrefix(err.Error(), t.Metric+": "))
			continue
		}
		t.Parsed = parsed
		if t.DelayAbortEval < 0 {
			fail("delay_abort_eval must be >= 0, got %s", t.DelayAbortEval)
		}
		if t.DelayAbortEval > 0 && !t.AbortOnFail {
			fail("delay_abort_eval needs abort_on_fail: true")
		}
	}
}

func (v *validator) outputs() {
	o := v.s.Outputs
	for i, b := range o.HistogramBuckets {
		if !(b > 0) || notFinite(b) {
			v.errorf(index("outputs.histogram_buckets", i), "must be a positive number of seconds, got %g", b)
		} else if i > 0 && b <= o.HistogramBuckets[i-1] {
			v.errorf(index("outputs.histogram_buckets", i), "must be above the previous bound %g (ascending), got %g", o.HistogramBuckets[i-1], b)
		}
	}
	if o.MetricsLinger < 0 {
		v.errorf("outputs.metrics_linger", "must be >= 0, got %s", o.MetricsLinger)
	}
	if o.MetricsListen != "" {
		_, port, err := net.SplitHostPort(o.MetricsListen)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			v.errorf("outputs.metrics_listen", `must be host:port such as "127.0.0.1:9090" or ":9090", got %q`, o.MetricsListen)
		}
	}
	if v.s.has("outputs.out_dir") && strings.TrimSpace(o.OutDir) == "" {
		v.errorf("outputs.out_dir", "must not be empty (leave it out for no result files)")
	}
}

func (v *validator) gateway() {
	g := v.s.Gateway
	if !v.s.Target.Embedded() {
		if v.s.has("gateway") {
			v.errorf("gateway", "only used with the embedded gateway (target.rest_url is set)")
		}
		return
	}
	if g.AnswerDelay != nil && *g.AnswerDelay < 0 {
		v.errorf("gateway.answer_delay", "must be >= 0, got %s", *g.AnswerDelay)
	}
	if g.RingingDelay != nil && *g.RingingDelay < 0 {
		v.errorf("gateway.ringing_delay", "must be >= 0, got %s", *g.RingingDelay)
	}
	if !g.Ringing && v.s.has("gateway.ringing_delay") {
		v.errorf("gateway.ringing_delay", "set but gateway.ringing is false")
	}
	if g.RejectRatio < 0 || g.RejectRatio > 1 || notFinite(g.RejectRatio) {
		v.errorf("gateway.reject_ratio", "must be between 0 and 1, got %g", g.RejectRatio)
	}
	if g.RejectStatus < 400 || g.RejectStatus > 699 {
		v.errorf("gateway.reject_status", "must be an error status from 400 to 699, got %d", g.RejectStatus)
	}
}

// Key reads token mode's key from the environment variable named by KeyEnv,
// through getenv (os.Getenv in the CLI). It fails when the variable is unset
// or empty; the key's format is checked by the token package.
func (t *Token) Key(getenv func(string) string) (string, error) {
	k := getenv(t.KeyEnv)
	if k == "" {
		return "", fmt.Errorf("scenario: token key: environment variable %s is not set", t.KeyEnv)
	}
	return k, nil
}
