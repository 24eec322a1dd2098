// Package threshold is the threshold language: a scenario's k6-shaped
// expressions ("p(99) < 2s") are parsed and type-checked before the run,
// then evaluated on the same Snapshot the summary prints.
package threshold

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
)

// Thresholds are a tiny k6-shaped language: a scenario maps a metric name to
// a list of expressions, for example
//
//	connect:  ["p(99) < 2s", "p(50) < 300ms"]
//	failures: ["rate < 0.01"]
//	mos:      ["avg > 4.0"]
//
// Grammar of one expression (Parse takes the metric and the
// expression separately; blanks are allowed between tokens):
//
//	expression  = aggregation operator value
//	aggregation = "p(" number ")" | "avg" | "min" | "max" | "med" | "count" | "rate"
//	operator    = "<" | "<=" | ">" | ">=" | "==" | "!="
//	value       = number [ unit ]
//	unit        = "us" | "µs" | "ms" | "s" | "m"
//	number      = digit { digit } [ "." { digit } ]
//
//	metric      = phase | phase "_service" | "lag" | "failures" | "dropped" | "mos" | "loss"
//	phase       = "subscribe" | "websocket" | "start" | "ringing" | "connect"
//	            | "ice" | "dtls" | "media" | "end" | "hold" | "unhold"
//
// Type rules (checked by Parse, so a scenario is rejected before the
// run starts):
//
//   - phase, phase_service (service time from the actual start) and lag
//     (scheduler lag) are durations: aggregations p(N) (0 <= N <= 100), avg,
//     min, max, med take a value with a unit (a bare 0 is allowed); count (how
//     many calls reached the phase) takes a plain whole number. lag has no
//     count.
//   - failures and dropped are counters: rate (failed / (succeeded+failed);
//     dropped / (attempted+dropped)) takes a plain number in [0, 1]; count
//     takes a plain whole number.
//   - mos (per-call E-model estimate, 1..5) takes p(N), avg, min, max, med
//     with a plain number.
//   - loss (media packets lost / (received+lost), over all calls) takes rate
//     with a plain number in [0, 1].
//
// Evaluation: a duration or mos aggregation over a histogram with no values
// fails (nothing was measured, so the bound cannot be shown to hold); a rate
// with a zero denominator fails the same way; count is always defined.

// MetricKind is the type of a threshold's metric.
type MetricKind int

// The metric kinds.
const (
	// KindUnknown is the zero value.
	KindUnknown MetricKind = iota
	// KindDuration is a latency histogram (a phase, its service time, or
	// the scheduler lag), in microseconds.
	KindDuration
	// KindCounter is a call counter with a rate (failures, dropped).
	KindCounter
	// KindScore is the MOS histogram (plain numbers 1..5).
	KindScore
	// KindRatio is the media loss ratio.
	KindRatio
)

// Aggregation is what a threshold computes from its metric.
type Aggregation int

// The aggregations.
const (
	// AggUnknown is the zero value.
	AggUnknown Aggregation = iota
	// AggPercentile is p(N); Threshold.Percentile holds N (0..100).
	AggPercentile
	// AggAvg is the mean.
	AggAvg
	// AggMin is the minimum.
	AggMin
	// AggMax is the maximum.
	AggMax
	// AggMed is the median, p(50).
	AggMed
	// AggCount is a count of values or events.
	AggCount
	// AggRate is a ratio in [0, 1].
	AggRate
)

// String returns the aggregation as written in an expression (p(N) is
// written "p").
func (a Aggregation) String() string {
	switch a {
	case AggPercentile:
		return "p"
	case AggAvg:
		return "avg"
	case AggMin:
		return "min"
	case AggMax:
		return "max"
	case AggMed:
		return "med"
	case AggCount:
		return "count"
	case AggRate:
		return "rate"
	default:
		return "unknown"
	}
}

// Operator compares the measured value (left) with the threshold's value
// (right).
type Operator int

// The operators.
const (
	// OpUnknown is the zero value.
	OpUnknown Operator = iota
	// OpLess is "<".
	OpLess
	// OpLessEq is "<=".
	OpLessEq
	// OpGreater is ">".
	OpGreater
	// OpGreaterEq is ">=".
	OpGreaterEq
	// OpEqual is "==".
	OpEqual
	// OpNotEqual is "!=".
	OpNotEqual
)

