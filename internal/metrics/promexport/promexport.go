// Package promexport exposes a metrics.Recorder to Prometheus: a collector
// that turns one Snapshot per scrape into series (histograms with classic
// and native buckets), the registry that holds it, and the HTTP handler.
package promexport

import (
	"fmt"
	"math"
	"net/http"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadgen/loadgen/internal/metrics"
)

// DefaultBuckets returns the classic histogram upper bounds, in seconds, for
// call-setup phases: 5 ms to 60 s, roughly 1-2.5-5 per decade.
func DefaultBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60}
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

// CollectorOptions configure the Prometheus collector.
type CollectorOptions struct {
	// Scenario and Mode become constant labels scenario="..." and
	// mode="..." on every loadgen_ series (omitted when empty). Both come
	// from the scenario file, a closed set per run.
	Scenario string
	Mode     string
	// Buckets are the classic upper bounds of the phase histograms in
	// seconds; DefaultBuckets() when nil.
	Buckets []float64
	// NativeSchema is the native-histogram schema (-4..8);
	// DefaultNativeSchema when 0.
	NativeSchema int32
}

// Collector exports a Recorder to Prometheus. Every scrape takes one
// Snapshot, so all series of a scrape agree with each other and with the
// summary. Histograms are exported with both classic buckets (text format)
// and native buckets (protobuf format): the const constructors of
// client_golang make either one or the other, so each histogram is built as
// both and the classic buckets are copied into the native one's protobuf.
type Collector struct {
	snap    func() *metrics.Snapshot
	buckets []float64
	schema  int32
	numCPU  int

	phase, lag, jitter, rtt, mos              *prometheus.Desc
	calls, failures, attempted, dropped       *prometheus.Desc
	inProgress, target, achieved, clamped     *prometheus.Desc
	pktSent, pktRecv, pktLost, bSent, bRecv   *prometheus.Desc
	recordErrors, cpus, mediaCalls, integrity *prometheus.Desc
}

