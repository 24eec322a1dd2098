package metrics

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Defaults for RecorderOptions.
const (
	// DefaultLiveWindow is how many seconds the live connect percentile
	// covers.
	DefaultLiveWindow = 10
	// DefaultTimelineLimit caps the timeline at 48 hours of 1 s buckets;
	// later events are counted in the last bucket.
	DefaultTimelineLimit = 48 * 3600
)

// RecorderOptions configure a Recorder. The zero value is usable.
type RecorderOptions struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Start is the run's start; Now() at NewRecorder when zero.
	Start time.Time
	// TargetRate reports the pacer's rate (calls/s) at an elapsed time from
	// Start, for the timeline and the target-rate gauge; optional (the
	// worker's Pacer.Rate fits).
	TargetRate func(elapsed time.Duration) float64
	// LiveWindow is the width in seconds of the live percentile window;
	// DefaultLiveWindow when 0.
	LiveWindow int
	// TimelineLimit caps the timeline's buckets; DefaultTimelineLimit when 0.
	TimelineLimit int
}

// Recorder accumulates call records into HdrHistograms and counters. It is
// safe for concurrent use: one mutex guards everything, held only for the
// few histogram updates of one call.
type Recorder struct {
	now        func() time.Time
	start      time.Time
	limit      int
	liveWindow int

	mu         sync.Mutex
	targetRate func(time.Duration) float64
	arrivalEnd time.Time
	scheduled  [NumPhases]*hdrhistogram.Histogram
	service    [NumPhases]*hdrhistogram.Histogram
	lag        *hdrhistogram.Histogram
	jitter     *hdrhistogram.Histogram
	upJitter   *hdrhistogram.Histogram
	gap        *hdrhistogram.Histogram
	rtt        *hdrhistogram.Histogram
	mos        *hdrhistogram.Histogram
	clamped    Clamped
	recordErrs uint64
	started    uint64
	finished   uint64
	succeeded  uint64
	failed     uint64
	aborted    uint64
	dropped    uint64
	failures   map[FailureKey]uint64
	media      MediaTotals
	streams    [NumStreams]StreamTotals
	live       *hdrhistogram.WindowedHistogram
	liveSecond int64
	timeline   []TimelineBucket
	// interval receives the same latency values as the cumulative
	// histograms since intervalStart; TakeInterval swaps it out.
	interval      *Interval
	intervalStart time.Time
}

// Interval holds the latency values recorded between Start and End: the
// rows of the HdrHistogram interval logs. The intervals a recorder hands out
// add up exactly to its cumulative histograms.
type Interval struct {
	Start, End time.Time
	// Scheduled, Service and Lag are as in Snapshot.
	Scheduled [NumPhases]*hdrhistogram.Histogram
	Service   [NumPhases]*hdrhistogram.Histogram
	Lag       *hdrhistogram.Histogram
}

// newInterval returns an empty interval.
func newInterval() *Interval {
	iv := &Interval{Lag: NewLatencyHistogram()}
	for p := range NumPhases {
		iv.Scheduled[p] = NewLatencyHistogram()
		iv.Service[p] = NewLatencyHistogram()
	}
	return iv
}

// NewRecorder returns an empty recorder.
func NewRecorder(opts RecorderOptions) *Recorder {
	r := &Recorder{
		now:        opts.Now,
		start:      opts.Start,
		limit:      opts.TimelineLimit,
		liveWindow: opts.LiveWindow,
		targetRate: opts.TargetRate,
		lag:        NewLatencyHistogram(),
		jitter:     NewLatencyHistogram(),
		upJitter:   NewLatencyHistogram(),
		gap:        NewLatencyHistogram(),
		rtt:        NewLatencyHistogram(),
		mos:        newMOSHistogram(),
		failures:   make(map[FailureKey]uint64),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.start.IsZero() {
		r.start = r.now()
	}
	if r.limit <= 0 {
		r.limit = DefaultTimelineLimit
	}
	if r.liveWindow <= 0 {
		r.liveWindow = DefaultLiveWindow
	}
	for p := range NumPhases {
		r.scheduled[p] = NewLatencyHistogram()
		r.service[p] = NewLatencyHistogram()
	}
	r.live = hdrhistogram.NewWindowed(r.liveWindow, HistogramMin, HistogramMax, HistogramSigFigs)
	r.interval, r.intervalStart = newInterval(), r.start
	return r
}

// Start returns the run's start instant.
func (r *Recorder) Start() time.Time { return r.start }

// ArrivalsEnded records when the load model stopped starting calls, so the
// achieved and target rates compare the same window (the calls' drain after
// it is not part of the offered load).
func (r *Recorder) ArrivalsEnded(at time.Time) {
	r.mu.Lock()
	r.arrivalEnd = at
	r.mu.Unlock()
}

// CallStarted counts a call handed to a worker (attempted, in progress).
func (r *Recorder) CallStarted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
	b := r.bucket(r.now())
	b.Started++
	r.setInProgress(b)
}

