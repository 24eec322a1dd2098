package threshold

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		metric, expr string
		want         Threshold // only Agg, Percentile, Op, Value, Kind, Phase, Service checked
		err          string    // substring; "" means success
	}{
		{"connect", "p(99) < 2s", Threshold{Kind: KindDuration, Phase: metrics.PhaseConnect, Agg: AggPercentile, Percentile: 99, Op: OpLess, Value: 2e6}, ""},
		{"connect", "p(50)<300ms", Threshold{Kind: KindDuration, Phase: metrics.PhaseConnect, Agg: AggPercentile, Percentile: 50, Op: OpLess, Value: 300e3}, ""},
		{"media_service", " p(99.9) <= 1.5m ", Threshold{Kind: KindDuration, Phase: metrics.PhaseMedia, Service: true, Agg: AggPercentile, Percentile: 99.9, Op: OpLessEq, Value: 90e6}, ""},
		{"ice", "avg >= 250us", Threshold{Kind: KindDuration, Phase: metrics.PhaseICE, Agg: AggAvg, Op: OpGreaterEq, Value: 250}, ""},
		{"dtls", "max != 0", Threshold{Kind: KindDuration, Phase: metrics.PhaseDTLS, Agg: AggMax, Op: OpNotEqual, Value: 0}, ""},
		{"end", "med > 10µs", Threshold{Kind: KindDuration, Phase: metrics.PhaseEnd, Agg: AggMed, Percentile: 50, Op: OpGreater, Value: 10}, ""},
		{"ringing", "count == 100", Threshold{Kind: KindDuration, Phase: metrics.PhaseRinging, Agg: AggCount, Op: OpEqual, Value: 100}, ""},
		{"hold", "p(95) < 1s", Threshold{Kind: KindDuration, Phase: metrics.PhaseHold, Agg: AggPercentile, Percentile: 95, Op: OpLess, Value: 1e6}, ""},
		{"unhold_service", "count >= 2", Threshold{Kind: KindDuration, Phase: metrics.PhaseUnhold, Service: true, Agg: AggCount, Op: OpGreaterEq, Value: 2}, ""},
		{"lag", "p(99) < 50ms", Threshold{Kind: KindDuration, Agg: AggPercentile, Percentile: 99, Op: OpLess, Value: 50e3}, ""},
		{"failures", "rate < 0.01", Threshold{Kind: KindCounter, Agg: AggRate, Op: OpLess, Value: 0.01}, ""},
		{"dropped", "count == 0", Threshold{Kind: KindCounter, Agg: AggCount, Op: OpEqual, Value: 0}, ""},
		{"mos", "avg > 4.0", Threshold{Kind: KindScore, Agg: AggAvg, Op: OpGreater, Value: 4}, ""},
		{"mos", "p(5) >= 3.5", Threshold{Kind: KindScore, Agg: AggPercentile, Percentile: 5, Op: OpGreaterEq, Value: 3.5}, ""},
		{"loss", "rate <= 0.005", Threshold{Kind: KindRatio, Agg: AggRate, Op: OpLessEq, Value: 0.005}, ""},

		{"connect", "p(99) < 2x", Threshold{}, `connect: "p(99) < 2x": bad value "2x": unknown unit "x"`},
		{"connect", "p(99) < 2", Threshold{}, `add a unit`},
		{"connect", "p(101) < 2s", Threshold{}, `bad percentile "101"`},
		{"connect", "p(99 < 2s", Threshold{}, `missing ')'`},
		{"connect", "rate < 0.1", Threshold{}, `aggregation rate does not apply to connect`},
		{"connect", "p(99) 2s", Threshold{}, `bad operator`},
		{"connect", "p(99) <", Threshold{}, `missing value`},
		{"connect", "", Threshold{}, `missing aggregation`},
		{"connect", "sum < 1s", Threshold{}, `unknown aggregation "sum"`},
		{"connect", "count < 1.5", Threshold{}, `whole number`},
		{"connect", "count < 1s", Threshold{}, `plain number`},
		{"lag", "count < 1", Threshold{}, `does not apply to lag`},
		{"failures", "p(99) < 1", Threshold{}, `does not apply to failures`},
		{"failures", "rate < 2", Threshold{}, `fraction from 0 to 1`},
		{"failures", "rate < 1%", Threshold{}, `plain number`},
		{"mos", "avg > 4s", Threshold{}, `plain number, not a duration`},
		{"mos", "avg > 7", Threshold{}, `from 1 to 5`},
		{"mos", "count > 7", Threshold{}, `does not apply to mos`},
		{"loss", "avg < 0.1", Threshold{}, `does not apply to loss`},
		{"latency", "p(99) < 1s", Threshold{}, `unknown metric "latency"`},
		{"connect_servic", "p(99) < 1s", Threshold{}, `unknown metric`},
		{"connect", "p(99) < -1s", Threshold{}, `want a number`},
	}
	for _, tc := range tests {
		t.Run(tc.metric+" "+tc.expr, func(t *testing.T) {
			got, err := Parse(tc.metric, tc.expr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want containing %q", err, tc.err)
				}
				if !strings.HasPrefix(err.Error(), tc.metric+": ") {
					t.Errorf("err %q does not start with the metric", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if got.Kind != w.Kind || got.Phase != w.Phase || got.Service != w.Service || got.Agg != w.Agg ||
				got.Percentile != w.Percentile || got.Op != w.Op || got.Value != w.Value {
				t.Errorf("got %+v, want %+v", got, w)
			}
			if got.Metric != tc.metric || got.Expr != tc.expr {
				t.Errorf("metric/expr not kept: %+v", got)
			}
		})
	}
}

// Values are those HdrHistogram reports: the highest value equivalent to
// the recorded one at 3 significant digits (990 ms reads 990.207 ms).
//
// thresholdSnapshot builds a snapshot with connect (scheduled) values
// 1..1000 ms, service values 1..1000 µs, 3 failures of 100, 5 dropped, MOS
// 4.0 and 3.0, loss 10/1000.
func thresholdSnapshot(t *testing.T) *metrics.Snapshot {
	t.Helper()
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	base := clk.Now()
	for i := 1; i <= 1000; i++ {
		rec := metrics.CallRecord{Scheduled: base, Started: base.Add(time.Duration(i)*time.Millisecond - time.Duration(i)*time.Microsecond), Outcome: metrics.OutcomeSuccess}
		rec.Instants[metrics.PhaseConnect] = base.Add(time.Duration(i) * time.Millisecond)
		if i <= 3 {
			rec.Outcome, rec.FailedPhase, rec.Reason = metrics.OutcomeFailed, metrics.PhaseMedia, metrics.ReasonNoMedia
		}
		if i > 100 {
			rec.Outcome = metrics.OutcomeAborted
		}
		r.Record(rec)
	}
	for range 5 {
		r.Dropped()
	}
	r.Record(metrics.CallRecord{Scheduled: base, Started: base, Outcome: metrics.OutcomeAborted,
		Media: metrics.MediaStats{PacketsReceived: 990, PacketsLost: 10, PacketsSent: 1000, SignallingRTT: time.Millisecond}})
	return r.Snapshot()
}

func TestThresholdEvaluate(t *testing.T) {
	s := thresholdSnapshot(t)
	tests := []struct {
		metric, expr string
		measured     float64
		ok           bool
	}{
		{"connect", "p(99) < 991ms", 990207, true},
		{"connect", "p(99) < 990ms", 990207, false},
		{"connect", "p(99) <= 990.207ms", 990207, true},
		{"connect", "p(50) == 500.223ms", 500223, true},
		{"connect", "med == 500223us", 500223, true},
		{"connect", "min >= 1ms", 1000, true},
		{"connect", "max < 1s", 1000447, false},
		{"connect", "count == 1000", 1000, true},
		{"connect_service", "max == 1ms", 1000, true},
		{"connect_service", "p(10) == 100us", 100, true},
		{"connect", "avg > 1s", 500504.858, false},
		{"failures", "rate < 0.01", 0.03, false},
		{"failures", "rate <= 0.03", 0.03, true},
		{"failures", "count == 3", 3, true},
		{"dropped", "count > 0", 5, true},
		{"dropped", "rate < 0.005", 5.0 / 1006, true},
		{"loss", "rate < 0.01", 0.01, false},
		{"loss", "rate <= 0.01", 0.01, true},
		{"ringing", "p(99) < 1s", math.NaN(), false}, // no data
		{"ringing", "count == 0", 0, true},
		{"mos", "avg > 4.3", 4.31, true},
		{"mos", "min < 4.3", 4.31, false},
	}
	for _, tc := range tests {
		t.Run(tc.metric+" "+tc.expr, func(t *testing.T) {
			th, err := Parse(tc.metric, tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := th.Evaluate(s)
			if ok != tc.ok {
				t.Errorf("ok = %v, want %v (measured %v)", ok, tc.ok, got)
			}
			same := got == tc.measured || math.IsNaN(got) && math.IsNaN(tc.measured) ||
				math.Abs(got-tc.measured) < 1e-9
			if !same {
				t.Errorf("measured = %v, want %v", got, tc.measured)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	s := thresholdSnapshot(t)
	var ts []Threshold
	for _, e := range [][2]string{{"connect", "p(99) < 2s"}, {"failures", "rate < 0.01"}} {
		th, err := Parse(e[0], e[1])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	rs := Evaluate(s, ts)
	if len(rs) != 2 || !rs[0].OK || rs[1].OK || AllPassed(rs) {
		t.Fatalf("results = %+v", rs)
	}
	if got, want := rs[0].String(), "connect: p(99) < 2s: measured 990.207ms: ok"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := rs[1].String(), "failures: rate < 0.01: measured 0.03: FAILED"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
