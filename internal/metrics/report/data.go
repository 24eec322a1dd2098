package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/results"
)

// maxBuckets bounds the points of an over-time chart: longer runs get
// wider buckets (a whole number of log intervals).
const maxBuckets = 240

// Data is what a report shows: the run summary, per phase the histograms
// read back from the interval logs (nil when a log is absent) and the
// same values over time, and per-call figures over time from calls.jsonl.
type Data struct {
	Summary *results.SummaryFile
	// Scheduled and Service are the phases' totals, indexed by
	// metrics.Phase.
	Scheduled [metrics.NumPhases]*hdrhistogram.Histogram
	Service   [metrics.NumPhases]*hdrhistogram.Histogram
	// Lag is the scheduler lag's total (nil without lag.hlog).
	Lag *hdrhistogram.Histogram
	// Width is the width in seconds of the buckets below.
	Width float64
	// ScheduledOverTime, ServiceOverTime and LagOverTime are the interval
	// logs' histograms merged into buckets of Width seconds from the
	// run's start (an empty histogram where nothing was recorded). The
	// intervals of every generator in a merged directory fall into the
	// bucket holding their midpoint.
	ScheduledOverTime [metrics.NumPhases][]*hdrhistogram.Histogram
	ServiceOverTime   [metrics.NumPhases][]*hdrhistogram.Histogram
	LagOverTime       []*hdrhistogram.Histogram
	// Calls is calls.jsonl bucketed by when each call ended; nil when the
	// directory has no calls.jsonl.
	Calls *CallsOverTime
}

// CallsOverTime holds per-call figures in buckets of Data.Width seconds,
// each call in the bucket of the last instant it reached.
type CallsOverTime struct {
	Buckets []CallBucket
	// Reasons are the "phase/reason" failure keys, most frequent first.
	Reasons []string
}

// CallBucket is what the calls that ended in one bucket reported.
type CallBucket struct {
	// Ended counts the calls; Failures counts the failed ones by
	// "phase/reason".
	Ended    int
	Failures map[string]int
	// PacketsReceived and PacketsLost sum the downlink media.
	PacketsReceived, PacketsLost uint64
	// Jitter and RTT are the calls' values in µs (sorted).
	Jitter, RTT []float64
	// MOS are the calls' MOS estimates (sorted).
	MOS []float64
}

