package metrics

import (
	"fmt"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry shared by every latency histogram: microseconds, from
// 1 µs to one hour, 3 significant digits (0.1 % resolution). Values above
// the range are clamped to HistogramMax and counted in Clamped.
const (
	HistogramMin     int64 = 1
	HistogramMax     int64 = int64(time.Hour / time.Microsecond)
	HistogramSigFigs       = 3
)

// MOSScale is the factor MOS values are multiplied by before they are
// recorded in the MOS histogram (HdrHistogram stores integers): 4.41 is
// stored as 441.
const MOSScale = 100

// NewLatencyHistogram returns an empty histogram with the shared geometry.
func NewLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistogramMin, HistogramMax, HistogramSigFigs)
}

// newMOSHistogram returns an empty MOS histogram (MOS × MOSScale).
func newMOSHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, 5*MOSScale, HistogramSigFigs)
}

// FailureKey is where and why calls failed, with the gateway's status
// (normalised by NormalizeStatus, so the set stays bounded; StatusLabel
// gives its label value).
type FailureKey struct {
	Phase  Phase
	Reason Reason
	Status int
}

// MediaTotals sums the media statistics of every recorded call.
type MediaTotals struct {
	// Calls is how many calls reported media statistics.
	Calls           uint64 `json:"calls"`
	PacketsSent     uint64 `json:"packets_sent"`
	BytesSent       uint64 `json:"bytes_sent"`
	PacketsReceived uint64 `json:"packets_received"`
	BytesReceived   uint64 `json:"bytes_received"`
	PacketsLost     uint64 `json:"packets_lost"`
	Duplicates      uint64 `json:"duplicates"`
	Reordered       uint64 `json:"reordered"`
	LateWrites      uint64 `json:"late_writes"`
	// IntegrityFailures counts calls whose received stream was checked
	// and was not the expected one (MediaStats.IntegrityFailed).
	IntegrityFailures uint64 `json:"integrity_failures"`
	// WriteErrors counts packets whose write failed.
	WriteErrors uint64 `json:"write_errors"`
	// StallMissing and TailMissing are the downlink packets missing by
	// time (during a stall, after the stream stopped): part of
	// PacketsLost, shown apart.
	StallMissing uint64 `json:"stall_missing"`
	TailMissing  uint64 `json:"tail_missing"`
	// UplinkCalls counts calls with RTCP receiver reports from the far
	// end; UplinkPacketsSent is what those calls sent and
	// UplinkPacketsLost what the far end reported lost of it.
	UplinkCalls       uint64 `json:"uplink_calls"`
	UplinkPacketsSent uint64 `json:"uplink_packets_sent"`
	UplinkPacketsLost uint64 `json:"uplink_packets_lost"`
	// MOSDelayRTCP, MOSDelaySignalling and MOSDelayUnknown count calls
	// with media by where their MOS delay came from (unknown: not scored).
	MOSDelayRTCP       uint64 `json:"mos_delay_rtcp"`
	MOSDelaySignalling uint64 `json:"mos_delay_signalling"`
	MOSDelayUnknown    uint64 `json:"mos_delay_unknown"`
}

// UplinkLossRate is the far end's reported loss over what the reported
// calls sent, NaN without reports.
func (m MediaTotals) UplinkLossRate() float64 {
	if m.UplinkPacketsSent == 0 {
		return math.NaN()
	}
	return float64(min(m.UplinkPacketsLost, m.UplinkPacketsSent)) / float64(m.UplinkPacketsSent)
}

// LossRate is lost / (received + lost) over all calls, NaN without packets.
func (m MediaTotals) LossRate() float64 {
	den := m.PacketsReceived + m.PacketsLost
	if den == 0 {
		return math.NaN()
	}
	return float64(m.PacketsLost) / float64(den)
}

// add sums o into m.
func (m *MediaTotals) add(o MediaTotals) {
	m.Calls += o.Calls
	m.PacketsSent += o.PacketsSent
	m.BytesSent += o.BytesSent
	m.PacketsReceived += o.PacketsReceived
	m.BytesReceived += o.BytesReceived
	m.PacketsLost += o.PacketsLost
	m.Duplicates += o.Duplicates
	m.Reordered += o.Reordered
	m.LateWrites += o.LateWrites
	m.IntegrityFailures += o.IntegrityFailures
	m.WriteErrors += o.WriteErrors
	m.StallMissing += o.StallMissing
	m.TailMissing += o.TailMissing
	m.UplinkCalls += o.UplinkCalls
	m.UplinkPacketsSent += o.UplinkPacketsSent
	m.UplinkPacketsLost += o.UplinkPacketsLost
	m.MOSDelayRTCP += o.MOSDelayRTCP
	m.MOSDelaySignalling += o.MOSDelaySignalling
	m.MOSDelayUnknown += o.MOSDelayUnknown
}

