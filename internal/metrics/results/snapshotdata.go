package results

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
)

// SnapshotData is the whole metrics.Snapshot of a run in summary.json
// ("snapshot"), so that results.Read rebuilds it exactly and shards merge
// with Snapshot.Merge: every histogram in HdrHistogram's V2 compressed
// encoding (base64, as in .hlog files), keyed "scheduled/<phase>",
// "service/<phase>", "lag", "jitter", "uplink_jitter", "gap", "rtt" and
// "mos", and every counter.
type SnapshotData struct {
	Start       time.Time `json:"start"`
	Taken       time.Time `json:"taken"`
	ArrivalsEnd time.Time `json:"arrivals_end,omitzero"`
	TargetMean  float64   `json:"target_mean"`
	TargetRate  float64   `json:"target_rate"`
	// Histograms are the encoded histograms by name.
	Histograms map[string]string `json:"histograms"`
	// Clamped counts out-of-range values by histogram name (the keys of
	// Histograms but mos).
	Clamped      map[string]uint64 `json:"clamped"`
	RecordErrors uint64            `json:"record_errors"`
	Attempted    uint64            `json:"attempted"`
	Dropped      uint64            `json:"dropped"`
	Succeeded    uint64            `json:"succeeded"`
	Failed       uint64            `json:"failed"`
	Aborted      uint64            `json:"aborted"`
	InProgress   uint64            `json:"in_progress"`
	// Failures are the failure counts; Status is the normalised status
	// (metrics.NormalizeStatus: 0 none, -1 other).
	Failures []SnapshotFailure               `json:"failures"`
	Media    metrics.MediaTotals             `json:"media"`
	Streams  map[string]metrics.StreamTotals `json:"streams"`
	Timeline []metrics.TimelineBucket        `json:"timeline"`
}

// SnapshotFailure is one failure count of SnapshotData.
type SnapshotFailure struct {
	Phase  string `json:"phase"`
	Reason string `json:"reason"`
	Status int    `json:"status"`
	Count  uint64 `json:"count"`
}

// histogramRef names one of a snapshot's histograms and its clamped count.
type histogramRef struct {
	name    string
	h       **hdrhistogram.Histogram
	clamped *uint64 // nil: the histogram has no clamped count (mos)
}

// histogramRefs lists every histogram of s with its name.
func histogramRefs(s *metrics.Snapshot) []histogramRef {
	var refs []histogramRef
	for p := range metrics.NumPhases {
		refs = append(refs,
			histogramRef{"scheduled/" + p.String(), &s.Scheduled[p], &s.Clamped.Scheduled[p]},
			histogramRef{"service/" + p.String(), &s.Service[p], &s.Clamped.Service[p]})
	}
	return append(refs,
		histogramRef{"lag", &s.Lag, &s.Clamped.Lag},
		histogramRef{"jitter", &s.Jitter, &s.Clamped.Jitter},
		histogramRef{"uplink_jitter", &s.UplinkJitter, &s.Clamped.UplinkJitter},
		histogramRef{"gap", &s.Gap, &s.Clamped.Gap},
		histogramRef{"rtt", &s.RTT, &s.Clamped.RTT},
		histogramRef{"mos", &s.MOS, nil},
	)
}

// NewSnapshotData encodes a snapshot.
func NewSnapshotData(s *metrics.Snapshot) (*SnapshotData, error) {
	return newSnapshotData(s, nil)
}