// Dropped counts a scheduled start that found the concurrency cap full.
func (r *Recorder) Dropped() { r.DroppedN(1) }

// DroppedN counts n dropped starts at once (the load engine counts starts
// it could not issue in bulk).
func (r *Recorder) DroppedN(n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped += n
	r.bucket(r.now()).Dropped += n
}

// Record accounts one finished call: every phase it reached (each hold
// and unhold re-offer one value), its outcome,
// its scheduler lag and its media. A call recorded without CallStarted is
// counted as attempted too.
func (r *Recorder) Record(rec CallRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.recordPhases(rec, now, !rec.SetupRecorded, true)
	r.recordReoffers(rec.Reoffers)
	r.recordOutcome(rec, now)
	r.recordMedia(rec.Media)
}

// RecordSetup records a call's scheduling lag and setup phases (subscribe
// to first media) as soon as its setup completes, so live percentiles,
// /metrics and the interval logs do not wait for the call's hold time. The
// caller then marks the record SetupRecorded, and Record at the call's end
// counts the rest (end, re-offers, outcome, media).
func (r *Recorder) RecordSetup(rec CallRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recordPhases(rec, r.now(), true, false)
}

// recordPhases records the scheduler lag and every phase reached (both
// timings), except the re-offers: with setup, the lag and the setup phases
// (all but end); with end, the end phase. r.mu is held.
func (r *Recorder) recordPhases(rec CallRecord, now time.Time, setup, end bool) {
	sched, started := rec.Scheduled, rec.Started
	if started.IsZero() {
		started = sched
	}
	if sched.IsZero() {
		sched = started
	}
	if setup && !sched.IsZero() && !started.IsZero() {
		r.recordDuration(r.lag, started.Sub(sched), &r.clamped.Lag)
		r.recordInterval(r.interval.Lag, started.Sub(sched))
	}
	for p := range NumPhases {
		at := rec.Instants[p]
		if at.IsZero() || p == PhaseHold || p == PhaseUnhold { // re-offers: recordReoffers
			continue
		}
		if (p == PhaseEnd && !end) || (p != PhaseEnd && !setup) {
			continue
		}
		if p == PhaseEnd {
			from := rec.EndBegan
			if from.IsZero() {
				continue
			}
			d := at.Sub(from)
			r.recordDuration(r.scheduled[p], d, &r.clamped.Scheduled[p])
			r.recordDuration(r.service[p], d, &r.clamped.Service[p])
			r.recordInterval(r.interval.Scheduled[p], d)
			r.recordInterval(r.interval.Service[p], d)
			continue
		}
		if sched.IsZero() {
			continue
		}
		r.recordDuration(r.scheduled[p], at.Sub(sched), &r.clamped.Scheduled[p])
		r.recordDuration(r.service[p], at.Sub(started), &r.clamped.Service[p])
		r.recordInterval(r.interval.Scheduled[p], at.Sub(sched))
		r.recordInterval(r.interval.Service[p], at.Sub(started))
		if p == PhaseConnect {
			r.rotateLive(now)
			var ignored uint64
			r.recordDuration(r.live.Current, at.Sub(sched), &ignored)
		}
	}
}

// recordReoffers records each hold and unhold re-offer, request to answer
// applied; r.mu is held.
func (r *Recorder) recordReoffers(reoffers []Reoffer) {
	for _, ro := range reoffers {
		p := ro.Phase
		if (p != PhaseHold && p != PhaseUnhold) || ro.Applied.IsZero() || ro.Requested.IsZero() {
			continue
		}
		d := ro.Duration()
		r.recordDuration(r.scheduled[p], d, &r.clamped.Scheduled[p])
		r.recordDuration(r.service[p], d, &r.clamped.Service[p])
		r.recordInterval(r.interval.Scheduled[p], d)
		r.recordInterval(r.interval.Service[p], d)
	}
}

