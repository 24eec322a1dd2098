package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// call builds a record scheduled at base+sched, started lag later, reaching
// each phase in ps at the given offset from the scheduled start.
func call(base time.Time, lag time.Duration, out Outcome, ps map[Phase]time.Duration) CallRecord {
	rec := CallRecord{Scheduled: base, Started: base.Add(lag), Outcome: out}
	for p, d := range ps {
		rec.Instants[p] = base.Add(d)
	}
	return rec
}

func TestRecorderPercentilesExact(t *testing.T) {
	clk := newFakeClock()
	r := NewRecorder(RecorderOptions{Now: clk.Now})
	base := clk.Now()
	// connect: 1..2000 µs from the scheduled start (exact below 2048 at 3
	// digits), lag 1 µs each so service = value-1.
	for i := 1; i <= 2000; i++ {
		r.CallStarted()
		r.Record(call(base, time.Microsecond, OutcomeSuccess, map[Phase]time.Duration{
			PhaseConnect: time.Duration(i) * time.Microsecond,
		}))
	}
	s := r.Snapshot()
	h := s.Scheduled[PhaseConnect]
	want := map[float64]int64{0: 1, 50: 1000, 90: 1800, 99: 1980, 99.9: 1998, 100: 2000}
	for q, v := range want {
		if got := h.ValueAtQuantile(q); got != v {
			t.Errorf("scheduled p%v = %d, want %d", q, got, v)
		}
	}
	if h.TotalCount() != 2000 || h.Min() != 1 || h.Max() != 2000 {
		t.Errorf("count/min/max = %d/%d/%d", h.TotalCount(), h.Min(), h.Max())
	}
	sv := s.Service[PhaseConnect]
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
	for p := range NumPhases {
		if p != PhaseConnect && (s.Scheduled[p].TotalCount() != 0 || s.Service[p].TotalCount() != 0) {
			t.Errorf("phase %v has values", p)
		}
	}
	if s.Attempted != 2000 || s.Succeeded != 2000 || s.InProgress != 0 || s.Failed != 0 {
		t.Errorf("counters %+v", s)
	}
	// Large values keep 3 significant digits.
	r.Record(call(base, 0, OutcomeSuccess, map[Phase]time.Duration{PhaseMedia: 1234567 * time.Microsecond}))
	m := r.Snapshot().Scheduled[PhaseMedia]
	if got := m.Max(); got < 1234567 || float64(got-1234567) > 1234567*0.001 {
		t.Errorf("media max = %d, want 1234567 within 0.1%%", got)
	}
}

func TestRecorderClampsAndCounts(t *testing.T) {
	clk := newFakeClock()
	r := NewRecorder(RecorderOptions{Now: clk.Now})
	base := clk.Now()
	r.Record(call(base, -time.Second, OutcomeSuccess, map[Phase]time.Duration{
		PhaseSubscribe: 2 * time.Hour, // above range
		PhaseStart:     time.Hour,     // exactly the top
	}))
	s := r.Snapshot()
	if s.Clamped.Scheduled[PhaseSubscribe] != 1 || s.Clamped.Service[PhaseSubscribe] != 1 {
		t.Errorf("subscribe clamped = %d/%d, want 1/1", s.Clamped.Scheduled[PhaseSubscribe], s.Clamped.Service[PhaseSubscribe])
	}
	// Exactly one hour from the scheduled start is in range; the service
	// time (started a second early) is not.
	if s.Clamped.Scheduled[PhaseStart] != 0 || s.Clamped.Service[PhaseStart] != 1 {
		t.Errorf("start clamped = %d/%d, want 0/1", s.Clamped.Scheduled[PhaseStart], s.Clamped.Service[PhaseStart])
	}
	if s.Clamped.Lag != 1 || s.Lag.Max() != 0 {
		t.Errorf("negative lag: clamped %d max %d", s.Clamped.Lag, s.Lag.Max())
	}
	if got := s.Scheduled[PhaseSubscribe]; got.TotalCount() != 1 || !got.ValuesAreEquivalent(got.Max(), HistogramMax) {
		t.Errorf("clamped value not at the top: %d", got.Max())
	}
	if s.Clamped.Total() != 4 || s.RecordErrors != 0 {
		t.Errorf("total clamped %d, record errors %d", s.Clamped.Total(), s.RecordErrors)
	}
}