// String returns the operator as written.
func (o Operator) String() string {
	switch o {
	case OpLess:
		return "<"
	case OpLessEq:
		return "<="
	case OpGreater:
		return ">"
	case OpGreaterEq:
		return ">="
	case OpEqual:
		return "=="
	case OpNotEqual:
		return "!="
	default:
		return "?"
	}
}

// holds reports whether "measured op value" is true.
func (o Operator) holds(measured, value float64) bool {
	switch o {
	case OpLess:
		return measured < value
	case OpLessEq:
		return measured <= value
	case OpGreater:
		return measured > value
	case OpGreaterEq:
		return measured >= value
	case OpEqual:
		return measured == value
	case OpNotEqual:
		return measured != value
	default:
		return false
	}
}

// Threshold is one parsed, type-checked threshold expression.
type Threshold struct {
	// Metric is the metric name as written, e.g. "connect_service".
	Metric string
	// Expr is the expression as written, e.g. "p(99) < 2s".
	Expr string
	// Kind is the metric's type.
	Kind MetricKind
	// Phase and Service select the histogram of a phase metric.
	Phase   metrics.Phase
	Service bool
	// Agg is the aggregation; Percentile is N for AggPercentile (0..100).
	Agg        Aggregation
	Percentile float64
	// Op compares the measured value with Value.
	Op Operator
	// Value is the bound in the metric's unit: microseconds for duration
	// aggregations, a plain number otherwise.
	Value float64
}

// String returns "metric: expression".
func (t Threshold) String() string { return t.Metric + ": " + t.Expr }

// durationValued reports whether the aggregation yields a duration for a
// duration metric.
func (t Threshold) durationValued() bool {
	return t.Kind == KindDuration && t.Agg != AggCount
}