// newSnapshotData encodes a snapshot, reusing the encodings in c of the
// histograms that have not changed (c nil: none).
func newSnapshotData(s *metrics.Snapshot, c *EncodingCache) (*SnapshotData, error) {
	d := &SnapshotData{
		Start: s.Start.UTC(), Taken: s.Taken.UTC(), TargetMean: s.TargetMean, TargetRate: s.TargetRate,
		Histograms: map[string]string{}, Clamped: map[string]uint64{}, RecordErrors: s.RecordErrors,
		Attempted: s.Attempted, Dropped: s.Dropped, Succeeded: s.Succeeded, Failed: s.Failed, Aborted: s.Aborted,
		InProgress: s.InProgress, Failures: []SnapshotFailure{}, Media: s.Media,
		Streams: map[string]metrics.StreamTotals{}, Timeline: s.Timeline,
	}
	if !s.ArrivalsEnd.IsZero() {
		d.ArrivalsEnd = s.ArrivalsEnd.UTC()
	}
	if d.Timeline == nil {
		d.Timeline = []metrics.TimelineBucket{}
	}
	for _, r := range histogramRefs(s) {
		h := *r.h
		if h == nil {
			continue
		}
		enc, err := c.encode(r.name, h)
		if err != nil {
			return nil, fmt.Errorf("results: encode %s: %w", r.name, err)
		}
		d.Histograms[r.name] = enc
		runtime.Gosched() // as WriteInterval: the pacers run between encodings
		if r.clamped != nil && *r.clamped > 0 {
			d.Clamped[r.name] = *r.clamped
		}
	}
	for _, f := range metrics.SortedFailures(s.Failures) {
		d.Failures = append(d.Failures, SnapshotFailure{Phase: f.Phase.String(), Reason: string(f.Reason), Status: f.Status, Count: f.Count})
	}
	for k := range metrics.NumStreams {
		d.Streams[k.String()] = s.Streams[k]
	}
	return d, nil
}

// Snapshot decodes the data back into the snapshot it was made from. A
// histogram missing from the data (a summary written before the phase
// existed) is empty.
func (d *SnapshotData) Snapshot() (*metrics.Snapshot, error) {
	s := &metrics.Snapshot{
		Start: d.Start, Taken: d.Taken, ArrivalsEnd: d.ArrivalsEnd, TargetMean: d.TargetMean, TargetRate: d.TargetRate,
		RecordErrors: d.RecordErrors, Attempted: d.Attempted, Dropped: d.Dropped, Succeeded: d.Succeeded,
		Failed: d.Failed, Aborted: d.Aborted, InProgress: d.InProgress, Failures: map[metrics.FailureKey]uint64{},
		Media: d.Media, Timeline: d.Timeline,
	}
	for _, r := range histogramRefs(s) {
		enc, ok := d.Histograms[r.name]
		if !ok {
			if r.name == "mos" {
				*r.h = hdrhistogram.New(1, 5*metrics.MOSScale, metrics.HistogramSigFigs)
			} else {
				*r.h = metrics.NewLatencyHistogram()
			}
			continue
		}
		h, err := hdrhistogram.Decode([]byte(enc))
		if err != nil {
			return nil, fmt.Errorf("results: decode %s: %w", r.name, err)
		}
		*r.h = h
		if r.clamped != nil {
			*r.clamped = d.Clamped[r.name]
		}
	}
	for _, f := range d.Failures {
		p, ok := metrics.ParsePhase(f.Phase)
		if !ok {
			return nil, fmt.Errorf("results: snapshot: unknown phase %q", f.Phase)
		}
		s.Failures[metrics.FailureKey{Phase: p, Reason: metrics.Reason(f.Reason), Status: f.Status}] += f.Count
	}
	for k := range metrics.NumStreams {
		s.Streams[k] = d.Streams[k.String()]
	}
	return s, nil
}

// Read reads the summary.json in dir and rebuilds the run's snapshot from
// it exactly: merging shards is Snapshot.Merge of their Read snapshots (one
// shard merged is itself). The summary file is returned too (run id, shard,
// thresholds source, completeness). A summary without a snapshot (an older
// loadgen) is an error.
func Read(dir string) (*metrics.Snapshot, *SummaryFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, SummaryFileName))
	if err != nil {
		return nil, nil, fmt.Errorf("results: read: %w", err)
	}
	sf, err := ReadSummaryFile(bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	if sf.Snapshot == nil {
		return nil, nil, errors.New("results: read: summary.json has no snapshot (written by an older loadgen)")
	}
	s, err := sf.Snapshot.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	return s, sf, nil
}