func TestRecorderOutcomesAndEnd(t *testing.T) {
	clk := newFakeClock()
	r := NewRecorder(RecorderOptions{Now: clk.Now})
	base := clk.Now()
	for range 3 {
		r.CallStarted()
	}
	r.Dropped()
	rec := call(base, 0, OutcomeFailed, map[Phase]time.Duration{PhaseSubscribe: 10 * time.Millisecond})
	rec.FailedPhase, rec.Reason = PhaseWebsocket, ReasonTimeout
	r.Record(rec)
	rec.Reason = Reason("something the worker made up")
	r.Record(rec)
	ended := call(base, 0, OutcomeSuccess, nil)
	ended.EndBegan = base.Add(time.Minute)
	ended.Instants[PhaseEnd] = base.Add(time.Minute + 2*time.Millisecond)
	r.CallStarted()
	r.Record(ended)
	s := r.Snapshot()
	want := map[FailureKey]uint64{{PhaseWebsocket, ReasonTimeout}: 1, {PhaseWebsocket, ReasonLocal}: 1}
	if !reflect.DeepEqual(s.Failures, want) {
		t.Errorf("failures = %v, want %v", s.Failures, want)
	}
	if got := r.Failures(); !reflect.DeepEqual(got, want) {
		t.Errorf("Failures() = %v, want %v", got, want)
	}
	if s.Attempted != 4 || s.Failed != 2 || s.Succeeded != 1 || s.Dropped != 1 || s.InProgress != 1 {
		t.Errorf("attempted %d failed %d succeeded %d dropped %d in progress %d", s.Attempted, s.Failed, s.Succeeded, s.Dropped, s.InProgress)
	}
	for _, h := range []int64{s.Scheduled[PhaseEnd].Max(), s.Service[PhaseEnd].Max()} {
		if h != 2000 {
			t.Errorf("end = %d µs, want 2000 (from EndBegan)", h)
		}
	}
}

func TestRecorderTimelineAndLive(t *testing.T) {
	clk := newFakeClock()
	r := NewRecorder(RecorderOptions{Now: clk.Now, LiveWindow: 2,
		TargetRate: func(el time.Duration) float64 { return el.Seconds() }})
	base := clk.Now()
	r.CallStarted()
	r.CallStarted()
	clk.Advance(1500 * time.Millisecond)
	r.Record(call(base, 0, OutcomeSuccess, map[Phase]time.Duration{PhaseConnect: 900 * time.Microsecond}))
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
	want := []TimelineBucket{
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

// randomCalls makes n reproducible records with every phase, outcome and
// media populated.
func randomCalls(seed uint64, base time.Time, n int) []CallRecord {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]CallRecord, n)
	for i := range out {
		lag := time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond))
		ps := map[Phase]time.Duration{}
		at := lag
		for p := range PhaseEnd {
			at += time.Duration(rng.ExpFloat64() * float64(80*time.Millisecond))
			ps[p] = at
		}
		rec := call(base.Add(time.Duration(i)*time.Millisecond), lag, OutcomeSuccess, ps)
		switch rng.IntN(10) {
		case 0:
			rec.Outcome, rec.FailedPhase, rec.Reason = OutcomeFailed, Phase(rng.IntN(int(NumPhases))), Reasons()[rng.IntN(len(Reasons()))]
		case 1:
			rec.Outcome = OutcomeAborted
		}
		rec.EndBegan = rec.Instants[PhaseMedia].Add(30 * time.Second)
		rec.Instants[PhaseEnd] = rec.EndBegan.Add(time.Duration(rng.IntN(50000)) * time.Microsecond)
		rec.Media = MediaStats{PacketsSent: 1500, BytesSent: 150000, PacketsReceived: uint64(1400 + rng.IntN(100)),
			BytesReceived: 140000, PacketsLost: uint64(rng.IntN(30)), Jitter: time.Duration(rng.IntN(30000)) * time.Microsecond,
			RTT: time.Duration(rng.IntN(300)) * time.Millisecond, IntegrityOK: rng.IntN(50) != 0, Codec: "opus"}
		out[i] = rec
	}
	return out
}