// FormatValue renders a value in the threshold's unit: a duration for
// duration aggregations, a plain number otherwise. NaN reads "no data".
func (t Threshold) FormatValue(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	if t.durationValued() {
		return time.Duration(v * float64(time.Microsecond)).String()
	}
	if t.Agg == AggCount {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Parse parses and type-checks one expression for one metric. Its
// errors read `connect: "p(99) < 2x": bad value "2x": unknown unit "x"`.
func Parse(metric, expr string) (Threshold, error) {
	t := Threshold{Metric: metric, Expr: expr}
	fail := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("%s: %q: %s", metric, expr, fmt.Sprintf(format, a...))
	}
	if err := t.parseMetric(); err != nil {
		return Threshold{}, fmt.Errorf("%s: %q: %w", metric, expr, err)
	}

	rest, err := t.parseAgg(strings.TrimSpace(expr))
	if err != nil {
		return fail("%v", err)
	}
	if err := t.checkAgg(); err != nil {
		return fail("%v", err)
	}
	if rest, err = t.parseOp(strings.TrimSpace(rest)); err != nil {
		return fail("%v", err)
	}

	// Value.
	raw := strings.TrimSpace(rest)
	if raw == "" {
		return fail("missing value")
	}
	v, err := t.parseValue(raw)
	if err != nil {
		return fail("bad value %q: %v", raw, err)
	}
	t.Value = v
	return t, nil
}

// ImplicitFailures is the expression on failures a run is judged by when
// its scenario has no threshold on failures: a run in which no call
// succeeded must never pass a CI gate.
const ImplicitFailures = "rate < 1"

// WithImplicit returns ts, plus the implicit failures threshold when none
// of ts is on failures.
func WithImplicit(ts []Threshold) ([]Threshold, error) {
	for _, t := range ts {
		if t.Metric == "failures" {
			return ts, nil
		}
	}
	t, err := Parse("failures", ImplicitFailures)
	if err != nil {
		return nil, err
	}
	return append(ts, t), nil
}

// ParseAll parses {metric, expression} pairs in order, stopping at the
// first that does not parse.
func ParseAll(pairs [][2]string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(pairs))
	for _, p := range pairs {
		t, err := Parse(p[0], p[1])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// parseAgg reads the aggregation at the start of rest into Agg (and
// Percentile), and returns what follows it.
func (t *Threshold) parseAgg(rest string) (string, error) {
	if strings.HasPrefix(rest, "p(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return "", errors.New("missing ')' after p(")
		}
		arg := strings.TrimSpace(rest[2:end])
		n, err := strconv.ParseFloat(arg, 64)
		if err != nil || math.IsNaN(n) || n < 0 || n > 100 {
			return "", fmt.Errorf("bad percentile %q: want a number from 0 to 100", arg)
		}
		t.Agg, t.Percentile = AggPercentile, n
		return rest[end+1:], nil
	}
	i := 0
	for i < len(rest) && rest[i] >= 'a' && rest[i] <= 'z' {
		i++
	}
	word := rest[:i]
	switch word {
	case "avg":
		t.Agg = AggAvg
	case "min":
		t.Agg = AggMin
	case "max":
		t.Agg = AggMax
	case "med":
		t.Agg, t.Percentile = AggMed, 50
	case "count":
		t.Agg = AggCount
	case "rate":
		t.Agg = AggRate
	case "":
		return "", errors.New("missing aggregation: want p(N), avg, min, max, med, count or rate")
	default:
		return "", fmt.Errorf("unknown aggregation %q: want p(N), avg, min, max, med, count or rate", word)
	}
	return rest[i:], nil
}

// parseOp reads the comparison operator at the start of rest into Op, and
// returns what follows it.
func (t *Threshold) parseOp(rest string) (string, error) {
	ops := []struct {
		s  string
		op Operator
	}{{"<=", OpLessEq}, {">=", OpGreaterEq}, {"==", OpEqual}, {"!=", OpNotEqual}, {"<", OpLess}, {">", OpGreater}}
	for _, o := range ops {
		if strings.HasPrefix(rest, o.s) {
			t.Op = o.op
			return rest[len(o.s):], nil
		}
	}
	if rest == "" {
		return "", errors.New("missing operator: want <, <=, >, >=, == or !=")
	}
	return "", fmt.Errorf("bad operator at %q: want <, <=, >, >=, == or !=", rest)
}

// parseMetric fills Kind, Phase and Service from Metric.
func (t *Threshold) parseMetric() error {
	switch t.Metric {
	case "lag":
		t.Kind = KindDuration
		return nil
	case "failures", "dropped":
		t.Kind = KindCounter
		return nil
	case "mos":
		t.Kind = KindScore
		return nil
	case "loss":
		t.Kind = KindRatio
		return nil
	}
	name, service := strings.CutSuffix(t.Metric, "_service")
	if p, ok := metrics.ParsePhase(name); ok {
		t.Kind, t.Phase, t.Service = KindDuration, p, service
		return nil
	}
	names := make([]string, 0, metrics.NumPhases)
	for _, p := range metrics.Phases() {
		names = append(names, p.String())
	}
	return fmt.Errorf("unknown metric %q: want a phase (%s), a phase with _service, lag, failures, dropped, mos or loss",
		t.Metric, strings.Join(names, ", "))
}

// checkAgg enforces which aggregations each metric kind has.
func (t Threshold) checkAgg() error {
	ok := false
	switch t.Kind {
	case KindDuration:
		ok = t.Agg != AggRate && (t.Metric != "lag" || t.Agg != AggCount)
	case KindCounter:
		ok = t.Agg == AggRate || t.Agg == AggCount
	case KindScore:
		ok = t.Agg != AggRate && t.Agg != AggCount
	case KindRatio:
		ok = t.Agg == AggRate
	case KindUnknown:
		// Not a metric: checkMetric has already refused it.
	}
	if !ok {
		return fmt.Errorf("aggregation %s does not apply to %s (%s)", t.Agg, t.Metric, t.allowed())
	}
	return nil
}

// allowed describes the aggregations a metric takes, for error messages.
func (t Threshold) allowed() string {
	switch t.Kind {
	case KindDuration:
		if t.Metric == "lag" {
			return "a duration: p(N), avg, min, max, med"
		}
		return "a duration: p(N), avg, min, max, med, count"
	case KindCounter:
		return "a counter: rate, count"
	case KindScore:
		return "a score: p(N), avg, min, max, med"
	case KindRatio:
		return "a ratio: rate"
	default:
		return "unknown metric"
	}
}

// parseValue parses the right-hand side in the unit the aggregation needs.
func (t Threshold) parseValue(raw string) (float64, error) {
	i := 0
	for i < len(raw) && (raw[i] >= '0' && raw[i] <= '9' || raw[i] == '.') {
		i++
	}
	num, unit := raw[:i], strings.TrimSpace(raw[i:])
	if num == "" {
		return 0, fmt.Errorf("want a number")
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number")
	}
	if t.durationValued() {
		scale, err := t.durationScale(unit, n)
		if err != nil {
			return 0, err
		}
		return n * scale, nil
	}
	if unit != "" {
		return 0, fmt.Errorf("%s of %s is a plain number, not a duration: drop %q", t.Agg, t.Metric, unit)
	}
	switch {
	case t.Agg == AggCount && n != math.Trunc(n):
		return 0, fmt.Errorf("a count is a whole number")
	case t.Agg == AggRate && n > 1:
		return 0, fmt.Errorf("a rate is a fraction from 0 to 1")
	case t.Kind == KindScore && (n < 1 || n > 5):
		return 0, fmt.Errorf("a MOS is from 1 to 5")
	}
	return n, nil
}

// durationScale is the number of microseconds in unit, the unit of the
// duration n (n may be unitless only when it is 0).
func (t Threshold) durationScale(unit string, n float64) (float64, error) {
	switch unit {
	case "us", "µs":
		return 1, nil
	case "ms":
		return 1e3, nil
	case "s":
		return 1e6, nil
	case "m":
		return 60e6, nil
	case "":
		if n != 0 {
			return 0, fmt.Errorf("%s of %s is a duration: add a unit (us, ms, s, m)", t.Agg, t.Metric)
		}
		return 1, nil
	default:
		return 0, fmt.Errorf("unknown unit %q: want us, ms, s or m", unit)
	}
}

// Evaluate computes the threshold's aggregation on s and reports whether the
// expression holds. measured is in the threshold's unit (see FormatValue);
// it is NaN, and ok false, when there was nothing to measure.
func (t Threshold) Evaluate(s *metrics.Snapshot) (measured float64, ok bool) {
	if s == nil {
		return math.NaN(), false
	}
	measured = t.measure(s)
	if math.IsNaN(measured) {
		return measured, false
	}
	return measured, t.Op.holds(measured, t.Value)
}

// measure computes the aggregation, NaN when undefined.
func (t Threshold) measure(s *metrics.Snapshot) float64 {
	switch t.Kind {
	case KindDuration:
		h := s.Lag
		if t.Metric != "lag" {
			h = s.PhaseHistogram(t.Phase, t.Service)
		}
		if t.Agg == AggCount {
			return float64(h.TotalCount())
		}
		return aggregate(h, t.Agg, t.Percentile, 1)
	case KindScore:
		return aggregate(s.MOS, t.Agg, t.Percentile, metrics.MOSScale)
	case KindCounter:
		if t.Metric == "dropped" {
			if t.Agg == AggCount {
				return float64(s.Dropped)
			}
			return ratio(s.Dropped, s.Attempted+s.Dropped)
		}
		if t.Agg == AggCount {
			return float64(s.Failed)
		}
		return ratio(s.Failed, s.Succeeded+s.Failed)
	case KindRatio:
		return s.Media.LossRate()
	default:
		return math.NaN()
	}
}

// ratio is num/den, NaN when den is zero.
func ratio(num, den uint64) float64 {
	if den == 0 {
		return math.NaN()
	}
	return float64(num) / float64(den)
}

// Result is one evaluated threshold.
type Result struct {
	// Threshold is what was evaluated.
	Threshold Threshold
	// Measured is the measured value in the threshold's unit (NaN: no data).
	Measured float64
	// OK reports whether the expression held.
	OK bool
}

// String reads `connect: p(99) < 2s: measured 2.5s: FAILED`.
func (r Result) String() string {
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: %s: measured %s: %s", r.Threshold.Metric, r.Threshold.Expr,
		r.Threshold.FormatValue(r.Measured), verdict)
}

// Evaluate evaluates every threshold on the same snapshot.
func Evaluate(s *metrics.Snapshot, ts []Threshold) []Result {
	out := make([]Result, 0, len(ts))
	for _, t := range ts {
		m, ok := t.Evaluate(s)
		out = append(out, Result{Threshold: t, Measured: m, OK: ok})
	}
	return out
}

// AllPassed reports whether every result held.
func AllPassed(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

// aggregate computes an aggregation of a histogram divided by scale, NaN
// when the histogram is empty.
func aggregate(h *hdrhistogram.Histogram, agg Aggregation, pct float64, scale float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return math.NaN()
	}
	switch agg {
	case AggPercentile, AggMed:
		return float64(h.ValueAtQuantile(pct)) / scale
	case AggAvg:
		return h.Mean() / scale
	case AggMin:
		return float64(h.Min()) / scale
	case AggMax:
		return float64(h.Max()) / scale
	case AggCount:
		return float64(h.TotalCount())
	default:
		return math.NaN()
	}
}