// recordOutcome counts the call's outcome, in total and in now's bucket;
// r.mu is held.
func (r *Recorder) recordOutcome(rec CallRecord, now time.Time) {
	r.finished++
	if r.finished > r.started {
		r.started = r.finished
	}
	b := r.bucket(now)
	switch rec.Outcome {
	case OutcomeSuccess:
		r.succeeded++
		b.Succeeded++
	case OutcomeAborted:
		r.aborted++
		b.Aborted++
	default: // OutcomeFailed, and OutcomeUnknown as a local error
		r.failed++
		b.Failed++
		r.failures[failureKey(rec)]++
	}
	r.setInProgress(b)
}

// recordMedia adds a call's media stats, if it had media; r.mu is held.
func (r *Recorder) recordMedia(m MediaStats) {
	if m.PacketsSent+m.PacketsReceived+m.PacketsLost == 0 {
		return
	}
	r.media.Calls++
	r.media.PacketsSent += m.PacketsSent
	r.media.BytesSent += m.BytesSent
	r.media.PacketsReceived += m.PacketsReceived
	r.media.BytesReceived += m.BytesReceived
	r.media.PacketsLost += m.PacketsLost
	r.media.Duplicates += m.Duplicates
	r.media.Reordered += m.Reordered
	r.media.LateWrites += m.LateWrites
	r.media.WriteErrors += m.WriteErrors
	if m.IntegrityFailed() {
		r.media.IntegrityFailures++
	}
	for _, ss := range [NumStreams]MediaStreamStats{m.Audio, m.Video} {
		r.media.StallMissing += ss.StallMissing
		r.media.TailMissing += ss.TailMissing
	}
	if m.UplinkReports > 0 {
		r.media.UplinkCalls++
		r.media.UplinkPacketsLost += m.UplinkPacketsLost
		for _, ss := range [NumStreams]MediaStreamStats{m.Audio, m.Video} {
			if ss.UplinkReports > 0 {
				r.media.UplinkPacketsSent += ss.PacketsSent
			}
		}
		if m.UplinkJitter > 0 {
			r.recordDuration(r.upJitter, m.UplinkJitter, &r.clamped.UplinkJitter)
		}
	}
	if m.Jitter > 0 {
		r.recordDuration(r.jitter, m.Jitter, &r.clamped.Jitter)
	}
	if m.RTT > 0 {
		r.recordDuration(r.rtt, m.RTT, &r.clamped.RTT)
	}
	r.recordDuration(r.gap, m.LongestGap, &r.clamped.Gap)
	switch _, src := m.Delay(); src {
	case MOSDelayRTCP:
		r.media.MOSDelayRTCP++
	case MOSDelaySignalling:
		r.media.MOSDelaySignalling++
	default:
		r.media.MOSDelayUnknown++
	}
	if mos, ok := m.MOS(); ok {
		r.recordValue(r.mos, int64(mos*MOSScale+0.5))
	}
	for k, ss := range [NumStreams]MediaStreamStats{m.Audio, m.Video} {
		r.streams[k].add(ss.totals())
	}
}

// failureKey classifies a failed call; an unknown outcome or a reason
// outside the closed set is a local error, so labels stay bounded.
func failureKey(rec CallRecord) FailureKey {
	k := FailureKey{Phase: rec.FailedPhase, Reason: rec.Reason, Status: NormalizeStatus(rec.Status)}
	if k.Phase < 0 || k.Phase >= NumPhases {
		k.Phase = PhaseSubscribe
	}
	if rec.Outcome != OutcomeFailed || !knownReason(k.Reason) {
		k.Reason = ReasonLocal
	}
	return k
}

// knownReason reports whether r is in the closed set.
func knownReason(r Reason) bool {
	for _, x := range Reasons() {
		if x == r {
			return true
		}
	}
	return false
}

// recordDuration records d in µs, clamped into the histogram's range; a
// clamped value is counted in *clamped. Sub-microsecond values record 0.
func (r *Recorder) recordDuration(h *hdrhistogram.Histogram, d time.Duration, clamped *uint64) {
	v := int64(d / time.Microsecond)
	switch {
	case v < 0:
		v = 0
		*clamped++
	case v > h.HighestTrackableValue():
		v = h.HighestTrackableValue()
		*clamped++
	}
	r.recordValue(h, v)
}

// recordInterval records d into an interval histogram, clamped like
// recordDuration but without counting (the cumulative histogram counts).
func (r *Recorder) recordInterval(h *hdrhistogram.Histogram, d time.Duration) {
	var ignored uint64
	r.recordDuration(h, d, &ignored)
}

