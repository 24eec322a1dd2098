package main

import (
	"fmt"
)

// sel is the label matcher every dashboard query carries: the dashboard's
// scenario, run_id and shard variables (each "All" is ".*").
const sel = `scenario=~"$scenario", run_id=~"$run_id", shard=~"$shard"`

// matchers joins the dashboard selector with extra matchers.
func matchers(extra string) string {
	if extra == "" {
		return sel
	}
	return sel + ", " + extra
}

// quantile is a histogram_quantile that works on both kinds of server: the
// classic buckets (x_bucket, summed by le) or, when the server scrapes native
// histograms and hides the classic buckets (Prometheus 2.42 with
// --enable-feature=native-histograms), the native histogram x itself. Both
// sides end with the same labels (by), so where a server has both, `or`
// keeps the classic result and drops the duplicate.
func quantile(q float64, metric, extra, by, window string) string {
	m := matchers(extra)
	classicBy := "le"
	if by != "" {
		classicBy = by + ", le"
	}
	native := "sum"
	if by != "" {
		native = "sum by (" + by + ")"
	}
	return fmt.Sprintf("histogram_quantile(%g, sum by (%s) (rate(%s_bucket{%s}[%s])))\nor\nhistogram_quantile(%g, %s (rate(%s{%s}[%s])))",
		q, classicBy, metric, m, window, q, native, metric, m, window)
}

// heatmapQuery is the bucket increase per interval for a heatmap panel:
// the classic buckets by le, or the native histogram where the classic
// buckets are absent (the guard keeps a server with both from showing both).
func heatmapQuery(metric, extra string) string {
	m := matchers(extra)
	return fmt.Sprintf("sum by (le) (increase(%s_bucket{%s}[$__rate_interval]))\nor\n(sum(increase(%s{%s}[$__rate_interval])) unless on() group(%s_bucket{%s}))",
		metric, m, metric, m, metric, m)
}

// rate is sum [by (by)] (rate(metric{sel, extra}[$__rate_interval])).
func rate(metric, extra, by string) string {
	return sumBy(by, fmt.Sprintf("rate(%s{%s}[$__rate_interval])", metric, matchers(extra)))
}

// gauge is sum [by (by)] (metric{sel, extra}).
func gauge(metric, extra, by string) string {
	return sumBy(by, fmt.Sprintf("%s{%s}", metric, matchers(extra)))
}

// sumBy wraps expr in sum, or sum by (by) when by is not empty.
func sumBy(by, expr string) string {
	if by == "" {
		return "sum(" + expr + ")"
	}
	return "sum by (" + by + ") (" + expr + ")"
}

// phases are every phase of loadgen_call_phase_seconds (PLAN.md), setup
// phases first, in call order.
func phases() []string {
	return []string{"subscribe", "websocket", "start", "ringing", "connect", "ice", "dtls", "media", "end", "hold", "unhold"}
}
