package scenario

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a scenario, located by file, line and field
// path. It reads `scenarios/x.yaml:12: load.stages[2].duration: must be > 0`.
type FieldError struct {
	// File is the scenario's path ("" for a Scenario built in code).
	File string
	// Line is the 1-based line of the offending key or value (0 if unknown).
	Line int
	// Path is the field path, e.g. "load.stages[2].duration".
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as file:line: path: message.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a scenario, in file order. Its Error
// joins them one per line; errors.As finds each *FieldError.
type Errors []error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems.
func (es Errors) Unwrap() []error { return es }

// Load reads, decodes and validates the scenario file at path. A decoding or
// validation failure is an Errors listing every problem.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario; file names it in messages and
// anchors relative media paths. Unknown keys, wrong types and invalid values
// are all reported together as an Errors.
func Parse(file string, data []byte) (*Scenario, error) {
	s := defaults()
	s.file = file
	if file != "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	d := &decoder{file: file, lines: s.lines}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := yamlErr(err)
		return nil, Errors{&FieldError{File: file, Line: line, Msg: msg}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, Errors{&FieldError{File: file, Line: 1, Msg: "empty scenario"}}
	}
	// A problem with no line of its own (a required top-level field left
	// out) points at the document's top mapping.
	s.lines[""] = root.Content[0].Line
	d.scenario(root.Content[0], s)
	errs := d.errs
	for _, e := range s.Validate() {
		// A value that failed to decode also fails validation (it kept its
		// default); report it once.
		var fe *FieldError
		if errors.As(e, &fe) && d.failed(fe.Path) {
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, Errors(errs)
	}
	return s, nil
}

// yamlErr splits a yaml syntax error "yaml: line N: msg" into N and msg.
// yaml.v3 leaves the line out for a problem on the first line, so a
// message without one is on line 1.
func yamlErr(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 1, msg
	}
	num, text, ok := strings.Cut(rest, ": ")
	n, perr := strconv.Atoi(num)
	if !ok || perr != nil || n <= 0 {
		return 1, msg
	}
	return n, text
}

// failed reports whether the decoder already reported a problem at path.
func (d *decoder) failed(path string) bool {
	for _, e := range d.errs {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Path == path {
			return true
		}
	}
	return false
}

// sortErrors orders problems by line (stable, so one line's problems keep
// their order).
func sortErrors(errs []error) {
	line := func(e error) int {
		var fe *FieldError
		if errors.As(e, &fe) {
			return fe.Line
		}
		return 0
	}
	sort.SliceStable(errs, func(i, j int) bool { return line(errs[i]) < line(errs[j]) })
}

// decoder walks a yaml.Node tree, filling a Scenario and collecting every
// problem rather than stopping at the first.
type decoder struct {
	file  string
	errs  []error
	lines map[string]int
}

func (d *decoder) errorf(n *yaml.Node, path, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, a...)})
}

// field is one known key of a mapping and how to decode its value.
type field struct {
	name   string
	decode func(n *yaml.Node, path string)
}

// join appends key to path. A key holding control characters (a line
// break) is quoted, so that every message stays on one line.
func join(path, key string) string {
	if strings.ContainsFunc(key, unicode.IsControl) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// mapping decodes a mapping node with the given known fields, reporting
// unknown keys (with a suggestion), duplicates and null values.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, got %s", describeNode(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, p, "duplicate field (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		var f *field
		for j := range fields {
			if fields[j].name == k.Value {
				f = &fields[j]
				break
			}
		}
		if f == nil {
			names := make([]string, len(fields))
			for j, ff := range fields {
				names[j] = ff.name
			}
			if s := suggest(k.Value, names); s != "" {
				d.errorf(k, p, "unknown field (did you mean %q?)", s)
			} else {
				d.errorf(k, p, "unknown field (known: %s)", strings.Join(names, ", "))
			}
			continue
		}
		d.lines[p] = k.Line
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			d.errorf(v, p, "missing value")
			continue
		}
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		f.decode(v, p)
	}
}