// TakeInterval returns the values recorded since the previous call (or the
// start) and starts a new interval at now.
func (r *Recorder) TakeInterval() *Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	iv := r.interval
	iv.Start, iv.End = r.intervalStart, r.now()
	r.interval, r.intervalStart = newInterval(), iv.End
	return iv
}

// recordValue records v, counting a refusal in recordErrs.
func (r *Recorder) recordValue(h *hdrhistogram.Histogram, v int64) {
	if v > h.HighestTrackableValue() {
		v = h.HighestTrackableValue()
	}
	if v < 0 {
		v = 0
	}
	if err := h.RecordValue(v); err != nil {
		r.recordErrs++
	}
}

// rotateLive advances the live window to now's second.
func (r *Recorder) rotateLive(now time.Time) {
	sec := int64(now.Sub(r.start) / time.Second)
	for n := 0; r.liveSecond < sec; n++ {
		if n >= r.liveWindow {
			r.liveSecond = sec
			break
		}
		r.live.Rotate()
		r.liveSecond++
	}
}

// bucket returns the timeline bucket for instant t, growing the timeline.
func (r *Recorder) bucket(t time.Time) *TimelineBucket {
	i := int(t.Sub(r.start) / time.Second)
	if i < 0 {
		i = 0
	}
	if i >= r.limit {
		i = r.limit - 1
	}
	for len(r.timeline) <= i {
		prev := uint64(0)
		if n := len(r.timeline); n > 0 {
			prev = r.timeline[n-1].InProgress
		}
		r.timeline = append(r.timeline, TimelineBucket{Second: len(r.timeline), InProgress: prev})
	}
	return &r.timeline[i]
}

// setInProgress stores the calls in flight now into b.
func (r *Recorder) setInProgress(b *TimelineBucket) {
	b.InProgress = r.inProgress()
}

// inProgress is started minus finished.
func (r *Recorder) inProgress() uint64 {
	if r.finished >= r.started {
		return 0
	}
	return r.started - r.finished
}

// Snapshot copies everything under one lock, so its counts and histograms
// agree with each other.
func (r *Recorder) Snapshot() *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.bucket(now) // the timeline reaches the snapshot's second
	s := &Snapshot{
		Start:        r.start,
		Taken:        now,
		Lag:          r.lag.Clone(),
		Jitter:       r.jitter.Clone(),
		UplinkJitter: r.upJitter.Clone(),
		Gap:          r.gap.Clone(),
		RTT:          r.rtt.Clone(),
		MOS:          r.mos.Clone(),
		Clamped:      r.clamped,
		RecordErrors: r.recordErrs,
		Attempted:    r.started,
		Dropped:      r.dropped,
		Succeeded:    r.succeeded,
		Failed:       r.failed,
		Aborted:      r.aborted,
		InProgress:   r.inProgress(),
		Failures:     make(map[FailureKey]uint64, len(r.failures)),
		Media:        r.media,
		Streams:      r.streams,
		Timeline:     append([]TimelineBucket(nil), r.timeline...),
	}
	for p := range NumPhases {
		s.Scheduled[p] = r.scheduled[p].Clone()
		s.Service[p] = r.service[p].Clone()
		// A snapshot copies a few megabytes: let the media pacers run
		// between phases (one CPU, GOMAXPROCS 1: a pacer waits for the
		// goroutine that holds the P, up to the 10 ms preemption).
		runtime.Gosched()
	}
	for k, v := range r.failures {
		s.Failures[k] = v
	}
	s.ArrivalsEnd = r.arrivalEnd
	if r.targetRate != nil {
		s.TargetRate = r.targetRate(now.Sub(r.start))
		// The mean target rate over the arrival window, integrated with the
		// midpoint rule (exact for constant rates and linear ramps).
		if w := s.arrivalWindow(); w > 0 {
			const steps = 1000
			var sum float64
			for i := range steps {
				sum += r.targetRate(time.Duration((float64(i) + 0.5) / steps * float64(w)))
			}
			s.TargetMean = sum / steps
		}
		for i := range s.Timeline {
			s.Timeline[i].TargetRate = r.targetRate(time.Duration(i)*time.Second + time.Second/2)
		}
	}
	return s
}