func TestRecorderMergeEqualsOne(t *testing.T) {
	clk := newFakeClock()
	all := NewRecorder(RecorderOptions{Now: clk.Now})
	a := NewRecorder(RecorderOptions{Now: clk.Now})
	b := NewRecorder(RecorderOptions{Now: clk.Now})
	calls := randomCalls(7, clk.Now(), 3000)
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
	sa, sb := NewRecorder(RecorderOptions{Now: clk.Now}), NewRecorder(RecorderOptions{Now: clk.Now})
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
	for p := range NumPhases {
		if !m.Scheduled[p].Equals(want.Scheduled[p]) || !m.Service[p].Equals(want.Service[p]) {
			t.Errorf("snapshot merge: phase %v differs", p)
		}
	}
}

func assertSnapshotsEqual(t *testing.T, got, want *Snapshot) {
	t.Helper()
	for p := range NumPhases {
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

func TestEstimateMOS(t *testing.T) {
	tests := []struct {
		name string
		m    MediaStats
		want float64 // to 0.005
		ok   bool
	}{
		{"nothing received", MediaStats{}, 0, false},
		// d = 26.5 ms: Id = 0.636, R = 92.564 → 4.397
		{"perfect", MediaStats{PacketsReceived: 1000, Codec: "opus"}, 4.397, true},
		// 1 % loss: Ie_eff = 95·1/(1+25.1) = 3.640, R = 88.924 → 4.312
		{"1% loss", MediaStats{PacketsReceived: 990, PacketsLost: 10}, 4.312, true},
		// d = 150+40+20 = 210: Id = 5.04 + 3.597 = 8.637, R = 84.563 → 4.184
		{"long delay", MediaStats{PacketsReceived: 1000, RTT: 300 * time.Millisecond, Jitter: 20 * time.Millisecond, Codec: "PCMU"}, 4.184, true},
		// 50 % loss: Ie_eff = 95·50/75.1 = 63.249, R = 29.315 → 1.581
		{"half lost", MediaStats{PacketsReceived: 500, PacketsLost: 500}, 1.581, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := EstimateMOS(tc.m)
			if ok != tc.ok || math.Abs(got-tc.want) > 0.005 {
				t.Errorf("EstimateMOS = %.4f, %v; want %.3f, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	for _, c := range []struct{ r, mos float64 }{{-5, 1}, {0, 1}, {100, 4.5}, {120, 4.5}, {50, 2.575}, {93.2, 4.4093}} {
		if got := MOSFromR(c.r); math.Abs(got-c.mos) > 1e-4 {
			t.Errorf("MOSFromR(%v) = %v, want %v", c.r, got, c.mos)
		}
	}
}

func ExampleRecorder() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRecorder(RecorderOptions{Start: start, Now: func() time.Time { return start.Add(10 * time.Second) }})
	for i := 1; i <= 100; i++ {
		rec := CallRecord{Scheduled: start, Started: start.Add(time.Millisecond), Outcome: OutcomeSuccess}
		rec.Instants[PhaseConnect] = start.Add(time.Duration(i) * 10 * time.Millisecond)
		r.CallStarted()
		r.Record(rec)
	}
	s := r.Snapshot()
	h := s.Scheduled[PhaseConnect]
	fmt.Fprintf(os.Stdout, "calls %d, connect p50 %v, p99 %v\n", s.Succeeded,
		time.Duration(h.ValueAtQuantile(50))*time.Microsecond, time.Duration(h.ValueAtQuantile(99))*time.Microsecond)
	// Output: calls 100, connect p50 500.223ms, p99 990.207ms
}

// TestRecorderConcurrent records from several goroutines while snapshots,
// live views and scrapes read; run with -race.
func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder(RecorderOptions{})
	calls := randomCalls(5, time.Now(), 400)
	c := NewCollector(r.Snapshot, CollectorOptions{})
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
	if s.Attempted != 400 || s.Finished() != 400 || s.Scheduled[PhaseSubscribe].TotalCount() != 400 || s.Dropped != 8 {
		t.Errorf("attempted %d finished %d subscribe %d dropped %d", s.Attempted, s.Finished(), s.Scheduled[PhaseSubscribe].TotalCount(), s.Dropped)
	}
}
