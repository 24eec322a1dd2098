package main

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's fixed uid (provisioned dashboards keep their URL).
const UID = "loadgen-run"

// ds is the datasource every panel uses: the $datasource variable.
func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// q is one query of a panel: expression, legend and kind.
type q struct {
	expr    string
	legend  string
	instant bool
}

// targets turns queries into Prometheus data queries with refIds A, B, ...
func targets(qs ...q) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, x := range qs {
		b := prometheus.NewDataqueryBuilder().
			RefId(string(rune('A' + i))).
			Expr(x.expr).
			Datasource(ds())
		if x.legend != "" {
			b.LegendFormat(x.legend)
		}
		if x.instant {
			b.Instant().Format(prometheus.PromQueryFormatTable)
		} else {
			b.Range()
		}
		out = append(out, b)
	}
	return out
}

// ids numbers panels in the order they are made, so the JSON is stable.
type ids struct{ next uint32 }

func (n *ids) id() uint32 { n.next++; return n.next }

// series is a time-series panel.
func (n *ids) series(title, desc, unit string, w, h uint32, qs ...q) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(n.id()).
		Title(title).
		Description(desc).
		Datasource(ds()).
		Unit(unit).
		Span(w).Height(h).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending)).
		Targets(targets(qs...))
}

// heat is a heatmap of a histogram's buckets (classic or native).
func (n *ids) heat(title, desc, unit string, w, h uint32, expr string) *heatmap.PanelBuilder {
	return heatmap.NewPanelBuilder().
		Id(n.id()).
		Title(title).
		Description(desc).
		Datasource(ds()).
		Span(w).Height(h).
		Calculate(false).
		Color(heatmap.NewHeatmapColorOptionsBuilder().
			Mode(heatmap.HeatmapColorModeScheme).
			Scheme("Oranges").
			Scale(heatmap.HeatmapColorScaleExponential).
			Exponent(0.5).
			Steps(64).
			Fill("dark-orange").
			Reverse(false)).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutLe)).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit(unit).Decimals(0)).
		CellValues(heatmap.NewCellValuesBuilder().Unit("short")).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true).ShowColorScale(true)).
		ShowLegend().
		Targets([]cog.Builder[variants.Dataquery]{
			prometheus.NewDataqueryBuilder().
				RefId("A").
				Expr(expr).
				Datasource(ds()).
				Format(prometheus.PromQueryFormatHeatmap).
				LegendFormat("{{le}}").
				Range(),
		})
}

// single is a stat panel of one value.
func (n *ids) single(title, desc, unit string, w, h uint32, qs ...q) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Id(n.id()).
		Title(title).
		Description(desc).
		Datasource(ds()).
		Unit(unit).
		Span(w).Height(h).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeValue).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Targets(targets(qs...))
}

// tbl is a table of instant queries.
func (n *ids) tbl(title, desc string, w, h uint32, qs ...q) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Id(n.id()).
		Title(title).
		Description(desc).
		Datasource(ds()).
		Span(w).Height(h).
		Targets(targets(qs...))
}

// okMapping shows 1 as the good word in green and 0 as the bad one in red.
func okMapping(good, bad string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"1": {Text: cog.ToPtr(good), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](0)},
			"0": {Text: cog.ToPtr(bad), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](1)},
		},
	}}}
}

// steps are absolute thresholds from a base colour.
func steps(base string, more ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Value: nil, Color: base}}
	for i := 0; i+1 < len(more); i += 2 {
		v := more[i].(float64)
		s = append(s, dashboard.Threshold{Value: &v, Color: more[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

// labelVar is a query variable over a label of loadgen_run_info.
func labelVar(name, label, query string, multi bool, sort dashboard.VariableSort) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(ds()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(sort).
		Multi(multi).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// variables are datasource, scenario, run_id, shard and phase.
func variables() []cog.Builder[dashboard.VariableModel] {
	phaseOpts := phases()
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus"),
		labelVar("scenario", "Scenario", `label_values(loadgen_run_info, scenario)`, true, dashboard.VariableSortAlphabeticalAsc),
		labelVar("run_id", "Run id", `label_values(loadgen_run_info{scenario=~"$scenario"}, run_id)`, true, dashboard.VariableSortAlphabeticalDesc),
		labelVar("shard", "Shard", `label_values(loadgen_run_info{scenario=~"$scenario", run_id=~"$run_id"}, shard)`, true, dashboard.VariableSortNumericalAsc),
		dashboard.NewCustomVariableBuilder("phase").
			Label("Phase").
			Description("Call phases shown by the phase panels (heatmaps repeat per selected phase).").
			Values(dashboard.StringOrMap{String: cog.ToPtr(strings.Join(phaseOpts, ","))}).
			Options(phaseOptions(phaseOpts)).
			Multi(true).
			IncludeAll(true).
			AllValue(".*").
			Current(dashboard.VariableOption{
				Selected: cog.ToPtr(true),
				Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"connect", "media"}},
				Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"connect", "media"}},
			}),
	}
}

