package metrics_test

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
	"github.com/loadgen/loadgen/internal/metrics/promexport"
)

func TestRecorderPercentilesExact(t *testing.T) {
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	base := clk.Now()
	// connect: 1..2000 µs from the scheduled start (exact below 2048 at 3
	// digits), lag 1 µs each so service = value-1.
	for i := 1; i <= 2000; i++ {
		r.CallStarted()
		r.Record(metricstest.Call(base, time.Microsecond, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{
			metrics.PhaseConnect: time.Duration(i) * time.Microsecond,
		}))
	}
	s := r.Snapshot()
	h := s.Scheduled[metrics.PhaseConnect]
	want := map[float64]int64{0: 1, 50: 1000, 90: 1800, 99: 1980, 99.9: 1998, 100: 2000}
	for q, v := range want {
		if got := h.ValueAtQuantile(q); got != v {
			t.Errorf("scheduled p%v = %d, want %d", q, got, v)
		}
	}
	if h.TotalCount() != 2000 || h.Min() != 1 || h.Max() != 2000 {
		t.Errorf("count/min/max = %d/%d/%d", h.TotalCount(), h.Min(), h.Max())
	}
	sv := s.Service[metrics.PhaseConnect]
	wantSvc := map[float64]int64{50: 999, 90: 1799, 99: 1979, 100: 1999}
	for q, v := range wantSvc {
		if got := sv.ValueAtQuantile(q); got != v {
			t.Errorf("service p%v = %d, want %d", q, got, v)
		}
	}
	if sv.Min() != 0 {
		t.Errorf("service min = %d, want 0", sv.Min())
	}
	if s.Lag.TotalCount() != 2000 || s.Lag.Max() != 1 {
		t.Errorf("lag count/max = %d/%d", s.Lag.TotalCount(), s.Lag.Max())
	}
	for p := range metrics.NumPhases {
		if p != metrics.PhaseConnect && (s.Scheduled[p].TotalCount() != 0 || s.Service[p].TotalCount() != 0) {
			t.Errorf("phase %v has values", p)
		}
	}
	if s.Attempted != 2000 || s.Succeeded != 2000 || s.InProgress != 0 || s.Failed != 0 {
		t.Errorf("counters %+v", s)
	}
	// Large values keep 3 significant digits.
	r.Record(metricstest.Call(base, 0, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{metrics.PhaseMedia: 1234567 * time.Microsecond}))
	m := r.Snapshot().Scheduled[metrics.PhaseMedia]
	if got := m.Max(); got < 1234567 || float64(got-1234567) > 1234567*0.001 {
		t.Errorf("media max = %d, want 1234567 within 0.1%%", got)
	}
}

func TestRecorderClampsAndCounts(t *testing.T) {
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	base := clk.Now()
	r.Record(metricstest.Call(base, -time.Second, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{
		metrics.PhaseSubscribe: 2 * time.Hour, // above range
		metrics.PhaseStart:     time.Hour,     // exactly the top
	}))
	s := r.Snapshot()
	if s.Clamped.Scheduled[metrics.PhaseSubscribe] != 1 || s.Clamped.Service[metrics.PhaseSubscribe] != 1 {
		t.Errorf("subscribe clamped = %d/%d, want 1/1", s.Clamped.Scheduled[metrics.PhaseSubscribe], s.Clamped.Service[metrics.PhaseSubscribe])
	}
	// Exactly one hour from the scheduled start is in range; the service
	// time (started a second early) is not.
	if s.Clamped.Scheduled[metrics.PhaseStart] != 0 || s.Clamped.Service[metrics.PhaseStart] != 1 {
		t.Errorf("start clamped = %d/%d, want 0/1", s.Clamped.Scheduled[metrics.PhaseStart], s.Clamped.Service[metrics.PhaseStart])
	}
	if s.Clamped.Lag != 1 || s.Lag.Max() != 0 {
		t.Errorf("negative lag: clamped %d max %d", s.Clamped.Lag, s.Lag.Max())
	}
	if got := s.Scheduled[metrics.PhaseSubscribe]; got.TotalCount() != 1 || !got.ValuesAreEquivalent(got.Max(), metrics.HistogramMax) {
		t.Errorf("clamped value not at the top: %d", got.Max())
	}
	if s.Clamped.Total() != 4 || s.RecordErrors != 0 {
		t.Errorf("total clamped %d, record errors %d", s.Clamped.Total(), s.RecordErrors)
	}
}