// Merge adds everything o has recorded into r, as if r had seen o's calls
// too (used to combine per-shard recorders). Values a histogram drops are an
// error. The live window and timeline of o are merged by second.
func (r *Recorder) Merge(o *Recorder) error {
	if o == r {
		return fmt.Errorf("metrics: merge a recorder into itself")
	}
	os := o.Snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	mine := &Snapshot{
		Start: r.start, Scheduled: r.scheduled, Service: r.service,
		Lag: r.lag, Jitter: r.jitter, RTT: r.rtt, MOS: r.mos, Failures: r.failures,
		UplinkJitter: r.upJitter, Gap: r.gap,
		Clamped: r.clamped, RecordErrors: r.recordErrs, Attempted: r.started, Dropped: r.dropped,
		Succeeded: r.succeeded, Failed: r.failed, Aborted: r.aborted, Media: r.media,
		Streams: r.streams, Timeline: r.timeline,
	}
	os.TargetRate = 0
	for i := range os.Timeline {
		os.Timeline[i].TargetRate = 0
	}
	if err := mine.Merge(os); err != nil {
		return err
	}
	r.clamped, r.recordErrs = mine.Clamped, mine.RecordErrors
	r.started += os.Attempted
	r.finished += os.Finished()
	r.dropped, r.succeeded, r.failed, r.aborted = mine.Dropped, mine.Succeeded, mine.Failed, mine.Aborted
	r.media, r.streams = mine.Media, mine.Streams
	// Keep r's start: events o saw before it count in r's first second.
	off := int(r.start.Sub(mine.Start) / time.Second)
	if off > 0 && off < len(mine.Timeline) {
		first := &mine.Timeline[off]
		for _, e := range mine.Timeline[:off] {
			first.Started += e.Started
			first.Succeeded += e.Succeeded
			first.Failed += e.Failed
			first.Aborted += e.Aborted
			first.Dropped += e.Dropped
		}
		mine.Timeline = mine.Timeline[off:]
		for i := range mine.Timeline {
			mine.Timeline[i].Second = i
		}
	}
	r.timeline = mine.Timeline
	for p := range NumPhases {
		r.recordErrs += uint64(r.interval.Scheduled[p].Merge(os.Scheduled[p]))
		r.recordErrs += uint64(r.interval.Service[p].Merge(os.Service[p]))
	}
	r.recordErrs += uint64(r.interval.Lag.Merge(os.Lag))
	if h := os.Scheduled[PhaseConnect]; h.TotalCount() > 0 {
		if d := r.live.Current.Merge(h); d != 0 {
			r.recordErrs += uint64(d)
		}
	}
	return nil
}

// Failures returns a copy of the failed-call counts by phase, reason and status,
// without copying any histogram (for the progress line).
func (r *Recorder) Failures() map[FailureKey]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[FailureKey]uint64, len(r.failures))
	for k, v := range r.failures {
		out[k] = v
	}
	return out
}

// Live is the small view the progress line prints.
type Live struct {
	// Elapsed is the time since the run's start.
	Elapsed time.Duration
	// Attempted, Succeeded, Failed, Aborted, Dropped and InProgress are
	// the counters so far.
	Attempted, Succeeded, Failed, Aborted, Dropped, InProgress uint64
	// ConnectP99 is the connect phase's p99 from the scheduled start over
	// the whole run; WindowConnectP99 over the last LiveWindow seconds.
	// Zero when nothing connected yet.
	ConnectP99, WindowConnectP99 time.Duration
	// LagP99 is the scheduler lag's p99 over the whole run.
	LagP99 time.Duration
	// TargetRate is the pacer's current rate (calls/s).
	TargetRate float64
}

// Live returns the counters and connect p99 without copying histograms.
func (r *Recorder) Live() Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.rotateLive(now)
	l := Live{
		Elapsed:          now.Sub(r.start),
		Attempted:        r.started,
		Succeeded:        r.succeeded,
		Failed:           r.failed,
		Aborted:          r.aborted,
		Dropped:          r.dropped,
		InProgress:       r.inProgress(),
		ConnectP99:       time.Duration(r.scheduled[PhaseConnect].ValueAtQuantile(99)) * time.Microsecond,
		WindowConnectP99: time.Duration(r.live.Merge().ValueAtQuantile(99)) * time.Microsecond,
		LagP99:           time.Duration(r.lag.ValueAtQuantile(99)) * time.Microsecond,
	}
	if r.targetRate != nil {
		l.TargetRate = r.targetRate(l.Elapsed)
	}
	return l
}
