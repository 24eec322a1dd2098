// Package promexport exposes a metrics.Recorder to Prometheus: a collector
// that turns one Snapshot per scrape into series (histograms with classic
// and native buckets), the registry that holds it, and the HTTP handler.
package promexport

import (
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
)

// Range of the default classic buckets, as exponents of 2^(1/8) s: 2^-10 s
// (≈ 1 ms) to 2^6 s (64 s).
const (
	defaultBucketMinExp = -10 * 8
	defaultBucketMaxExp = 6 * 8
)

// DefaultBuckets returns the classic histogram upper bounds, in seconds, for
// call-setup phases and the RTT: 2^(i/8) s from about 1 ms to 64 s, 129
// bounds growing by 2^(1/8) ≈ 1.0905. They are the boundaries of native
// schema 3, so classic and native buckets split values the same way.
// Prometheus' histogram_quantile interpolates linearly inside the bucket
// that holds the true quantile, so over these buckets it is at most 9.05 %
// off the HdrHistogram percentile anywhere in the range.
func DefaultBuckets() []float64 {
	return GeometricBuckets(defaultBucketMinExp, defaultBucketMaxExp, 8)
}

// GeometricBuckets returns the upper bounds 2^(i/perOctave) seconds for i
// from lo to hi: the boundaries of native schema log2(perOctave) when
// perOctave is a power of two.
func GeometricBuckets(lo, hi, perOctave int) []float64 {
	if hi < lo || perOctave <= 0 {
		return nil
	}
	out := make([]float64, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		out = append(out, math.Exp2(float64(i)/float64(perOctave)))
	}
	return out
}

// lagBuckets returns the classic upper bounds for the scheduler lag and
// media jitter, in seconds: 100 µs to 5 s.
func lagBuckets() []float64 {
	return []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
}

// mosBuckets returns the classic upper bounds of the MOS histogram.
func mosBuckets() []float64 { return []float64{1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5} }

// DefaultNativeSchema is the native-histogram schema the collector exports:
// schema 3 is a bucket growth factor of 2^(1/8) ≈ 1.09.
const DefaultNativeSchema int32 = 3

// CollectorOptions configure the Prometheus collector. Only the recorder's
// snapshot is required; every other field is optional.
type CollectorOptions struct {
	// Scenario, Mode and RunID become the constant labels scenario, mode
	// and run_id on every loadgen_ series (each omitted when empty). All
	// three are fixed for a run, so the labels stay bounded.
	Scenario string
	Mode     string
	RunID    string
	// Shard is this generator's shard, 0..Shards-1 (0 unsharded): the
	// constant label shard="N" on every loadgen_ series, so shards
	// aggregate with sum by (run_id).
	Shard int
	// Shards is how many shards the run has (1 when 0), and Version the
	// loadgen version: both are labels of loadgen_run_info.
	Shards  int
	Version string
	// Buckets are the classic upper bounds of the phase and RTT histograms
	// in seconds; DefaultBuckets() when nil.
	Buckets []float64
	// NativeSchema is the native-histogram schema (-4..8);
	// DefaultNativeSchema when 0.
	NativeSchema int32
	// Thresholds, when set, is called on each scrape's snapshot and its
	// results are exported as loadgen_threshold_ok{threshold="connect:
	// p(99) < 2s"} 1 or 0. The set must be fixed for the run (the
	// scenario's thresholds), so the label stays bounded.
	Thresholds func(s *metrics.Snapshot) []threshold.Result
	// Valid, when set, is called on each scrape's snapshot; when known it
	// is exported as loadgen_run_valid 1 or 0 (absent while not known).
	Valid func(s *metrics.Snapshot) (valid, known bool)
	// CallStates, when set, reports how many calls are up (media
	// established and not yet ending, those on hold included) and how
	// many of them are on hold now: loadgen_calls_up and
	// loadgen_calls_on_hold (both absent when nil).
	CallStates func() (up, onHold int)
	// LiveMedia, when set, reports the media counters of the calls still
	// running, per stream (call.Caller.LiveMedia fits): the media
	// counters export the finished calls' totals plus these, so they
	// move while calls are up rather than when they end. Each exported
	// counter is kept monotonic (a series never goes below its previous
	// scrape), since a call's final figures can trail its last live
	// reading for a moment (it left the live set before it was recorded)
	// or, for the downlink loss, be lower (a late packet filled a gap).
	LiveMedia func() [metrics.NumStreams]metrics.StreamTotals
	// CPUsAvailable is loadgen_cpus_available, the CPUs the process may
	// use with the cgroup quota applied (cpu.Sampler.CPUs fits);
	// min(logical CPUs, GOMAXPROCS) when 0.
	CPUsAvailable float64
}