// Clamped counts values that fell outside a histogram's range and were
// recorded at its bound instead.
type Clamped struct {
	Scheduled [NumPhases]uint64 `json:"-"`
	Service   [NumPhases]uint64 `json:"-"`
	Lag       uint64            `json:"lag"`
	Jitter    uint64            `json:"jitter"`
	RTT       uint64            `json:"rtt"`
	// UplinkJitter and Gap count the far end's jitter and the longest
	// media gaps out of range.
	UplinkJitter uint64 `json:"uplink_jitter"`
	Gap          uint64 `json:"gap"`
}

// Total is the number of clamped values over every histogram.
func (c Clamped) Total() uint64 {
	n := c.Lag + c.Jitter + c.RTT + c.UplinkJitter + c.Gap
	for p := range NumPhases {
		n += c.Scheduled[p] + c.Service[p]
	}
	return n
}

// add sums o into c.
func (c *Clamped) add(o Clamped) {
	for p := range NumPhases {
		c.Scheduled[p] += o.Scheduled[p]
		c.Service[p] += o.Service[p]
	}
	c.Lag += o.Lag
	c.Jitter += o.Jitter
	c.RTT += o.RTT
	c.UplinkJitter += o.UplinkJitter
	c.Gap += o.Gap
}

// TimelineBucket is one second of the run.
type TimelineBucket struct {
	// Second is the bucket's offset from the run start, in seconds.
	Second int `json:"t"`
	// Started, Succeeded, Failed, Aborted and Dropped count events that
	// happened in this second.
	Started   uint64 `json:"started"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Aborted   uint64 `json:"aborted"`
	Dropped   uint64 `json:"dropped"`
	// InProgress is the number of calls in flight at the end of the second.
	InProgress uint64 `json:"in_progress"`
	// TargetRate is the pacer's rate at the middle of the second (calls/s).
	TargetRate float64 `json:"target_rate"`
}

// Snapshot is a consistent copy of everything a Recorder holds, taken at one
// instant. The summary, thresholds, Prometheus and result files all read
// snapshots, so they agree. A Snapshot is not safe for concurrent mutation
// (Merge) but may be read concurrently.
type Snapshot struct {
	// Start is the run's start; Taken is when the snapshot was taken.
	Start time.Time
	Taken time.Time
	// ArrivalsEnd is when the load model stopped starting calls (zero while
	// arrivals go on).
	ArrivalsEnd time.Time
	// TargetMean is the target rate averaged over the arrival window (0
	// when the recorder has no target rate).
	TargetMean float64
	// Scheduled holds per phase the durations from the scheduled start (the
	// end phase: from when the call began to end), in µs.
	Scheduled [NumPhases]*hdrhistogram.Histogram
	// Service holds per phase the durations from the actual start, in µs.
	Service [NumPhases]*hdrhistogram.Histogram
	// Lag is the scheduler lag (actual minus scheduled start), in µs.
	Lag *hdrhistogram.Histogram
	// Jitter and RTT are per-call media jitter (downlink, as loadgen
	// measured it) and round-trip time, in µs.
	Jitter *hdrhistogram.Histogram
	RTT    *hdrhistogram.Histogram
	// UplinkJitter is the per-call jitter of loadgen's audio as the far
	// end reports it (calls with reports only), in µs.
	UplinkJitter *hdrhistogram.Histogram
	// Gap is each media call's longest gap without received media while
	// media was expected, in µs (0 when there was none).
	Gap *hdrhistogram.Histogram
	// MOS is the per-call MOS estimate × MOSScale: the worse direction,
	// scored only when the call's delay is known (MediaStats.EstimateMOS).
	MOS *hdrhistogram.Histogram
	// Clamped counts out-of-range values per histogram.
	Clamped Clamped
	// RecordErrors counts values a histogram refused even after clamping
	// (a bug); a non-zero count makes the run invalid.
	RecordErrors uint64
	// Attempted calls were handed to a worker; Dropped were not (cap full).
	Attempted uint64
	Dropped   uint64
	// Succeeded, Failed and Aborted count finished calls by outcome.
	Succeeded uint64
	Failed    uint64
	Aborted   uint64
	// InProgress is Attempted minus finished calls at the snapshot.
	InProgress uint64
	// Failures counts failed calls by phase and reason.
	Failures map[FailureKey]uint64
	// Media sums every finished call's media statistics.
	Media MediaTotals
	// Streams are the live media totals per stream, as the media path
	// added them (Recorder.AddStream); zero when it adds none.
	Streams [NumStreams]StreamTotals
	// TargetRate is the pacer's rate at the snapshot (calls/s).
	TargetRate float64
	// Timeline is one bucket per second since Start.
	Timeline []TimelineBucket
}

// Elapsed is the time from Start to Taken.
func (s *Snapshot) Elapsed() time.Duration { return s.Taken.Sub(s.Start) }

// PhaseHistogram returns a phase's histogram: service time when service is
// true, from the scheduled start otherwise.
func (s *Snapshot) PhaseHistogram(p Phase, service bool) *hdrhistogram.Histogram {
	if p < 0 || p >= NumPhases {
		return NewLatencyHistogram()
	}
	if service {
		return s.Service[p]
	}
	return s.Scheduled[p]
}

// AchievedRate is Attempted per second of elapsed time (0 before any time
// has passed).
func (s *Snapshot) AchievedRate() float64 {
	el := s.arrivalWindow().Seconds()
	if el <= 0 {
		return 0
	}
	return float64(s.Attempted) / el
}

// arrivalWindow is the time calls were being started: from Start to
// ArrivalsEnd, or to Taken while arrivals go on.
func (s *Snapshot) arrivalWindow() time.Duration {
	if !s.ArrivalsEnd.IsZero() && s.ArrivalsEnd.Before(s.Taken) {
		return s.ArrivalsEnd.Sub(s.Start)
	}
	return s.Elapsed()
}

// MeanTargetRate is the pacer's rate averaged over the arrival window:
// TargetMean when the recorder computed it, else over the timeline's seconds
// within the window (0 without a timeline).
func (s *Snapshot) MeanTargetRate() float64 {
	if s.TargetMean > 0 {
		return s.TargetMean
	}
	if len(s.Timeline) == 0 {
		return s.TargetRate
	}
	window := s.arrivalWindow()
	var sum float64
	n := 0
	for _, b := range s.Timeline {
		if time.Duration(b.Second)*time.Second >= window && n > 0 {
			break
		}
		sum += b.TargetRate
		n++
	}
	return sum / float64(n)
}

// Finished is Succeeded + Failed + Aborted.
func (s *Snapshot) Finished() uint64 { return s.Succeeded + s.Failed + s.Aborted }

// Merge adds o into s, so that s equals a snapshot of one recorder that saw
// both. Histograms must share the geometry; a value a histogram drops is an
// error. Timelines are aligned on whole seconds from the earlier Start.
func (s *Snapshot) Merge(o *Snapshot) error {
	if o == nil {
		return nil
	}
	merge := func(name string, dst, src *hdrhistogram.Histogram) error {
		if d := dst.Merge(src); d != 0 {
			return fmt.Errorf("metrics: merge %s: %d values dropped", name, d)
		}
		return nil
	}
	for p := range NumPhases {
		if err := merge(p.String(), s.Scheduled[p], o.Scheduled[p]); err != nil {
			return err
		}
		if err := merge(p.String()+"_service", s.Service[p], o.Service[p]); err != nil {
			return err
		}
	}
	for _, m := range []struct {
		n        string
		dst, src *hdrhistogram.Histogram
	}{{"lag", s.Lag, o.Lag}, {"jitter", s.Jitter, o.Jitter}, {"rtt", s.RTT, o.RTT}, {"mos", s.MOS, o.MOS},
		{"uplink_jitter", s.UplinkJitter, o.UplinkJitter}, {"gap", s.Gap, o.Gap}} {
		if err := merge(m.n, m.dst, m.src); err != nil {
			return err
		}
	}
	s.Clamped.add(o.Clamped)
	s.RecordErrors += o.RecordErrors
	s.Attempted += o.Attempted
	s.Dropped += o.Dropped
	s.Succeeded += o.Succeeded
	s.Failed += o.Failed
	s.Aborted += o.Aborted
	s.InProgress += o.InProgress
	if s.Failures == nil {
		s.Failures = make(map[FailureKey]uint64)
	}
	for k, v := range o.Failures {
		s.Failures[k] += v
	}
	s.Media.add(o.Media)
	for i := range s.Streams {
		s.Streams[i].add(o.Streams[i])
	}
	s.TargetRate += o.TargetRate
	// Generators run side by side (the shards of one run): their planned
	// rates add up, as their timelines' do.
	s.TargetMean += o.TargetMean
	s.Timeline = mergeTimelines(s.Start, s.Timeline, o.Start, o.Timeline)
	if o.Start.Before(s.Start) {
		s.Start = o.Start
	}
	if o.ArrivalsEnd.After(s.ArrivalsEnd) {
		s.ArrivalsEnd = o.ArrivalsEnd
	}
	if o.Taken.After(s.Taken) {
		s.Taken = o.Taken
	}
	return nil
}

// mergeTimelines sums two timelines, aligned on whole seconds.
func mergeTimelines(as time.Time, a []TimelineBucket, bs time.Time, b []TimelineBucket) []TimelineBucket {
	base := as
	if bs.Before(base) {
		base = bs
	}
	offA := int(as.Sub(base) / time.Second)
	offB := int(bs.Sub(base) / time.Second)
	n := max(offA+len(a), offB+len(b))
	out := make([]TimelineBucket, n)
	for i := range out {
		out[i].Second = i
	}
	add := func(off int, tl []TimelineBucket) {
		for i, x := range tl {
			o := &out[off+i]
			o.Started += x.Started
			o.Succeeded += x.Succeeded
			o.Failed += x.Failed
			o.Aborted += x.Aborted
			o.Dropped += x.Dropped
			o.InProgress += x.InProgress
			o.TargetRate += x.TargetRate
		}
	}
	add(offA, a)
	add(offB, b)
	return out
}