func TestRecorderOutcomesAndEnd(t *testing.T) {
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	base := clk.Now()
	for range 3 {
		r.CallStarted()
	}
	r.Dropped()
	rec := metricstest.Call(base, 0, metrics.OutcomeFailed, map[metrics.Phase]time.Duration{metrics.PhaseSubscribe: 10 * time.Millisecond})
	rec.FailedPhase, rec.Reason = metrics.PhaseWebsocket, metrics.ReasonTimeout
	r.Record(rec)
	rec.Reason = metrics.Reason("something the worker made up")
	r.Record(rec)
	ended := metricstest.Call(base, 0, metrics.OutcomeSuccess, nil)
	ended.EndBegan = base.Add(time.Minute)
	ended.Instants[metrics.PhaseEnd] = base.Add(time.Minute + 2*time.Millisecond)
	r.CallStarted()
	r.Record(ended)
	r.CallStarted()
	r.CallStarted()
	rec.Reason, rec.Status = metrics.ReasonRemoteEnded, 486
	r.Record(rec)
	rec.Status = 46 // a SPiDR code outside 100..699: "other"
	r.Record(rec)
	s := r.Snapshot()
	want := map[metrics.FailureKey]uint64{
		{Phase: metrics.PhaseWebsocket, Reason: metrics.ReasonTimeout}: 1, {Phase: metrics.PhaseWebsocket, Reason: metrics.ReasonLocal}: 1,
		{Phase: metrics.PhaseWebsocket, Reason: metrics.ReasonRemoteEnded, Status: 486}:                 1,
		{Phase: metrics.PhaseWebsocket, Reason: metrics.ReasonRemoteEnded, Status: metrics.StatusOther}: 1,
	}
	if !reflect.DeepEqual(s.Failures, want) {
		t.Errorf("failures = %v, want %v", s.Failures, want)
	}
	if got := r.Failures(); !reflect.DeepEqual(got, want) {
		t.Errorf("Failures() = %v, want %v", got, want)
	}
	if s.Attempted != 6 || s.Failed != 4 || s.Succeeded != 1 || s.Dropped != 1 || s.InProgress != 1 {
		t.Errorf("attempted %d failed %d succeeded %d dropped %d in progress %d", s.Attempted, s.Failed, s.Succeeded, s.Dropped, s.InProgress)
	}
	for _, h := range []int64{s.Scheduled[metrics.PhaseEnd].Max(), s.Service[metrics.PhaseEnd].Max()} {
		if h != 2000 {
			t.Errorf("end = %d µs, want 2000 (from EndBegan)", h)
		}
	}
}

func TestRecorderTimelineAndLive(t *testing.T) {
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now, LiveWindow: 2,
		TargetRate: func(el time.Duration) float64 { return el.Seconds() }})
	base := clk.Now()
	r.CallStarted()
	r.CallStarted()
	clk.Advance(1500 * time.Millisecond)
	r.Record(metricstest.Call(base, 0, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{metrics.PhaseConnect: 900 * time.Microsecond}))
	r.Dropped()
	clk.Advance(time.Second) // t=2.5s
	l := r.Live()
	if l.Attempted != 2 || l.Succeeded != 1 || l.InProgress != 1 || l.Dropped != 1 ||
		l.ConnectP99 != 900*time.Microsecond || l.WindowConnectP99 != 900*time.Microsecond || l.TargetRate != 2.5 {
		t.Errorf("live = %+v", l)
	}
	clk.Advance(3 * time.Second) // the window forgets
	if l := r.Live(); l.WindowConnectP99 != 0 || l.ConnectP99 != 900*time.Microsecond {
		t.Errorf("live after window = %+v", l)
	}
	s := r.Snapshot()
	want := []metrics.TimelineBucket{
		{Second: 0, Started: 2, InProgress: 2, TargetRate: 0.5},
		{Second: 1, Succeeded: 1, Dropped: 1, InProgress: 1, TargetRate: 1.5},
		{Second: 2, InProgress: 1, TargetRate: 2.5},
		{Second: 3, InProgress: 1, TargetRate: 3.5},
		{Second: 4, InProgress: 1, TargetRate: 4.5},
		{Second: 5, InProgress: 1, TargetRate: 5.5},
	}
	if !reflect.DeepEqual(s.Timeline, want) {
		t.Errorf("timeline =\n%+v\nwant\n%+v", s.Timeline, want)
	}
	if s.Elapsed() != 5500*time.Millisecond || math.Abs(s.AchievedRate()-2/5.5) > 1e-12 || s.TargetRate != 5.5 {
		t.Errorf("elapsed %v achieved %v target %v", s.Elapsed(), s.AchievedRate(), s.TargetRate)
	}
}