// Load reads dir/summary.json, the interval logs it names and
// calls.jsonl. It works on a merged directory as well as on one
// generator's output.
func Load(dir string) (*Data, error) {
	b, err := os.ReadFile(filepath.Join(dir, results.SummaryFileName))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	sf, err := results.ReadSummaryFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	d := &Data{Summary: sf}
	start := sf.Start.UnixMilli()
	type logRef struct {
		name  string
		total **hdrhistogram.Histogram
		over  *[]*hdrhistogram.Histogram
	}
	var refs []logRef
	for _, ps := range sf.Phases {
		p, ok := metrics.ParsePhase(ps.Phase)
		if !ok {
			return nil, fmt.Errorf("report: summary.json: unknown phase %q", ps.Phase)
		}
		refs = append(refs, logRef{ps.Log, &d.Scheduled[p], &d.ScheduledOverTime[p]}, logRef{ps.ServiceLog, &d.Service[p], &d.ServiceOverTime[p]})
	}
	refs = append(refs, logRef{sf.LagLog, &d.Lag, &d.LagOverTime})
	logs := make([][]*hdrhistogram.Histogram, len(refs))
	var lengths []int64
	for i, r := range refs {
		if r.name == "" {
			continue
		}
		ivs, total, err := results.ReadHlog(filepath.Join(dir, filepath.Base(r.name)))
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		*r.total, logs[i] = total, ivs
		for _, h := range ivs {
			lengths = append(lengths, h.EndTimeMs()-h.StartTimeMs())
		}
	}
	d.Width = bucketWidth(lengths, sf.Duration)
	n := max(int(math.Ceil(sf.Duration/d.Width-1e-9)), 1)
	for i, r := range refs {
		if r.name == "" {
			continue
		}
		over := make([]*hdrhistogram.Histogram, n)
		for j := range over {
			over[j] = metrics.NewLatencyHistogram()
		}
		for _, h := range logs[i] {
			mid := float64(h.StartTimeMs()+h.EndTimeMs())/2000 - float64(start)/1000
			if dropped := over[bucketOf(mid, d.Width, n)].Merge(h); dropped != 0 {
				return nil, fmt.Errorf("report: %s: %d values outside the range", r.name, dropped)
			}
		}
		*r.over = over
	}
	name := sf.CallsFile
	if name == "" {
		name = results.CallsFileName
	}
	d.Calls, err = loadCalls(filepath.Join(dir, filepath.Base(name)), sf.Start, d.Width, n)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// bucketWidth is the over-time charts' bucket width in seconds: the
// interval logs' usual interval length (their median), widened to whole
// multiples of it so that a run has at most maxBuckets buckets. Without
// intervals it is a second, or duration/maxBuckets for a long run.
func bucketWidth(lengthsMs []int64, duration float64) float64 {
	w := 1.0
	if len(lengthsMs) > 0 {
		slices.Sort(lengthsMs)
		if m := float64(lengthsMs[len(lengthsMs)/2]) / 1000; m > 0 {
			w = m
		}
	}
	if k := math.Ceil(duration / w / maxBuckets); k > 1 {
		w *= k
	}
	return w
}

// bucketOf is the bucket holding offset t (seconds), clamped to [0, n).
func bucketOf(t, width float64, n int) int {
	return min(max(int(math.Floor(t/width)), 0), n-1)
}

// loadCalls buckets calls.jsonl; a missing file gives nil.
func loadCalls(path string, start time.Time, width float64, n int) (_ *CallsOverTime, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("report: %w", cerr)
		}
	}()
	c := &CallsOverTime{Buckets: make([]CallBucket, n)}
	totals := map[string]int{}
	dec := json.NewDecoder(bufio.NewReaderSize(f, 64<<10))
	for line := 1; ; line++ {
		var cl results.CallLine
		if err := dec.Decode(&cl); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("report: %s: call %d: %w", filepath.Base(path), line, err)
		}
		end := cl.Started
		if end.IsZero() {
			end = cl.Scheduled
		}
		for _, pt := range cl.Phases {
			if pt.At.After(end) {
				end = pt.At
			}
		}
		b := &c.Buckets[bucketOf(end.Sub(start).Seconds(), width, n)]
		b.Ended++
		if cl.Outcome == metrics.OutcomeFailed.String() {
			key := cl.FailedPhase + "/" + cl.Reason
			if b.Failures == nil {
				b.Failures = map[string]int{}
			}
			b.Failures[key]++
			totals[key]++
		}
		if m := cl.Media; m != nil {
			b.PacketsReceived += m.PacketsReceived
			b.PacketsLost += m.PacketsLost
			if m.PacketsReceived > 0 {
				b.Jitter = append(b.Jitter, float64(m.Jitter.Microseconds()))
			}
			if m.RTT > 0 {
				b.RTT = append(b.RTT, float64(m.RTT.Microseconds()))
			}
		}
		if cl.MOS != nil {
			b.MOS = append(b.MOS, *cl.MOS)
		}
	}
	for i := range c.Buckets {
		b := &c.Buckets[i]
		slices.Sort(b.Jitter)
		slices.Sort(b.RTT)
		slices.Sort(b.MOS)
	}
	for k := range totals {
		c.Reasons = append(c.Reasons, k)
	}
	sort.Slice(c.Reasons, func(i, j int) bool {
		a, b := c.Reasons[i], c.Reasons[j]
		if totals[a] != totals[b] {
			return totals[a] > totals[b]
		}
		return a < b
	})
	return c, nil
}

// quantile is the q-quantile (0..1) of sorted values, NaN when empty
// (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// mean is the average, NaN when empty.
func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}