// ConstLabels returns the constant labels opts puts on every loadgen_
// series: scenario, mode and run_id when set, and shard.
func (o CollectorOptions) ConstLabels() prometheus.Labels {
	cl := prometheus.Labels{"shard": strconv.Itoa(o.Shard)}
	for k, v := range map[string]string{"scenario": o.Scenario, "mode": o.Mode, "run_id": o.RunID} {
		if v != "" {
			cl[k] = v
		}
	}
	return cl
}

// Collector exports a Recorder to Prometheus. Every scrape takes one
// Snapshot, so all series of a scrape agree with each other and with the
// summary. Histograms are exported with both classic buckets (text and
// OpenMetrics formats) and native buckets (protobuf format). client_golang
// (v1.25) has no constructor for a const histogram carrying both layouts
// (NewConstHistogram* makes classic only, NewConstNativeHistogram native
// only), and its live Histogram would need every value observed again on
// each scrape; so each histogram is built as both and the classic buckets
// are copied into the native one's protobuf, which is exactly what a live
// prometheus.Histogram with Buckets and NativeHistogramBucketFactor writes.
type Collector struct {
	snap    func() *metrics.Snapshot
	opts    CollectorOptions
	buckets []float64
	schema  int32
	cpus    float64

	mu          sync.Mutex
	lastStreams [metrics.NumStreams]metrics.StreamTotals // high-water marks of the media counters

	runInfo, phase, lag, jitter, rtt, mos        *prometheus.Desc
	calls, failures, attempted, dropped          *prometheus.Desc
	inProgress, up, onHold, target, clamped      *prometheus.Desc
	pktSent, pktRecv, pktLost, bSent, bRecv      *prometheus.Desc
	recordErrors, cpusAvail, mediaCalls          *prometheus.Desc
	integrity, lateWrites, thresholdOK, runValid *prometheus.Desc
	writeErrors, gap                             *prometheus.Desc
}