// phaseOptions are the custom variable's options, connect and media selected.
func phaseOptions(names []string) []dashboard.VariableOption {
	out := []dashboard.VariableOption{{
		Selected: cog.ToPtr(false),
		Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
		Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
	}}
	for _, p := range names {
		out = append(out, dashboard.VariableOption{
			Selected: cog.ToPtr(p == "connect" || p == "media"),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(p)},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(p)},
		})
	}
	return out
}

// build assembles the dashboard.
func build() (dashboard.Dashboard, error) {
	n := &ids{}

	b := dashboard.NewDashboardBuilder("loadgen").
		Uid(UID).
		Description("A loadgen run live: calls, setup phases, failures, media, the generator's health and each shard. "+
			"Generated by tools/dashboard; do not edit by hand. Every loadgen_ series carries scenario, mode, run_id and shard labels, "+
			"so shards of one run aggregate with sum by (run_id).").
		Tags([]string{"loadgen", "webrtc", "generated"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("5s").
		Time("now-15m", "now").
		Timezone(common.TimeZoneBrowser).
		Variables(variables())

	// Run: verdict, rates, thresholds.
	b.WithRow(dashboard.NewRowBuilder("Run").Id(n.id()))
	b.WithPanel(n.single("Run validity", "loadgen_run_valid: 0 as soon as any shard judges the run invalid (the generator could not keep its schedule). Same verdict as the CI gate.", "none", 4, 5,
		q{expr: fmt.Sprintf("min(loadgen_run_valid{%s})", sel)}).
		Mappings(okMapping("valid", "invalid")).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps("red", 1.0, "green")))
	b.WithPanel(n.single("Thresholds crossed", "Thresholds crossed now (loadgen_threshold_ok == 0), counted over shards; no value when the scenario has no thresholds.", "none", 4, 5,
		q{expr: fmt.Sprintf("sum(1 - loadgen_threshold_ok{%s})", sel)}).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps("green", 1.0, "red")))
	b.WithPanel(n.single("Target rate", "Planned arrival rate, summed over shards (each shard runs 1/N of it).", "reqps", 4, 5,
		q{expr: gauge("loadgen_target_rate_calls_per_second", "", "")}))
	b.WithPanel(n.single("Achieved rate (1m)", "Calls started per second over the last minute (rate of loadgen_calls_attempted_total), all shards.", "reqps", 4, 5,
		q{expr: fmt.Sprintf("sum(rate(loadgen_calls_attempted_total{%s}[1m]))", sel)}))
	b.WithPanel(n.single("Calls up", "Calls with media flowing now, all shards.", "none", 4, 5,
		q{expr: gauge("loadgen_calls_up", "", "")}))
	b.WithPanel(n.single("Shards reporting", "Shards whose /metrics is scraped now (loadgen_run_info).", "none", 4, 5,
		q{expr: fmt.Sprintf("count(loadgen_run_info{%s})", sel)}))
	b.WithPanel(n.stateTimeline("Threshold state", "loadgen_threshold_ok per threshold, worst shard: ok (1) or crossed (0). The set is bounded by the scenario's thresholds.", 24, 6,
		q{expr: fmt.Sprintf("min by (threshold) (loadgen_threshold_ok{%s})", sel), legend: "{{threshold}}"},
		q{expr: fmt.Sprintf("min(loadgen_run_valid{%s})", sel), legend: "run valid"}))
	b.WithPanel(n.tbl("Run info", "loadgen_run_info per shard: version, shards, scenario, mode, run id.", 24, 5,
		q{expr: fmt.Sprintf("loadgen_run_info{%s}", sel), instant: true}))

	// Calls.
	b.WithRow(dashboard.NewRowBuilder("Calls").Id(n.id()))
	b.WithPanel(n.series("Calls per second", "Started (attempted), succeeded, failed, aborted and dropped (cap full) per second, all shards.", "reqps", 12, 8,
		q{expr: rate("loadgen_calls_attempted_total", "", ""), legend: "started"},
		q{expr: rate("loadgen_calls_total", `outcome="success"`, ""), legend: "succeeded"},
		q{expr: rate("loadgen_calls_total", `outcome="failed"`, ""), legend: "failed"},
		q{expr: rate("loadgen_calls_total", `outcome="aborted"`, ""), legend: "aborted"},
		q{expr: rate("loadgen_calls_dropped_total", "", ""), legend: "dropped"}))
	b.WithPanel(n.series("Target vs achieved rate", "Target: the planned arrival rate summed over shards. Achieved: rate of loadgen_calls_attempted_total over the panel's rate interval and over 1m.", "reqps", 12, 8,
		q{expr: gauge("loadgen_target_rate_calls_per_second", "", ""), legend: "target"},
		q{expr: rate("loadgen_calls_attempted_total", "", ""), legend: "achieved"},
		q{expr: fmt.Sprintf("sum(rate(loadgen_calls_attempted_total{%s}[1m]))", sel), legend: "achieved (1m)"}))
	b.WithPanel(n.series("Calls in progress, up and on hold", "In progress: started and not yet ended. Up: media flowing. On hold: in a hold/unhold cycle.", "none", 12, 8,
		q{expr: gauge("loadgen_calls_in_progress", "", ""), legend: "in progress"},
		q{expr: gauge("loadgen_calls_up", "", ""), legend: "up"},
		q{expr: gauge("loadgen_calls_on_hold", "", ""), legend: "on hold"}))
	b.WithPanel(n.series("Success ratio", "Succeeded / ended calls over the rate interval.", "percentunit", 12, 8,
		q{expr: fmt.Sprintf("%s\n/\n%s", rate("loadgen_calls_total", `outcome="success"`, ""), rate("loadgen_calls_total", "", "")), legend: "success ratio"}).
		Min(0).Max(1))

	// Setup phases.
	b.WithRow(dashboard.NewRowBuilder("Setup phases").Id(n.id()))
	for _, timing := range []string{"service", "scheduled"} {
		desc := "Phase latency from the phase's actual start (service time)."
		if timing == "scheduled" {
			desc = "Phase latency from the call's scheduled start (includes the generator's own lag: coordinated omission corrected)."
		}
		extra := fmt.Sprintf(`timing=%q, phase=~"$phase"`, timing)
		b.WithPanel(n.series(fmt.Sprintf("Phase p50 / p95 / p99 (%s)", timing), desc+" Quantiles from the histogram's buckets (classic or native).", "s", 12, 9,
			q{expr: quantile(0.5, "loadgen_call_phase_seconds", extra, "phase", "$__rate_interval"), legend: "{{phase}} p50"},
			q{expr: quantile(0.95, "loadgen_call_phase_seconds", extra, "phase", "$__rate_interval"), legend: "{{phase}} p95"},
			q{expr: quantile(0.99, "loadgen_call_phase_seconds", extra, "phase", "$__rate_interval"), legend: "{{phase}} p99"}).
			ScaleDistribution(common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLog).Log(10)))
	}
	for _, timing := range []string{"service", "scheduled"} {
		b.WithPanel(n.heat(fmt.Sprintf("$phase heatmap (%s)", timing), "Distribution of the phase's latency per interval; repeats for each selected phase.", "s", 8, 8,
			heatmapQuery("loadgen_call_phase_seconds", fmt.Sprintf(`timing=%q, phase=~"$phase"`, timing))).
			Repeat("phase").RepeatDirection(dashboard.PanelRepeatDirectionH).MaxPerRow(3))
	}

	// Failures.
	b.WithRow(dashboard.NewRowBuilder("Failures").Id(n.id()))
	b.WithPanel(n.series("Failures per second by phase and reason", "loadgen_call_failures_total rate by the phase that failed and the reason.", "reqps", 12, 8,
		q{expr: rate("loadgen_call_failures_total", "", "phase, reason"), legend: "{{phase}} {{reason}}"}))
	b.WithPanel(n.series("Failures per second by status", "Gateway or HTTP status of the failures (none: no status).", "reqps", 12, 8,
		q{expr: rate("loadgen_call_failures_total", "", "status"), legend: "{{status}}"}))
	b.WithPanel(n.tbl("Failures by phase, reason and status (time range)", "Failures counted over the dashboard's time range.", 24, 7,
		q{expr: fmt.Sprintf("sort_desc(sum by (phase, reason, status) (increase(loadgen_call_failures_total{%s}[$__range])))", sel), instant: true}))

	// Media.
	b.WithRow(dashboard.NewRowBuilder("Media").Id(n.id()))
	b.WithPanel(n.series("Media packets per second", "RTP packets sent and received per stream, counted live.", "pps", 12, 8,
		q{expr: rate("loadgen_media_packets_sent_total", "", "stream"), legend: "sent {{stream}}"},
		q{expr: rate("loadgen_media_packets_received_total", "", "stream"), legend: "received {{stream}}"}))
	b.WithPanel(n.series("Media bitrate", "RTP payload bitrate sent (uplink) and received (downlink) per stream.", "bps", 12, 8,
		q{expr: "8 * " + rate("loadgen_media_sent_bytes_total", "", "stream"), legend: "sent {{stream}}"},
		q{expr: "8 * " + rate("loadgen_media_received_bytes_total", "", "stream"), legend: "received {{stream}}"}))
	b.WithPanel(n.series("Packet loss per direction", "Lost packets per second. Downlink: gateway to loadgen, seen by loadgen. Uplink: loadgen to gateway, from the gateway's RTCP receiver reports.", "pps", 12, 8,
		q{expr: rate("loadgen_media_packets_lost_total", "", "direction, stream"), legend: "{{direction}} {{stream}}"}))
	lost := func(dir string) string {
		return rate("loadgen_media_packets_lost_total", fmt.Sprintf("direction=%q", dir), "stream")
	}
	b.WithPanel(n.series("Packet loss ratio per direction", "Downlink: lost / (lost + received). Uplink: lost / sent.", "percentunit", 12, 8,
		q{expr: fmt.Sprintf("%s\n/\n(%s + %s)", lost("downlink"), lost("downlink"), rate("loadgen_media_packets_received_total", "", "stream")), legend: "downlink {{stream}}"},
		q{expr: fmt.Sprintf("%s\n/\n%s", lost("uplink"), rate("loadgen_media_packets_sent_total", "", "stream")), legend: "uplink {{stream}}"}).
		Min(0))
	b.WithPanel(n.series("Jitter per direction", "Interarrival jitter per call (loadgen_media_jitter_seconds), p50 and p95 by direction.", "s", 8, 8,
		q{expr: quantile(0.5, "loadgen_media_jitter_seconds", "", "direction", "$__rate_interval"), legend: "{{direction}} p50"},
		q{expr: quantile(0.95, "loadgen_media_jitter_seconds", "", "direction", "$__rate_interval"), legend: "{{direction}} p95"}))
	b.WithPanel(n.series("Round-trip time", "RTCP round-trip time (loadgen_media_rtt_seconds).", "s", 8, 8,
		q{expr: quantile(0.5, "loadgen_media_rtt_seconds", "", "", "$__rate_interval"), legend: "p50"},
		q{expr: quantile(0.95, "loadgen_media_rtt_seconds", "", "", "$__rate_interval"), legend: "p95"},
		q{expr: quantile(0.99, "loadgen_media_rtt_seconds", "", "", "$__rate_interval"), legend: "p99"}))
	b.WithPanel(n.series("Media faults per second", "Integrity failures (payload mismatch), late writes (the generator's media pacer fell behind) and write errors.", "short", 8, 8,
		q{expr: rate("loadgen_media_integrity_failures_total", "", ""), legend: "integrity failures"},
		q{expr: rate("loadgen_media_late_writes_total", "", ""), legend: "late writes"},
		q{expr: rate("loadgen_media_write_errors_total", "", ""), legend: "write errors"}))
	b.WithPanel(n.heat("MOS distribution", "Estimated MOS (ITU-T G.107 E-model) per call (loadgen_call_mos).", "none", 12, 8,
		heatmapQuery("loadgen_call_mos", "")))
	b.WithPanel(n.series("MOS p5 / p50", "Worst 5 % and median estimated MOS per call.", "none", 12, 8,
		q{expr: quantile(0.05, "loadgen_call_mos", "", "", "$__rate_interval"), legend: "p5"},
		q{expr: quantile(0.5, "loadgen_call_mos", "", "", "$__rate_interval"), legend: "p50"}).
		Min(1).Max(5))

	// Generator health.
	b.WithRow(dashboard.NewRowBuilder("Generator").Id(n.id()))
	b.WithPanel(n.series("Scheduler lag", "How late calls start against the schedule (loadgen_scheduler_lag_seconds). A growing lag means the generator is saturated.", "s", 8, 8,
		q{expr: quantile(0.5, "loadgen_scheduler_lag_seconds", "", "", "$__rate_interval"), legend: "p50"},
		q{expr: quantile(0.99, "loadgen_scheduler_lag_seconds", "", "", "$__rate_interval"), legend: "p99"}))
	b.WithPanel(n.series("Generator CPU", "CPU used by each loadgen process (loadgen_process_cpu_seconds_total; the embedded gateway excluded), and as a share of the CPUs available to it (cgroup quota aware).", "percentunit", 8, 8,
		q{expr: fmt.Sprintf("sum by (shard) (rate(loadgen_process_cpu_seconds_total{%s}[$__rate_interval]))\n/\nsum by (shard) (loadgen_cpus_available{%s})", sel, sel), legend: "shard {{shard}} of available"}).
		Min(0))
	b.WithPanel(n.series("Generator memory", "Resident memory of each loadgen process.", "bytes", 8, 8,
		q{expr: gauge("loadgen_process_resident_memory_bytes", "", "shard"), legend: "shard {{shard}}"}))
	b.WithPanel(n.series("Generator cores used", "CPU seconds per second per shard, and the CPUs available.", "short", 12, 7,
		q{expr: rate("loadgen_process_cpu_seconds_total", "", "shard"), legend: "shard {{shard}} used"},
		q{expr: gauge("loadgen_cpus_available", "", "shard"), legend: "shard {{shard}} available"}))
	b.WithPanel(n.series("Recorder errors and clamped values", "Values the histograms could not record, or clamped to their range: non-zero means a percentile may be off.", "short", 12, 7,
		q{expr: rate("loadgen_recorder_errors_total", "", ""), legend: "recorder errors"},
		q{expr: rate("loadgen_recorded_values_clamped_total", "", ""), legend: "clamped values"}))

	// Per shard.
	b.WithRow(dashboard.NewRowBuilder("Shards").Id(n.id()))
	b.WithPanel(n.series("Calls started per second by shard", "Each shard runs 1/N of the schedule: the lines should lie together.", "reqps", 8, 8,
		q{expr: rate("loadgen_calls_attempted_total", "", "shard"), legend: "shard {{shard}}"}))
	b.WithPanel(n.series("Calls in progress by shard", "", "none", 8, 8,
		q{expr: gauge("loadgen_calls_in_progress", "", "shard"), legend: "shard {{shard}}"}))
	b.WithPanel(n.series("Connect p99 by shard (service)", "A shard much slower than the others points at its node or network path.", "s", 8, 8,
		q{expr: quantile(0.99, "loadgen_call_phase_seconds", `timing="service", phase="connect"`, "shard", "$__rate_interval"), legend: "shard {{shard}}"}))
	b.WithPanel(n.series("Failures per second by shard", "", "reqps", 8, 8,
		q{expr: rate("loadgen_calls_total", `outcome!="success"`, "shard"), legend: "shard {{shard}}"}))
	b.WithPanel(n.series("Scheduler lag p99 by shard", "", "s", 8, 8,
		q{expr: quantile(0.99, "loadgen_scheduler_lag_seconds", "", "shard", "$__rate_interval"), legend: "shard {{shard}}"}))
	b.WithPanel(n.stateTimeline("Validity by shard", "loadgen_run_valid per shard.", 8, 8,
		q{expr: fmt.Sprintf("min by (shard) (loadgen_run_valid{%s})", sel), legend: "shard {{shard}}"}))
	b.WithPanel(n.tbl("Shard totals (time range)", "Per shard over the time range: calls started, succeeded, failed, dropped.", 24, 7,
		q{expr: fmt.Sprintf("sum by (shard) (increase(loadgen_calls_attempted_total{%s}[$__range]))", sel), instant: true},
		q{expr: fmt.Sprintf(`sum by (shard) (increase(loadgen_calls_total{%s, outcome="success"}[$__range]))`, sel), instant: true},
		q{expr: fmt.Sprintf(`sum by (shard) (increase(loadgen_calls_total{%s, outcome="failed"}[$__range]))`, sel), instant: true},
		q{expr: fmt.Sprintf("sum by (shard) (increase(loadgen_calls_dropped_total{%s}[$__range]))", sel), instant: true}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName":  map[string]any{"Value #A": "started", "Value #B": "succeeded", "Value #C": "failed", "Value #D": "dropped"},
		}}))

	return b.Build()
}

// stateTimeline is a state-timeline panel of 1/0 states.
func (n *ids) stateTimeline(title, desc string, w, h uint32, qs ...q) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Id(n.id()).
		Title(title).
		Description(desc).
		Datasource(ds()).
		Span(w).Height(h).
		Mappings(okMapping("ok", "crossed")).
		Thresholds(steps("red", 1.0, "green")).
		ShowValue(common.VisibilityModeNever).
		MergeValues(true).
		Targets(targets(qs...))
}