// describeNode names a node's kind for "must be X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	default:
		return "nothing"
	}
}

func (d *decoder) scalar(n *yaml.Node, path, what string) bool {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be %s, got %s", what, describeNode(n))
		return false
	}
	return true
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if d.scalar(n, path, "a string") {
			*dst = n.Value
		}
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !d.scalar(n, path, "true or false") {
			return
		}
		switch n.Value {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			d.errorf(n, path, "must be true or false, got %q", n.Value)
		}
	}
}

func (d *decoder) float(dst *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !d.scalar(n, path, "a number") {
			return
		}
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || n.Tag == "!!str" || math.IsNaN(v) || math.IsInf(v, 0) {
			d.errorf(n, path, "must be a finite number, got %q", n.Value)
			return
		}
		*dst = v
	}
}

// integer decodes a whole number in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	if !d.scalar(n, path, "a whole number") {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil || n.Tag == "!!str" {
		d.errorf(n, path, "must be a whole number, got %q", n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

func (d *decoder) intField(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v, ok := d.integer(n, path, math.MinInt32, math.MaxInt32); ok {
			*dst = int(v)
		}
	}
}

func (d *decoder) uintField(dst *uint64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !d.scalar(n, path, "a whole number") {
			return
		}
		v, err := strconv.ParseUint(n.Value, 10, 64)
		if err != nil || n.Tag == "!!str" {
			d.errorf(n, path, "must be a whole number >= 0, got %q", n.Value)
			return
		}
		*dst = v
	}
}

func (d *decoder) port(dst *uint16) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v, ok := d.integer(n, path, 1, 65535); ok {
			*dst = uint16(v)
		}
	}
}

func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !d.scalar(n, path, `a duration such as "30s"`) {
			return
		}
		v, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, path, `must be a duration such as "30s" or "1m30s", got %q`, n.Value)
			return
		}
		*dst = v
	}
}

// optDuration decodes a duration whose absence means "the default".
func (d *decoder) optDuration(dst **time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		var v time.Duration
		ok := len(d.errs)
		d.duration(&v)(n, path)
		if len(d.errs) == ok {
			*dst = &v
		}
	}
}

// list decodes a sequence, calling item for each element.
func (d *decoder) list(n *yaml.Node, path string, item func(i int, n *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list, got %s", describeNode(n))
		return
	}
	for i, c := range n.Content {
		p := index(path, i)
		d.lines[p] = c.Line
		if c.Kind == yaml.AliasNode {
			c = c.Alias
		}
		item(i, c, p)
	}
}

func (d *decoder) scenario(n *yaml.Node, s *Scenario) {
	d.mapping(n, "", []field{
		{"name", d.str(&s.Name)},
		{"target", func(n *yaml.Node, p string) { d.target(n, p, &s.Target) }},
		{"mode", d.str((*string)(&s.Mode))},
		{"token", func(n *yaml.Node, p string) {
			s.Token = &Token{Account: DefaultAccount}
			d.mapping(n, p, []field{
				{"key_env", d.str(&s.Token.KeyEnv)},
				{"realm", d.str(&s.Token.Realm)},
				{"account", d.str(&s.Token.Account)},
			})
		}},
		{"load", func(n *yaml.Node, p string) { d.load(n, p, &s.Load) }},
		{"call", func(n *yaml.Node, p string) { d.call(n, p, &s.Call) }},
		{"thresholds", func(n *yaml.Node, p string) { d.thresholds(n, p, &s.Thresholds) }},
		{"outputs", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"metrics_listen", d.str(&s.Outputs.MetricsListen)},
				{"out_dir", d.str(&s.Outputs.OutDir)},
				{"metrics_linger", d.duration(&s.Outputs.MetricsLinger)},
				{"histogram_buckets", func(n *yaml.Node, p string) {
					d.list(n, p, func(_ int, n *yaml.Node, p string) {
						var b float64
						d.float(&b)(n, p)
						s.Outputs.HistogramBuckets = append(s.Outputs.HistogramBuckets, b)
					})
				}},
			})
		}},
		{"gateway", func(n *yaml.Node, p string) {
			g := &s.Gateway
			d.mapping(n, p, []field{
				{"answer_delay", d.optDuration(&g.AnswerDelay)},
				{"ringing", d.boolean(&g.Ringing)},
				{"ringing_delay", d.optDuration(&g.RingingDelay)},
				{"reject_ratio", d.float(&g.RejectRatio)},
				{"reject_status", d.intField(&g.RejectStatus)},
			})
		}},
	})
	if s.Call.AudioFile != "" {
		s.Call.AudioFile = d.resolve(s.Call.AudioFile)
	}
	if s.Call.VideoFile != "" {
		s.Call.VideoFile = d.resolve(s.Call.VideoFile)
	}
}