// NewCollector returns a collector reading snapshots from snap (usually
// Recorder.Snapshot).
func NewCollector(snap func() *metrics.Snapshot, opts CollectorOptions) *Collector {
	cl := opts.ConstLabels()
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("loadgen_"+name, help, labels, cl)
	}
	c := &Collector{
		snap:    snap,
		opts:    opts,
		buckets: opts.Buckets,
		schema:  opts.NativeSchema,
		cpus:    opts.CPUsAvailable,

		runInfo:      d("run_info", "Always 1; labels describe the run (the constant labels scenario, mode, run_id and shard are on every loadgen_ series).", "version", "shards"),
		phase:        d("call_phase_seconds", "Time to complete each call phase; timing=scheduled counts from the scheduled start (includes scheduler lag), timing=service from the actual start. The end phase is timed from when the call began to end.", "phase", "timing"),
		lag:          d("scheduler_lag_seconds", "Delay between a call's scheduled and actual start."),
		jitter:       d("media_jitter_seconds", "Per-call RTP interarrival jitter of the audio (RFC 3550): direction=downlink as loadgen measured what the gateway sent, direction=uplink as the gateway's RTCP receiver reports give it for what loadgen sent.", "direction"),
		gap:          d("media_longest_gap_seconds", "Per-call longest time without received media while media was expected (a stall; the tail included when the stream stopped)."),
		rtt:          d("media_rtt_seconds", "Per-call round-trip time measured by RTCP."),
		mos:          d("call_mos", "Per-call MOS estimate (ITU-T G.107 E-model from codec, loss, jitter and RTT), the worse of the two directions; calls whose delay is unknown (no RTCP RTT, no signalling estimate) are not scored."),
		calls:        d("calls_total", "Finished calls by outcome.", "outcome"),
		failures:     d("call_failures_total", "Failed calls by the phase they failed in, the cause, and the gateway's status (the callEnd status code or the HTTP status: a 3-digit code, none or other).", "phase", "reason", "status"),
		attempted:    d("calls_attempted_total", "Calls handed to a worker; rate() of it is the achieved call rate."),
		dropped:      d("calls_dropped_total", "Scheduled call starts dropped because the concurrency cap was full."),
		inProgress:   d("calls_in_progress", "Calls started and not yet finished."),
		up:           d("calls_up", "Calls whose media is established and that are not yet ending (on hold included)."),
		onHold:       d("calls_on_hold", "Calls on hold now."),
		target:       d("target_rate_calls_per_second", "The load model's current call rate."),
		clamped:      d("recorded_values_clamped_total", "Measured values outside the histogram range (1 µs to 1 h), recorded at the bound."),
		pktSent:      d("media_packets_sent_total", "RTP packets sent (written successfully), by stream.", "stream"),
		pktRecv:      d("media_packets_received_total", "RTP packets received, by stream.", "stream"),
		pktLost:      d("media_packets_lost_total", "RTP packets lost: direction=downlink sent by the gateway and not received by loadgen (sequence gaps, stalls and the tail of a stopped stream), direction=uplink sent by loadgen and reported lost by the gateway's RTCP receiver reports.", "direction", "stream"),
		bSent:        d("media_sent_bytes_total", "RTP payload bytes sent, by stream.", "stream"),
		bRecv:        d("media_received_bytes_total", "RTP payload bytes received, by stream.", "stream"),
		writeErrors:  d("media_write_errors_total", "RTP packets whose write failed (not counted as sent)."),
		mediaCalls:   d("media_calls_total", "Finished calls that reported media statistics."),
		integrity:    d("media_integrity_failures_total", "Calls that received RTP that was not the expected stream."),
		lateWrites:   d("media_late_writes_total", "Media frames written later than their due time by all finished calls."),
		recordErrors: d("recorder_errors_total", "Values a histogram refused (a loadgen bug; the run is invalid when non-zero)."),
		cpusAvail:    d("cpus_available", "CPUs the process may use: min(logical CPUs, GOMAXPROCS, the cgroup v2 CPU quota), fractional under a quota. rate(loadgen_process_cpu_seconds_total) divided by it is the process's saturation (the embedded gateway's answerers included when it runs in the process)."),
		thresholdOK:  d("threshold_ok", "1 while the scenario threshold holds on the run so far, 0 when it is crossed.", "threshold"),
		runValid:     d("run_valid", "1 while the run is valid (the generator kept up), 0 when not."),
	}
	if c.buckets == nil {
		c.buckets = DefaultBuckets()
	}
	if c.cpus <= 0 {
		c.cpus = float64(min(runtime.NumCPU(), runtime.GOMAXPROCS(0)))
	}
	if c.schema == 0 {
		c.schema = DefaultNativeSchema
	}
	return c
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.runInfo, c.phase, c.lag, c.jitter, c.rtt, c.mos, c.calls, c.failures, c.attempted, c.dropped,
		c.inProgress, c.up, c.onHold, c.target, c.clamped, c.pktSent, c.pktRecv, c.pktLost, c.bSent, c.bRecv,
		c.mediaCalls, c.integrity, c.lateWrites, c.recordErrors, c.cpusAvail, c.thresholdOK, c.runValid,
		c.writeErrors, c.gap,
	} {
		ch <- d
	}
}