// NewCollector returns a collector reading snapshots from snap (usually
// Recorder.Snapshot).
func NewCollector(snap func() *metrics.Snapshot, opts CollectorOptions) *Collector {
	cl := prometheus.Labels{}
	if opts.Scenario != "" {
		cl["scenario"] = opts.Scenario
	}
	if opts.Mode != "" {
		cl["mode"] = opts.Mode
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("loadgen_"+name, help, labels, cl)
	}
	c := &Collector{
		snap:    snap,
		buckets: opts.Buckets,
		schema:  opts.NativeSchema,
		numCPU:  runtime.NumCPU(),

		phase:        d("call_phase_seconds", "Time to complete each call phase; timing=scheduled counts from the scheduled start (includes scheduler lag), timing=service from the actual start. The end phase is timed from when the call began to end.", "phase", "timing"),
		lag:          d("scheduler_lag_seconds", "Delay between a call's scheduled and actual start."),
		jitter:       d("media_jitter_seconds", "Per-call RTP interarrival jitter reported by RTCP."),
		rtt:          d("media_rtt_seconds", "Per-call round-trip time measured by RTCP."),
		mos:          d("call_mos", "Per-call MOS estimate (ITU-T G.107 E-model from codec, loss, jitter and RTT)."),
		calls:        d("calls_total", "Finished calls by outcome.", "outcome"),
		failures:     d("call_failures_total", "Failed calls by the phase they failed in and the cause.", "phase", "reason"),
		attempted:    d("calls_attempted_total", "Calls handed to a worker."),
		dropped:      d("calls_dropped_total", "Scheduled call starts dropped because the concurrency cap was full."),
		inProgress:   d("calls_in_progress", "Calls started and not yet finished."),
		target:       d("target_rate_calls_per_second", "The load model's current call rate."),
		achieved:     d("achieved_rate_calls_per_second", "Calls attempted per second since the run started."),
		clamped:      d("histogram_values_clamped_total", "Measured values outside the histogram range (1 µs to 1 h), recorded at the bound."),
		pktSent:      d("media_packets_sent_total", "RTP packets sent by all finished calls."),
		pktRecv:      d("media_packets_received_total", "RTP packets received by all finished calls."),
		pktLost:      d("media_packets_lost_total", "RTP packets lost, as seen by all finished calls."),
		bSent:        d("media_sent_bytes_total", "RTP payload bytes sent by all finished calls."),
		bRecv:        d("media_received_bytes_total", "RTP payload bytes received by all finished calls."),
		mediaCalls:   d("media_calls_total", "Finished calls that reported media statistics."),
		integrity:    d("media_integrity_failures_total", "Calls that received RTP that was not the expected stream."),
		recordErrors: d("histogram_record_errors_total", "Values a histogram refused (a loadgen bug; the run is invalid when non-zero)."),
		cpus:         d("generator_cpus", "Logical CPUs of the generator host, to read process_cpu_seconds_total as a saturation ratio."),
	}
	if c.buckets == nil {
		c.buckets = DefaultBuckets()
	}
	if c.schema == 0 {
		c.schema = DefaultNativeSchema
	}
	return c
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.phase, c.lag, c.jitter, c.rtt, c.mos, c.calls, c.failures, c.attempted, c.dropped,
		c.inProgress, c.target, c.achieved, c.clamped, c.pktSent, c.pktRecv, c.pktLost, c.bSent, c.bRecv,
		c.mediaCalls, c.integrity, c.recordErrors, c.cpus,
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
	for p := range metrics.NumPhases {
		ch <- c.histogram(c.phase, s.Scheduled[p], 1e-6, c.buckets, s.Start, p.String(), "scheduled")
		ch <- c.histogram(c.phase, s.Service[p], 1e-6, c.buckets, s.Start, p.String(), "service")
	}
	ch <- c.histogram(c.lag, s.Lag, 1e-6, lagBuckets(), s.Start)
	ch <- c.histogram(c.jitter, s.Jitter, 1e-6, lagBuckets(), s.Start)
	ch <- c.histogram(c.rtt, s.RTT, 1e-6, c.buckets, s.Start)
	ch <- c.histogram(c.mos, s.MOS, 1.0/metrics.MOSScale, mosBuckets(), s.Start)

	counter := func(d *prometheus.Desc, v uint64, lvs ...string) {
		ch <- c.constMetric(d, prometheus.CounterValue, float64(v), lvs...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- c.constMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.calls, s.Succeeded, metrics.OutcomeSuccess.String())
	counter(c.calls, s.Failed, metrics.OutcomeFailed.String())
	counter(c.calls, s.Aborted, metrics.OutcomeAborted.String())
	for k, v := range s.Failures {
		counter(c.failures, v, k.Phase.String(), string(k.Reason))
	}
	counter(c.attempted, s.Attempted)
	counter(c.dropped, s.Dropped)
	counter(c.clamped, s.Clamped.Total())
	counter(c.recordErrors, s.RecordErrors)
	counter(c.pktSent, s.Media.PacketsSent)
	counter(c.pktRecv, s.Media.PacketsReceived)
	counter(c.pktLost, s.Media.PacketsLost)
	counter(c.bSent, s.Media.BytesSent)
	counter(c.bRecv, s.Media.BytesReceived)
	counter(c.mediaCalls, s.Media.Calls)
	counter(c.integrity, s.Media.IntegrityFailures)
	gauge(c.inProgress, float64(s.InProgress))
	gauge(c.target, s.TargetRate)
	gauge(c.achieved, s.AchievedRate())
	gauge(c.cpus, float64(c.numCPU))
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
// process collector (process_cpu_seconds_total, process_resident_memory_bytes
// and friends: the generator's own load) and the Go runtime collector.
func NewRegistry(rec *metrics.Recorder, opts CollectorOptions) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, rec, opts); err != nil {
		return nil, err
	}
	return reg, nil
}

// Register adds the recorder's collector, the process collector and the Go
// collector to reg.
func Register(reg prometheus.Registerer, rec *metrics.Recorder, opts CollectorOptions) error {
	for _, c := range []prometheus.Collector{
		NewCollector(rec.Snapshot, opts),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("promexport: register collector: %w", err)
		}
	}
	return nil
}

// Handler serves reg's metrics (text, or protobuf with native histograms
// when the scraper asks for it).
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