// resolve anchors a relative path at the scenario file's directory.
func (d *decoder) resolve(p string) string {
	if filepath.IsAbs(p) || d.file == "" {
		return p
	}
	return filepath.Join(filepath.Dir(d.file), p)
}

func (d *decoder) target(n *yaml.Node, path string, t *Target) {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "embedded" {
			d.errorf(n, path, `must be "embedded" or a mapping with rest_url, got %q`, n.Value)
		}
		return
	}
	d.mapping(n, path, []field{
		{"rest_url", d.str(&t.RESTURL)},
		{"ws_url", d.str(&t.WSURL)},
		{"tls", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{{"insecure_skip_verify", d.boolean(&t.InsecureSkipVerify)}})
		}},
		{"ice_servers", func(n *yaml.Node, p string) {
			d.list(n, p, func(_ int, n *yaml.Node, p string) {
				var s ICEServer
				d.mapping(n, p, []field{
					{"urls", func(n *yaml.Node, p string) {
						if n.Kind == yaml.ScalarNode {
							s.URLs = []string{n.Value}
							return
						}
						d.list(n, p, func(_ int, n *yaml.Node, p string) {
							var u string
							d.str(&u)(n, p)
							s.URLs = append(s.URLs, u)
						})
					}},
					{"username", d.str(&s.Username)},
					{"credential", d.str(&s.Credential)},
				})
				t.ICEServers = append(t.ICEServers, s)
			})
		}},
		{"ice_transport_policy", d.str((*string)(&t.ICETransportPolicy))},
		{"agent", d.str(&t.Agent)},
		{"media_ports", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{{"min", d.port(&t.PortMin)}, {"max", d.port(&t.PortMax)}})
		}},
		{"media_ips", func(n *yaml.Node, p string) {
			d.list(n, p, func(_ int, n *yaml.Node, p string) {
				var ip string
				d.str(&ip)(n, p)
				t.MediaIPs = append(t.MediaIPs, ip)
			})
		}},
	})
}

func (d *decoder) load(n *yaml.Node, path string, l *LoadModel) {
	d.mapping(n, path, []field{
		{"rate", d.float(&l.Rate)},
		{"stages", func(n *yaml.Node, p string) {
			d.list(n, p, func(_ int, n *yaml.Node, p string) {
				var s Stage
				d.mapping(n, p, []field{{"duration", d.duration(&s.Duration)}, {"target", d.float(&s.Target)}})
				l.Stages = append(l.Stages, s)
			})
		}},
		{"arrivals", d.str((*string)(&l.Arrivals))},
		{"seed", d.uintField(&l.Seed)},
		{"max_concurrent", d.intField(&l.MaxConcurrent)},
		{"duration", d.duration(&l.Duration)},
		{"max_calls", d.uintField(&l.MaxCalls)},
		{"concurrent", d.intField(&l.Concurrent)},
		{"failure_pause", d.duration(&l.FailurePause)},
	})
}

