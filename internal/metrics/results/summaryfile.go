package results

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

// SummarySchema names the version of summary.json's layout. A change that
// removes or renames a field, or changes a unit, gets a new version.
const SummarySchema = "loadgen.summary/v1"

// SummaryFile is the content of summary.json, schema "loadgen.summary/v1":
//
//	{
//	  "schema": "loadgen.summary/v1",
//	  "title": "smoke",                    // scenario name, may be empty
//	  "labels": {"mode": "regular", "media_engine": "pion"},   // free-form run labels (a run's: scenario,
//	                                       // mode, file, version, run_id, shard, media_engine)
//	  "start": "2026-01-02T03:04:05Z",     // RFC 3339, run start
//	  "end": "...",                        // when the snapshot was taken
//	  "duration_seconds": 60.0,
//	  "valid": true,                       // false: the generator was the bottleneck
//	  "invalid_reasons": ["..."],          // plain words, when not valid
//	  "notes": ["..."],                    // caveats that do not invalidate
//	  "rate": {"target_mean": 10, "target_final": 10, "achieved": 9.98},   // calls/s
//	  "calls": {"attempted": 600, "succeeded": 590, "failed": 8,
//	            "aborted": 2, "in_progress": 0, "dropped": 0},
//	  "failures": [{"phase": "ice", "reason": "timeout", "status": "none", "count": 5}],  // descending count
//	  "phases": [{"phase": "subscribe",
//	              "scheduled": {stats}, "service": {stats},
//	              "hlog": "subscribe.hlog", "service_hlog": "subscribe_service.hlog"}, ...],
//	  "lag": {stats}, "lag_hlog": "lag.hlog",
//	  "media": {"calls": .., "packets_sent": .., "bytes_sent": .., "packets_received": ..,
//	            "bytes_received": .., "packets_lost": .., "duplicates": .., "reordered": ..,
//	            "late_writes": .., "integrity_failures": .., "write_errors": ..,
//	            "stall_missing": .., "tail_missing": ..,      // downlink loss by time, within packets_lost
//	            "uplink_calls": .., "uplink_packets_sent": .., "uplink_packets_lost": ..,
//	            "mos_delay_rtcp": .., "mos_delay_signalling": .., "mos_delay_unknown": ..,
//	            "loss_rate": 0.001 (null: no packets), "uplink_loss_rate": 0.002 (null: no reports),
//	            "jitter": {stats}, "uplink_jitter": {stats}, "longest_gap": {stats},
//	            "rtt": {stats}, "mos": {stats ×100},           // mos: the worse direction
//	            "streams": {"audio": {"packets_sent", "bytes_sent", "packets_received", "bytes_received",
//	                        "packets_lost_downlink", "packets_lost_uplink", "write_errors"}, "video": {..}}},
//	  "cpu": {"cpus": 16, "utilization": 0.35, "peak_utilization": 0.5},  // absent if not measured
//	  "thresholds": [{"metric": "connect", "expr": "p(99) < 2s", "measured": 1234567,
//	                  "measured_text": "1.23s", "ok": true}],  // measured in the metric's unit, null: no data
//	  "thresholds_ok": true,
//	  "timeline": [{"t": 0, "started": 10, "succeeded": 0, "failed": 0, "aborted": 0,
//	                "dropped": 0, "in_progress": 10, "target_rate": 10}, ...],  // one per second
//	  "calls_file": "calls.jsonl",
//	  "complete": true,                    // false: rewritten while the run goes (a killed run's last)
//	  "run_id": "…", "shard": 0, "shards": 1,
//	  "thresholds_source": {"connect": ["p(99) < 2s"]},   // the scenario's, as written
//	  "snapshot": {...}                    // the whole snapshot, histograms encoded (SnapshotData)
//	}
//
// {stats} is {"count", "min", "mean", "p50", "p90", "p99", "p99_9", "p99_99",
// "max", "clamped"} in microseconds (MOS: × 100), as HdrHistogram reports
// them (highest equivalent value, 3 significant digits). Phases appear in
// the metrics.Phase order (call order, then hold and unhold); "end" is timed
// from the moment the call began to end, "hold" and "unhold" per re-offer
// from its request to its answer applied, so their service and scheduled
// figures are the same.
type SummaryFile struct {
	Schema         string                   `json:"schema"`
	Title          string                   `json:"title,omitempty"`
	Labels         map[string]string        `json:"labels,omitempty"`
	Start          time.Time                `json:"start"`
	End            time.Time                `json:"end"`
	Duration       float64                  `json:"duration_seconds"`
	Valid          bool                     `json:"valid"`
	InvalidReasons []string                 `json:"invalid_reasons,omitempty"`
	Notes          []string                 `json:"notes,omitempty"`
	Rate           RateSummary              `json:"rate"`
	Calls          CallsSummary             `json:"calls"`
	Failures       []FailureRow             `json:"failures"`
	Phases         []PhaseSummary           `json:"phases"`
	Lag            metrics.HistogramStats   `json:"lag"`
	LagLog         string                   `json:"lag_hlog,omitempty"`
	Media          MediaSummary             `json:"media"`
	CPU            *cpu.Usage               `json:"cpu,omitempty"`
	Thresholds     []ThresholdSummary       `json:"thresholds"`
	ThresholdsOK   bool                     `json:"thresholds_ok"`
	Timeline       []metrics.TimelineBucket `json:"timeline"`
	CallsFile      string                   `json:"calls_file,omitempty"`
	// Complete is false in the summaries rewritten while the run goes
	// (RunSummaries), true in the final one.
	Complete bool `json:"complete"`
	// RunID, Shard and Shards identify the run and this generator's part
	// of it (shard 0 of 1 unsharded).
	RunID  string `json:"run_id,omitempty"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	// ThresholdsSource is the scenario's thresholds as written (metric to
	// expressions), so a merge re-evaluates them on the merged snapshot.
	ThresholdsSource map[string][]string `json:"thresholds_source,omitempty"`
	// Snapshot is the whole snapshot, histograms encoded, for an exact
	// merge (see Read).
	Snapshot *SnapshotData `json:"snapshot,omitempty"`
}

// RateSummary is the target and achieved call rate, calls/s.
type RateSummary struct {
	TargetMean  float64 `json:"target_mean"`
	TargetFinal float64 `json:"target_final"`
	Achieved    float64 `json:"achieved"`
}

// CallsSummary are the call counters.
type CallsSummary struct {
	Attempted  uint64 `json:"attempted"`
	Succeeded  uint64 `json:"succeeded"`
	Failed     uint64 `json:"failed"`
	Aborted    uint64 `json:"aborted"`
	InProgress uint64 `json:"in_progress"`
	Dropped    uint64 `json:"dropped"`
}

// FailureRow is one phase/reason/status count. Status is the gateway's
// status behind the failures (the callEnd status code or the HTTP status)
// as metrics.StatusLabel writes it: "486", "none" or "other".
type FailureRow struct {
	Phase  string `json:"phase"`
	Reason string `json:"reason"`
	Status string `json:"status"`
	Count  uint64 `json:"count"`
}

// PhaseSummary is one phase's figures and the names of its interval logs.
type PhaseSummary struct {
	Phase      string                 `json:"phase"`
	Scheduled  metrics.HistogramStats `json:"scheduled"`
	Service    metrics.HistogramStats `json:"service"`
	Log        string                 `json:"hlog,omitempty"`
	ServiceLog string                 `json:"service_hlog,omitempty"`
}

// MediaSummary is the media totals with quality figures, per direction:
// downlink (gateway to loadgen, as loadgen measured it: loss_rate, jitter,
// longest_gap) and uplink (loadgen to gateway, from the gateway's RTCP
// receiver reports: uplink_loss_rate, uplink_jitter), and per stream.
// MOS is the worse direction of each call, scored only where its delay is
// known (mos_delay_* count the sources).
type MediaSummary struct {
	metrics.MediaTotals
	LossRate       *float64                        `json:"loss_rate"`
	UplinkLossRate *float64                        `json:"uplink_loss_rate"`
	Jitter         metrics.HistogramStats          `json:"jitter"`
	UplinkJitter   metrics.HistogramStats          `json:"uplink_jitter"`
	LongestGap     metrics.HistogramStats          `json:"longest_gap"`
	RTT            metrics.HistogramStats          `json:"rtt"`
	MOS            metrics.HistogramStats          `json:"mos"`
	Streams        map[string]metrics.StreamTotals `json:"streams"`
}

// ThresholdSummary is one evaluated threshold.
type ThresholdSummary struct {
	Metric       string   `json:"metric"`
	Expr         string   `json:"expr"`
	Measured     *float64 `json:"measured"`
	MeasuredText string   `json:"measured_text"`
	OK           bool     `json:"ok"`
}

// SummaryFileOptions add what the snapshot does not hold.
type SummaryFileOptions struct {
	// Title and Labels describe the run.
	Title  string
	Labels map[string]string
	// Thresholds, Validity and CPU as for the terminal summary.
	Thresholds []threshold.Result
	Validity   validity.Verdict
	CPU        *cpu.Usage
	// WithFiles names the .hlog files and calls.jsonl (as written by
	// Writer) in the summary.
	WithFiles bool
	// Complete marks the final summary (false for the periodic ones).
	Complete bool
	// RunID, Shard and Shards (1 when 0) identify the run and the shard.
	RunID  string
	Shard  int
	Shards int
	// ThresholdsSource is the scenario's thresholds as written.
	ThresholdsSource map[string][]string
	// Encodings, when set, reuses the encodings of histograms unchanged
	// since the last summary of the same run (see EncodingCache).
	Encodings *EncodingCache
}

// NewSummaryFile builds summary.json's content from a snapshot, the
// snapshot itself included (encoded: see SnapshotData).
func NewSummaryFile(s *metrics.Snapshot, opts SummaryFileOptions) *SummaryFile {
	f := &SummaryFile{
		Schema:         SummarySchema,
		Title:          opts.Title,
		Labels:         opts.Labels,
		Start:          s.Start.UTC(),
		End:            s.Taken.UTC(),
		Duration:       s.Elapsed().Seconds(),
		Valid:          opts.Validity.Valid,
		InvalidReasons: opts.Validity.Reasons,
		Notes:          opts.Validity.Notes,
		Rate:           RateSummary{TargetMean: s.MeanTargetRate(), TargetFinal: s.TargetRate, Achieved: s.AchievedRate()},
		Calls: CallsSummary{Attempted: s.Attempted, Succeeded: s.Succeeded, Failed: s.Failed,
			Aborted: s.Aborted, InProgress: s.InProgress, Dropped: s.Dropped},
		Failures:     []FailureRow{},
		Lag:          metrics.StatsOf(s.Lag),
		CPU:          opts.CPU,
		Thresholds:   []ThresholdSummary{},
		ThresholdsOK: threshold.AllPassed(opts.Thresholds),
		Timeline:     s.Timeline,
	}
	f.Lag.Clamped = s.Clamped.Lag
	if f.Timeline == nil {
		f.Timeline = []metrics.TimelineBucket{}
	}
	for _, fc := range metrics.SortedFailures(s.Failures) {
		f.Failures = append(f.Failures, FailureRow{Phase: fc.Phase.String(), Reason: string(fc.Reason), Status: metrics.StatusLabel(fc.Status), Count: fc.Count})
	}
	for p := range metrics.NumPhases {
		ps := PhaseSummary{Phase: p.String(), Scheduled: metrics.StatsOf(s.Scheduled[p]), Service: metrics.StatsOf(s.Service[p])}
		ps.Scheduled.Clamped, ps.Service.Clamped = s.Clamped.Scheduled[p], s.Clamped.Service[p]
		if opts.WithFiles {
			ps.Log, ps.ServiceLog = HlogName(p, false), HlogName(p, true)
		}
		f.Phases = append(f.Phases, ps)
		runtime.Gosched() // percentiles walk every bucket: the pacers run between phases
	}
	if opts.WithFiles {
		f.LagLog, f.CallsFile = LagHlogName, CallsFileName
	}
	f.Media = MediaSummary{MediaTotals: s.Media, Jitter: metrics.StatsOf(s.Jitter), RTT: metrics.StatsOf(s.RTT), MOS: metrics.StatsOf(s.MOS),
		UplinkJitter: metrics.StatsOf(s.UplinkJitter), LongestGap: metrics.StatsOf(s.Gap), Streams: map[string]metrics.StreamTotals{}}
	f.Media.Jitter.Clamped, f.Media.RTT.Clamped = s.Clamped.Jitter, s.Clamped.RTT
	f.Media.UplinkJitter.Clamped, f.Media.LongestGap.Clamped = s.Clamped.UplinkJitter, s.Clamped.Gap
	if lr := s.Media.LossRate(); !math.IsNaN(lr) {
		f.Media.LossRate = &lr
	}
	if lr := s.Media.UplinkLossRate(); !math.IsNaN(lr) {
		f.Media.UplinkLossRate = &lr
	}
	for k := range metrics.NumStreams {
		f.Media.Streams[k.String()] = s.Streams[k]
	}
	f.Complete, f.RunID, f.Shard, f.Shards = opts.Complete, opts.RunID, opts.Shard, max(opts.Shards, 1)
	f.ThresholdsSource = opts.ThresholdsSource
	// An encoding error (none is known for these geometries) leaves the
	// summary without its snapshot; Read then says so.
	f.Snapshot, _ = newSnapshotData(s, opts.Encodings)
	for _, r := range opts.Thresholds {
		ts := ThresholdSummary{Metric: r.Threshold.Metric, Expr: r.Threshold.Expr,
			MeasuredText: r.Threshold.FormatValue(r.Measured), OK: r.OK}
		if !math.IsNaN(r.Measured) && !math.IsInf(r.Measured, 0) {
			m := r.Measured
			ts.Measured = &m
		}
		f.Thresholds = append(f.Thresholds, ts)
	}
	return f
}

// WriteJSON writes the summary as indented JSON.
func (f *SummaryFile) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("results: write summary.json: %w", err)
	}
	return nil
}

// ReadSummaryFile decodes summary.json, checking its schema.
func ReadSummaryFile(r io.Reader) (*SummaryFile, error) {
	var f SummaryFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("results: read summary.json: %w", err)
	}
	if f.Schema != SummarySchema {
		return nil, fmt.Errorf("results: read summary.json: schema %q, want %q", f.Schema, SummarySchema)
	}
	return &f, nil
}