// Collect takes one snapshot and sends every series built from it. A
// series that cannot be built is sent as an invalid metric, so the scrape
// reports the error instead of the collector panicking.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	if s == nil {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, lvs ...string) {
		ch <- c.constMetric(d, prometheus.CounterValue, float64(v), lvs...)
	}
	gauge := func(d *prometheus.Desc, v float64, lvs ...string) {
		ch <- c.constMetric(d, prometheus.GaugeValue, v, lvs...)
	}
	gauge(c.runInfo, 1, c.opts.Version, strconv.Itoa(max(c.opts.Shards, 1)))

	for p := range metrics.NumPhases {
		ch <- c.histogram(c.phase, s.Scheduled[p], 1e-6, c.buckets, s.Start, p.String(), "scheduled")
		ch <- c.histogram(c.phase, s.Service[p], 1e-6, c.buckets, s.Start, p.String(), "service")
	}
	ch <- c.histogram(c.lag, s.Lag, 1e-6, lagBuckets(), s.Start)
	ch <- c.histogram(c.jitter, s.Jitter, 1e-6, lagBuckets(), s.Start, "downlink")
	ch <- c.histogram(c.jitter, s.UplinkJitter, 1e-6, lagBuckets(), s.Start, "uplink")
	ch <- c.histogram(c.gap, s.Gap, 1e-6, c.buckets, s.Start)
	ch <- c.histogram(c.rtt, s.RTT, 1e-6, c.buckets, s.Start)
	ch <- c.histogram(c.mos, s.MOS, 1.0/metrics.MOSScale, mosBuckets(), s.Start)

	counter(c.calls, s.Succeeded, metrics.OutcomeSuccess.String())
	counter(c.calls, s.Failed, metrics.OutcomeFailed.String())
	counter(c.calls, s.Aborted, metrics.OutcomeAborted.String())
	for k, v := range s.Failures {
		counter(c.failures, v, k.Phase.String(), string(k.Reason), metrics.StatusLabel(k.Status))
	}
	counter(c.attempted, s.Attempted)
	counter(c.dropped, s.Dropped)
	counter(c.clamped, s.Clamped.Total())
	counter(c.recordErrors, s.RecordErrors)
	streams := c.streams(s)
	var writeErrs uint64
	for k := range metrics.NumStreams {
		st, name := streams[k], k.String()
		counter(c.pktSent, st.PacketsSent, name)
		counter(c.pktRecv, st.PacketsReceived, name)
		counter(c.pktLost, st.PacketsLostDownlink, "downlink", name)
		counter(c.pktLost, st.PacketsLostUplink, "uplink", name)
		counter(c.bSent, st.BytesSent, name)
		counter(c.bRecv, st.BytesReceived, name)
		writeErrs += st.WriteErrors
	}
	counter(c.writeErrors, writeErrs)
	counter(c.mediaCalls, s.Media.Calls)
	counter(c.integrity, s.Media.IntegrityFailures)
	counter(c.lateWrites, s.Media.LateWrites)
	gauge(c.inProgress, float64(s.InProgress))
	gauge(c.target, s.TargetRate)
	gauge(c.cpusAvail, c.cpus)
	if c.opts.CallStates != nil {
		up, onHold := c.opts.CallStates()
		gauge(c.up, float64(up))
		gauge(c.onHold, float64(onHold))
	}
	if c.opts.Thresholds != nil {
		seen := make(map[string]bool)
		for _, r := range c.opts.Thresholds(s) {
			name := r.Threshold.String()
			if seen[name] { // the same expression twice: one series
				continue
			}
			seen[name] = true
			gauge(c.thresholdOK, boolValue(r.OK), name)
		}
	}
	if c.opts.Valid != nil {
		if valid, known := c.opts.Valid(s); known {
			gauge(c.runValid, boolValue(valid))
		}
	}
}

// streams are the per-stream media counters to export: the finished
// calls' (s.Streams) plus the live calls' (LiveMedia), each field never
// below what an earlier scrape exported.
func (c *Collector) streams(s *metrics.Snapshot) [metrics.NumStreams]metrics.StreamTotals {
	out := s.Streams
	if c.opts.LiveMedia != nil {
		live := c.opts.LiveMedia()
		for k := range out {
			out[k].Add(live[k])
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range out {
		o, l := &out[k], c.lastStreams[k]
		o.PacketsSent = max(o.PacketsSent, l.PacketsSent)
		o.BytesSent = max(o.BytesSent, l.BytesSent)
		o.PacketsReceived = max(o.PacketsReceived, l.PacketsReceived)
		o.BytesReceived = max(o.BytesReceived, l.BytesReceived)
		o.PacketsLostDownlink = max(o.PacketsLostDownlink, l.PacketsLostDownlink)
		o.PacketsLostUplink = max(o.PacketsLostUplink, l.PacketsLostUplink)
		o.WriteErrors = max(o.WriteErrors, l.WriteErrors)
	}
	c.lastStreams = out
	return out
}

// boolValue is 1 for true, 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// constMetric builds a const counter or gauge, or an invalid metric.
func (c *Collector) constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, lvs ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, lvs...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// HistogramBuckets converts an HdrHistogram into Prometheus terms: scale
// converts its integer values into the exported unit (1e-6 for µs to
// seconds). The classic buckets map each upper bound to the cumulative count
// of values at or below it; a value whose HdrHistogram bucket (0.1 % wide)
// starts at or below a bound counts below it. The native buckets use
// schema, indexed as Prometheus does (bucket i holds (2^((i-1)/2^schema),
// 2^(i/2^schema)]); zero values go to the zero bucket. sum is count × the
// HdrHistogram mean (exact to its resolution).
func HistogramBuckets(h *hdrhistogram.Histogram, scale float64, bounds []float64, schema int32) (count uint64, sum float64, classic map[float64]uint64, native map[int]int64, zero uint64) {
	classic = make(map[float64]uint64, len(bounds))
	native = make(map[int]int64)
	for _, b := range bounds {
		classic[b] = 0
	}
	count = uint64(h.TotalCount())
	if count == 0 {
		return count, 0, classic, native, 0
	}
	sum = h.Mean() * float64(count) * scale
	for _, bar := range h.Distribution() {
		if bar.Count <= 0 {
			continue
		}
		v := float64(bar.From) * scale
		for _, b := range bounds {
			if v <= b*(1+1e-12) {
				classic[b] += uint64(bar.Count)
			}
		}
		if bar.From == 0 {
			zero += uint64(bar.Count)
			continue
		}
		native[nativeIndex(v, schema)] += bar.Count
	}
	return count, sum, classic, native, zero
}

// nativeIndex is the index of the native bucket holding v > 0.
func nativeIndex(v float64, schema int32) int {
	f := math.Exp2(float64(schema))
	i := int(math.Ceil(math.Log2(v) * f))
	for math.Exp2(float64(i-1)/f) >= v {
		i--
	}
	for math.Exp2(float64(i)/f) < v {
		i++
	}
	return i
}

// histogram builds one histogram series carrying both classic and native
// buckets.
func (c *Collector) histogram(d *prometheus.Desc, h *hdrhistogram.Histogram, scale float64, bounds []float64, created time.Time, lvs ...string) prometheus.Metric {
	count, sum, classic, native, zero := HistogramBuckets(h, scale, bounds, c.schema)
	cm, err := prometheus.NewConstHistogramWithCreatedTimestamp(d, count, sum, classic, created, lvs...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, fmt.Errorf("promexport: classic histogram: %w", err))
	}
	nm, err := prometheus.NewConstNativeHistogram(d, count, sum, native, nil, zero, c.schema,
		prometheus.DefNativeHistogramZeroThreshold, created, lvs...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, fmt.Errorf("promexport: native histogram: %w", err))
	}
	return classicNative{classic: cm, native: nm}
}