func (d *decoder) call(n *yaml.Node, path string, c *Call) {
	d.mapping(n, path, []field{
		{"caller", d.str(&c.Caller)},
		{"callee", d.str(&c.Callee)},
		{"display_name", d.str(&c.DisplayName)},
		{"hold", func(n *yaml.Node, p string) { d.hold(n, p, &c.Hold) }},
		{"audio", d.boolean(&c.Audio)},
		{"video", d.boolean(&c.Video)},
		{"audio_file", d.str(&c.AudioFile)},
		{"video_file", d.str(&c.VideoFile)},
		{"hold_unhold", func(n *yaml.Node, p string) {
			d.list(n, p, func(_ int, n *yaml.Node, p string) {
				var h HoldUnhold
				d.mapping(n, p, []field{{"at", d.duration(&h.At)}, {"duration", d.duration(&h.Duration)}})
				c.HoldUnhold = append(c.HoldUnhold, h)
			})
		}},
		{"ended_by", d.str((*string)(&c.EndedBy))},
		{"media_engine", d.str((*string)(&c.MediaEngine))},
		{"timeouts", func(n *yaml.Node, p string) {
			t := &c.Timeouts
			d.mapping(n, p, []field{
				{"start", d.duration(&t.Start)},
				{"answer", d.duration(&t.Answer)},
				{"ice", d.duration(&t.ICE)},
				{"dtls", d.duration(&t.DTLS)},
				{"media", d.duration(&t.Media)},
				{"end", d.duration(&t.End)},
			})
		}},
	})
}

func (d *decoder) hold(n *yaml.Node, path string, h *Hold) {
	if n.Kind == yaml.ScalarNode {
		*h = Hold{Distribution: DistFixed}
		d.duration(&h.Fixed)(n, path)
		return
	}
	*h = Hold{}
	d.mapping(n, path, []field{
		{"distribution", d.str((*string)(&h.Distribution))},
		{"min", d.duration(&h.Min)},
		{"max", d.duration(&h.Max)},
		{"mean", d.duration(&h.Mean)},
		{"stddev", d.duration(&h.StdDev)},
	})
	if h.Distribution == "" && n.Kind == yaml.MappingNode {
		d.errorf(n, join(path, "distribution"), "missing: want uniform, exponential or normal (or write a plain duration)")
	}
}

func (d *decoder) thresholds(n *yaml.Node, path string, ts *[]Threshold) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of metric to expressions, got %s", describeNode(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		d.lines[p] = k.Line
		metric := k.Value
		add := func(_ int, n *yaml.Node, p string) {
			t := Threshold{Metric: metric, Line: n.Line}
			switch n.Kind {
			case yaml.ScalarNode:
				t.Expr = n.Value
			case yaml.MappingNode:
				d.mapping(n, p, []field{
					{"threshold", func(n *yaml.Node, _ string) { t.Line = n.Line; d.str(&t.Expr)(n, p) }},
					{"abort_on_fail", d.boolean(&t.AbortOnFail)},
					{"delay_abort_eval", d.duration(&t.DelayAbortEval)},
				})
				if t.Expr == "" {
					d.errorf(n, join(p, "threshold"), "missing expression")
					return
				}
			default:
				d.errorf(n, p, "must be an expression string or a mapping with threshold, got %s", describeNode(n))
				return
			}
			d.lines[p] = t.Line
			*ts = append(*ts, t)
		}
		if v.Kind == yaml.SequenceNode {
			d.list(v, p, add)
		} else {
			d.errorf(v, p, `must be a list of expressions such as ["p(99) < 2s"], got %s`, describeNode(v))
		}
	}
}

// suggest returns the known name closest to s, if close enough to be a typo.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		lim := max(2, len(k)/3)
		if dd := levenshtein(s, k); dd <= lim && dd < bestD {
			best, bestD = k, dd
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