func TestRecorderMergeEqualsOne(t *testing.T) {
	clk := metricstest.NewClock()
	all := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	a := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	b := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	calls := metricstest.RandomCalls(7, clk.Now(), 3000)
	for i, rec := range calls {
		if i%100 == 0 {
			clk.Advance(time.Second)
		}
		all.CallStarted()
		all.Record(rec)
		half := a
		if i%3 == 0 {
			half = b
		}
		half.CallStarted()
		half.Record(rec)
		if i%500 == 0 {
			all.Dropped()
			half.Dropped()
		}
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(a); err == nil {
		t.Error("merging a recorder into itself: no error")
	}
	want, got := all.Snapshot(), a.Snapshot()
	assertSnapshotsEqual(t, got, want)

	// Snapshot.Merge gives the same.
	sa, sb := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now}), metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	for i, rec := range calls {
		if i%2 == 0 {
			sa.Record(rec)
		} else {
			sb.Record(rec)
		}
	}
	m := sa.Snapshot()
	if err := m.Merge(sb.Snapshot()); err != nil {
		t.Fatal(err)
	}
	for p := range metrics.NumPhases {
		if !m.Scheduled[p].Equals(want.Scheduled[p]) || !m.Service[p].Equals(want.Service[p]) {
			t.Errorf("snapshot merge: phase %v differs", p)
		}
	}
}

func assertSnapshotsEqual(t *testing.T, got, want *metrics.Snapshot) {
	t.Helper()
	for p := range metrics.NumPhases {
		if !got.Scheduled[p].Equals(want.Scheduled[p]) {
			t.Errorf("scheduled %v differs: %d vs %d values", p, got.Scheduled[p].TotalCount(), want.Scheduled[p].TotalCount())
		}
		if !got.Service[p].Equals(want.Service[p]) {
			t.Errorf("service %v differs", p)
		}
		for _, q := range []float64{50, 90, 99, 99.9, 100} {
			if g, w := got.Scheduled[p].ValueAtQuantile(q), want.Scheduled[p].ValueAtQuantile(q); g != w {
				t.Errorf("%v p%v = %d, want %d", p, q, g, w)
			}
		}
	}
	if !got.Lag.Equals(want.Lag) || !got.Jitter.Equals(want.Jitter) || !got.RTT.Equals(want.RTT) || !got.MOS.Equals(want.MOS) {
		t.Error("lag/jitter/rtt/mos differ")
	}
	if got.Attempted != want.Attempted || got.Succeeded != want.Succeeded || got.Failed != want.Failed ||
		got.Aborted != want.Aborted || got.Dropped != want.Dropped || got.InProgress != want.InProgress {
		t.Errorf("counters differ:\n got %d/%d/%d/%d/%d/%d\nwant %d/%d/%d/%d/%d/%d",
			got.Attempted, got.Succeeded, got.Failed, got.Aborted, got.Dropped, got.InProgress,
			want.Attempted, want.Succeeded, want.Failed, want.Aborted, want.Dropped, want.InProgress)
	}
	if !reflect.DeepEqual(got.Failures, want.Failures) {
		t.Errorf("failures differ")
	}
	if got.Media != want.Media || got.Clamped != want.Clamped {
		t.Errorf("media or clamped differ: %+v vs %+v", got.Media, want.Media)
	}
	if !reflect.DeepEqual(got.Timeline, want.Timeline) {
		t.Errorf("timelines differ:\n%+v\n%+v", got.Timeline, want.Timeline)
	}
}

func ExampleRecorder() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := metrics.NewRecorder(metrics.RecorderOptions{Start: start, Now: func() time.Time { return start.Add(10 * time.Second) }})
	for i := 1; i <= 100; i++ {
		rec := metrics.CallRecord{Scheduled: start, Started: start.Add(time.Millisecond), Outcome: metrics.OutcomeSuccess}
		rec.Instants[metrics.PhaseConnect] = start.Add(time.Duration(i) * 10 * time.Millisecond)
		r.CallStarted()
		r.Record(rec)
	}
	s := r.Snapshot()
	h := s.Scheduled[metrics.PhaseConnect]
	fmt.Printf("calls %d, connect p50 %v, p99 %v\n", s.Succeeded,
		time.Duration(h.ValueAtQuantile(50))*time.Microsecond, time.Duration(h.ValueAtQuantile(99))*time.Microsecond)
	// Output: calls 100, connect p50 500.223ms, p99 990.207ms
}