// classicNative is one histogram with both bucket layouts, as a
// prometheus.Histogram configured with Buckets and
// NativeHistogramBucketFactor exposes it.
type classicNative struct{ classic, native prometheus.Metric }

// Desc returns the histogram's descriptor.
func (m classicNative) Desc() *prometheus.Desc { return m.classic.Desc() }

// Write writes the native histogram and adds the classic buckets.
func (m classicNative) Write(out *dto.Metric) error {
	if err := m.native.Write(out); err != nil {
		return err
	}
	var cl dto.Metric
	if err := m.classic.Write(&cl); err != nil {
		return err
	}
	if out.Histogram == nil || cl.Histogram == nil {
		return fmt.Errorf("promexport: histogram missing from written metric")
	}
	// The const native histogram is built for this one scrape, so its
	// protobuf may be completed in place.
	out.Histogram.Bucket = cl.Histogram.Bucket
	return nil
}

// NewRegistry returns a registry holding the recorder's collector, the
// process collector (loadgen_process_cpu_seconds_total,
// loadgen_process_resident_memory_bytes and friends: the generator's own
// load, the embedded gateway's included when it runs in this process) and
// the Go runtime collector (go_*).
func NewRegistry(rec *metrics.Recorder, opts CollectorOptions) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, rec, opts); err != nil {
		return nil, err
	}
	return reg, nil
}

// Register adds the recorder's collector, the process collector (named
// loadgen_process_*) and the Go collector to reg. The process series carry
// the same constant labels as the recorder's, so a query such as
// sum by (run_id) (rate(loadgen_process_cpu_seconds_total[1m])) adds up the
// shards of a run; the go_* series stay as client_golang names them.
func Register(reg prometheus.Registerer, rec *metrics.Recorder, opts CollectorOptions) error {
	labeled := prometheus.WrapRegistererWith(opts.ConstLabels(), reg)
	for _, r := range []struct {
		reg prometheus.Registerer
		c   prometheus.Collector
	}{
		{reg, NewCollector(rec.Snapshot, opts)},
		{labeled, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "loadgen"})},
		{reg, collectors.NewGoCollector()},
	} {
		if err := r.reg.Register(r.c); err != nil {
			return fmt.Errorf("promexport: register collector: %w", err)
		}
	}
	return nil
}

// Handler serves reg's metrics: the text format by default, OpenMetrics or
// protobuf (with native histograms) when the scraper asks for it.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}