// TestRecorderConcurrent records from several goroutines while snapshots,
// live views and scrapes read; run with -race.
func TestRecorderConcurrent(t *testing.T) {
	r := metrics.NewRecorder(metrics.RecorderOptions{})
	calls := metricstest.RandomCalls(5, time.Now(), 400)
	c := promexport.NewCollector(r.Snapshot, promexport.CollectorOptions{})
	done := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = r.Snapshot()
			_ = r.Live()
			_ = r.TakeInterval()
			ch := make(chan prometheus.Metric, 64)
			go func() {
				c.Collect(ch)
				close(ch)
			}()
			for range ch {
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(calls); i += 4 {
				r.CallStarted()
				r.Record(calls[i])
				if i%50 == 0 {
					r.Dropped()
				}
			}
		})
	}
	wg.Wait()
	close(done)
	<-readerDone
	s := r.Snapshot()
	if s.Attempted != 400 || s.Finished() != 400 || s.Scheduled[metrics.PhaseSubscribe].TotalCount() != 400 || s.Dropped != 8 {
		t.Errorf("attempted %d finished %d subscribe %d dropped %d", s.Attempted, s.Finished(), s.Scheduled[metrics.PhaseSubscribe].TotalCount(), s.Dropped)
	}
}

func TestRecorderStreams(t *testing.T) {
	clk := metricstest.NewClock()
	a := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	b := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	media := func(m metrics.MediaStats) metrics.CallRecord {
		rec := metricstest.Call(clk.Now(), 0, metrics.OutcomeSuccess, nil)
		rec.Media = m
		for _, ss := range []metrics.MediaStreamStats{m.Audio, m.Video} {
			rec.Media.PacketsSent += ss.PacketsSent
			rec.Media.PacketsReceived += ss.PacketsReceived
		}
		return rec
	}
	a.Record(media(metrics.MediaStats{Audio: metrics.MediaStreamStats{PacketsSent: 50, BytesSent: 8000, UplinkPacketsLost: 1, UplinkReports: 2, WriteErrors: 2}}))
	a.Record(media(metrics.MediaStats{Audio: metrics.MediaStreamStats{PacketsSent: 50, BytesSent: 8000, PacketsReceived: 97, PacketsLost: 1, StallMissing: 2, TailMissing: 3}}))
	b.Record(media(metrics.MediaStats{Video: metrics.MediaStreamStats{PacketsReceived: 30, BytesReceived: 30000}}))
	want := [metrics.NumStreams]metrics.StreamTotals{
		metrics.StreamAudio: {PacketsSent: 100, BytesSent: 16000, PacketsReceived: 97, PacketsLostDownlink: 6, PacketsLostUplink: 1, WriteErrors: 2},
	}
	if got := a.Snapshot().Streams; got != want {
		t.Errorf("streams = %+v, want %+v", got, want)
	}
	want[metrics.StreamVideo] = metrics.StreamTotals{PacketsReceived: 30, BytesReceived: 30000}
	sa := a.Snapshot()
	if err := sa.Merge(b.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if sa.Streams != want {
		t.Errorf("snapshot merge: streams = %+v, want %+v", sa.Streams, want)
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if got := a.Snapshot().Streams; got != want {
		t.Errorf("recorder merge: streams = %+v, want %+v", got, want)
	}
	for s, name := range map[metrics.Stream]string{metrics.StreamAudio: "audio", metrics.StreamVideo: "video", metrics.NumStreams: "unknown"} {
		if s.String() != name {
			t.Errorf("Stream(%d).String() = %q, want %q", s, s.String(), name)
		}
	}
}

// TestRecorderReoffers: each hold and unhold re-offer of a call is one
// value of its phase's histograms (both timings), timed from its request;
// a failed re-offer records nothing; the instants of the phases are not
// timed from the scheduled start.
func TestRecorderReoffers(t *testing.T) {
	clk := metricstest.NewClock()
	r := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	base := clk.Now()
	rec := metricstest.Call(base, 0, metrics.OutcomeSuccess, map[metrics.Phase]time.Duration{metrics.PhaseMedia: time.Second})
	at := func(d time.Duration) time.Time { return base.Add(d) }
	rec.Reoffers = []metrics.Reoffer{
		{Phase: metrics.PhaseHold, Requested: at(2 * time.Second), Applied: at(2*time.Second + 30*time.Millisecond)},
		{Phase: metrics.PhaseUnhold, Requested: at(3 * time.Second), Applied: at(3*time.Second + 40*time.Millisecond)},
		{Phase: metrics.PhaseHold, Requested: at(4 * time.Second), Applied: at(4*time.Second + 50*time.Millisecond)},
		{Phase: metrics.PhaseUnhold, Requested: at(5 * time.Second)}, // failed
	}
	rec.Instants[metrics.PhaseHold] = rec.Reoffers[2].Applied
	rec.Instants[metrics.PhaseUnhold] = rec.Reoffers[1].Applied
	r.Record(rec)
	s := r.Snapshot()
	for _, tc := range []struct {
		p        metrics.Phase
		count    int64
		min, max int64 // µs
	}{{metrics.PhaseHold, 2, 30000, 50000}, {metrics.PhaseUnhold, 1, 40000, 40000}} {
		for _, service := range []bool{false, true} {
			h := s.PhaseHistogram(tc.p, service)
			if h.TotalCount() != tc.count || !h.ValuesAreEquivalent(h.Min(), tc.min) || !h.ValuesAreEquivalent(h.Max(), tc.max) {
				t.Errorf("%v (service %v): count %d min %d max %d, want %d %d..%d", tc.p, service, h.TotalCount(), h.Min(), h.Max(), tc.count, tc.min, tc.max)
			}
		}
	}
	if !metrics.PhaseHold.SelfTimed() || !metrics.PhaseEnd.SelfTimed() || metrics.PhaseConnect.SelfTimed() {
		t.Error("SelfTimed: want end, hold and unhold only")
	}
	if p, ok := metrics.ParsePhase("unhold"); !ok || p != metrics.PhaseUnhold {
		t.Errorf("ParsePhase(unhold) = %v, %v", p, ok)
	}
}

// TestRecorderIntegrity: a call counts as having received the wrong
// stream only where the check ran (IntegrityChecked): media from a foreign
// answerer, which the engine cannot check, is not an integrity failure.
func TestRecorderIntegrity(t *testing.T) {
	tests := []struct {
		name string
		m    metrics.MediaStats
		want uint64
	}{
		{"checked and wrong", metrics.MediaStats{PacketsReceived: 10, IntegrityChecked: true}, 1},
		{"checked and right", metrics.MediaStats{PacketsReceived: 10, IntegrityChecked: true, IntegrityOK: true}, 0},
		{"not checked (foreign stream)", metrics.MediaStats{PacketsReceived: 10}, 0},
		{"checked, nothing arrived", metrics.MediaStats{PacketsSent: 10, IntegrityChecked: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := metrics.NewRecorder(metrics.RecorderOptions{Now: metricstest.NewClock().Now})
			rec := metricstest.Call(time.Now(), 0, metrics.OutcomeSuccess, nil)
			rec.Media = tt.m
			r.Record(rec)
			if got := r.Snapshot().Media.IntegrityFailures; got != tt.want {
				t.Errorf("integrity failures = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRecordSetupThenRecord: recording the setup when it completes and the
// rest at the end counts every phase, the lag and the outcome exactly once:
// the snapshot equals recording the whole call at its end.
func TestRecordSetupThenRecord(t *testing.T) {
	clk := metricstest.NewClock()
	calls := metricstest.RandomCalls(3, clk.Now(), 200)
	whole := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	split := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now})
	for _, c := range calls {
		whole.Record(c)
		split.RecordSetup(c)
		c.SetupRecorded = true
		split.Record(c)
	}
	a, b := whole.Snapshot(), split.Snapshot()
	for p := range metrics.NumPhases {
		if !a.Scheduled[p].Equals(b.Scheduled[p]) || !a.Service[p].Equals(b.Service[p]) {
			t.Errorf("%s: split recording differs (%d vs %d values)", p, b.Scheduled[p].TotalCount(), a.Scheduled[p].TotalCount())
		}
	}
	if !a.Lag.Equals(b.Lag) || a.Succeeded != b.Succeeded || a.Failed != b.Failed {
		t.Errorf("lag or outcomes differ: %d/%d vs %d/%d", b.Succeeded, b.Failed, a.Succeeded, a.Failed)
	}
}
