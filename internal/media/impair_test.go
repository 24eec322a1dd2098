package media

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/mos"
)

// TestImpairments puts a UDP impairment relay (relay_test.go) between a
// caller and an answerer on loopback, injects known one-way delay, loss,
// jitter, reordering and a stall, separately per direction, and compares
// what the caller reports (metrics.MediaStats) with the relay's ground
// truth:
//
//   - RTT within 2 ms of the injected round trip (the smallest RTCP
//     sample: scheduling noise only ever adds);
//   - loss per direction within 10 % or ±2 packets: downlink from what
//     the caller received, uplink from the answerer's receiver reports;
//   - jitter per direction within 10 % of RFC 3550 computed over the
//     relay's release instants (rows without injected jitter: within
//     1 ms, the estimator's floor from timer noise);
//   - reordering as injected;
//   - a stall of S reported as a longest gap of S ± 50 ms, and the
//     packets it swallowed as missing by time;
//   - MOS (MediaStats.MOS) where the E-model (mos.Estimate) puts the
//     injected figures, give or take the tolerances above.
//
// Every row runs about 3 s of media (counted in packets, not wall time)
// with fixed seeds. Run `go test -run TestImpairments -v ./internal/media/`
// to see injected versus reported for each row.
func TestImpairments(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name     string
		up, down impairment
		stall    time.Duration // downlink RTP dropped this long after 1 s of media (a network stall)
		freeze   time.Duration // the answerer sends nothing this long after 1 s of media (a frozen far end)
		short    bool          // also run with -short
	}{
		{name: "clean", short: true},
		{name: "delay up 30ms down 10ms", up: impairment{delay: 30 * time.Millisecond}, down: impairment{delay: 10 * time.Millisecond}},
		{name: "loss down 5%", down: impairment{loss: 0.05}},
		{name: "loss up 8%", up: impairment{loss: 0.08}},
		{name: "jitter down 20ms", down: impairment{jitter: 20 * time.Millisecond}},
		{name: "jitter up 30ms", up: impairment{jitter: 30 * time.Millisecond}},
		{name: "reorder down 10%", down: impairment{reorder: 0.10}},
		{name: "network stall down 1.5s", stall: 1500 * time.Millisecond},
		{name: "far end frozen 1.5s", freeze: 1500 * time.Millisecond},
		{
			name:  "combined",
			up:    impairment{delay: 60 * time.Millisecond, loss: 0.04, jitter: 15 * time.Millisecond},
			down:  impairment{delay: 40 * time.Millisecond, loss: 0.02, jitter: 10 * time.Millisecond},
			short: true,
		},
	}
	var table []string
	t.Cleanup(func() {
		if len(table) > 0 {
			t.Logf("injected vs reported:\n%s", strings.Join(table, "\n"))
		}
	})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !tc.short {
				t.Skip("-short")
			}
			rows := runImpaired(t, tc.up, tc.down, tc.stall, tc.freeze, uint64(i+1))
			for _, r := range rows {
				table = append(table, tc.name+": "+r)
			}
		})
	}
}

// runImpaired runs one call through a relay with the given impairments
// and checks the caller's figures against the relay's truth; it returns
// the injected-vs-reported lines.
func runImpaired(t *testing.T, up, down impairment, stall, freeze time.Duration, seed uint64) []string {
	e := testEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := newRelay(up, down, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, a := newPeers(t, e, PeerOptions{})
	negotiate(ctx, t, c, a, r.offer, r.answer)
	for _, p := range []*Peer{c, a} {
		if err := p.WaitFirstMedia(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Media runs for a number of packets, not a wall-clock time; the
	// smallest RTT sample is kept (scheduling delays only add to it).
	var minRTT time.Duration
	sampleRTT := func() {
		if d := time.Duration(c.audio.rttNanos.Load()); d > 0 && (minRTT == 0 || d < minRTT) {
			minRTT = d
		}
	}
	waitSeen := func(n uint64) {
		t.Helper()
		if err := waitFor(ctx, func() bool {
			sampleRTT()
			return r.down.seenRTP.Load() >= n && r.up.seenRTP.Load() >= n
		}); err != nil {
			t.Fatalf("media too slow: seen up %d down %d, want %d: %v", r.up.seenRTP.Load(), r.down.seenRTP.Load(), n, err)
		}
	}
	const packets = 150 // 3 s of 20 ms audio
	switch {
	case stall > 0:
		waitSeen(50)
		r.down.stall(stall)
		waitSeen(50 + uint64(stall/AudioFrameDuration) + 50)
	case freeze > 0:
		// The far end's sender pauses (its sequence numbers wait, its
		// RTP clock runs on) while the caller still expects media.
		waitSeen(50)
		a.audio.paused.Store(true)
		select {
		case <-time.After(freeze):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		a.audio.paused.Store(false)
		waitSeen(100)
	default:
		waitSeen(packets)
	}
	if err := waitFor(ctx, func() bool {
		sampleRTT()
		return minRTT > 0 && c.Stats().Audio.UplinkReports >= 2
	}); err != nil {
		t.Fatalf("no RTT or uplink report: %v", err)
	}

	// Both ends stop sending as on a mutual hold (the silence that
	// follows is no gap), every packet in flight lands, and two more of
	// the answerer's reports arrive: the last carries its final figures.
	for _, p := range []*Peer{c, a} {
		p.setPaused(true, true)
		for _, in := range p.in {
			in.setExpecting(false, time.Now())
		}
	}
	settle, cancelSettle := context.WithTimeout(ctx, 5*time.Second)
	defer cancelSettle()
	stable := 0
	if err := waitFor(settle, func() bool {
		if c.in[0].received.Load() != r.down.snapshot().forwarded || a.in[0].received.Load() != r.up.snapshot().forwarded {
			stable = 0
			return false
		}
		stable++
		return stable == 5
	}); err != nil {
		t.Logf("not every forwarded packet was received: down %d/%d, up %d/%d",
			c.in[0].received.Load(), r.down.snapshot().forwarded, a.in[0].received.Load(), r.up.snapshot().forwarded)
	}
	reports := c.Stats().Audio.UplinkReports
	if err := waitFor(settle, func() bool { return c.Stats().Audio.UplinkReports >= reports+2 }); err != nil {
		t.Fatalf("no final receiver reports: %v", err)
	}
	st := c.Stats()
	upT, downT := r.up.snapshot(), r.down.snapshot()

	var lines []string
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		t.Log(line)
		lines = append(lines, line)
	}

	// RTT: the injected round trip is the sender report's hold on the
	// way up plus the receiver report's on the way down, as the relay
	// actually held them (its timers add a little to the nominal delay).
	injRTT := upT.rtcpMinHold + downT.rtcpMinHold
	logf("RTT: injected %v (nominal %v), reported %v (min of samples; last %v)", injRTT, up.delay+down.delay, minRTT, st.RTT)
	if d := minRTT - injRTT; d < -time.Millisecond || d > 2*time.Millisecond {
		t.Errorf("RTT %v, injected %v: off by %v (want within 2 ms)", minRTT, injRTT, d)
	}

	// Loss per direction.
	checkLoss := func(dir string, truth, got uint64) {
		t.Helper()
		tol := max(2, 0.1*float64(truth))
		if math.Abs(float64(got)-float64(truth)) > tol {
			t.Errorf("%s loss: reported %d, injected %d (tolerance %.1f)", dir, got, truth, tol)
		}
	}
	logf("downlink loss: injected %d of %d (%d dropped in all) + %d missing by time, reported %d (seq) + %d missing by time",
		downT.seqLost, downT.forwarded+downT.seqLost, downT.dropped, downT.byTime, st.Audio.PacketsLost, st.Audio.StallMissing)
	checkLoss("downlink", downT.seqLost, st.Audio.PacketsLost)
	checkLoss("downlink by time", downT.byTime, st.Audio.StallMissing)
	logf("uplink loss: injected %d of %d (%d dropped in all), reported %d (far end's RR, %d reports)",
		upT.seqLost, upT.forwarded+upT.seqLost, upT.dropped, st.Audio.UplinkPacketsLost, st.Audio.UplinkReports)
	checkLoss("uplink", upT.seqLost, st.Audio.UplinkPacketsLost)
	if got := st.Audio.PacketsReceived; got != downT.forwarded {
		t.Errorf("received %d audio packets, the relay forwarded %d", got, downT.forwarded)
	}

	// Jitter per direction.
	checkJitter := func(dir string, injected time.Duration, truth, got time.Duration) {
		t.Helper()
		if injected > 0 {
			if rel := math.Abs(float64(got-truth)) / float64(truth); rel > 0.10 {
				t.Errorf("%s jitter: reported %v, RFC 3550 over the injected arrivals %v (%.1f%% off, want within 10%%)", dir, got, truth, 100*rel)
			}
		} else if d := got - truth; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s jitter: reported %v, RFC 3550 over the injected arrivals %v (want within 1 ms without injected jitter)", dir, got, truth)
		}
	}
	logf("downlink jitter: injected U[0,%v) -> RFC 3550 over relay releases %v, reported %v", down.jitter, downT.jitter, st.Audio.Jitter)
	checkJitter("downlink", down.jitter+time.Duration(down.reorder*float64(reorderHold)), downT.jitter, st.Audio.Jitter)
	logf("uplink jitter: injected U[0,%v) -> RFC 3550 over relay releases %v, reported %v (far end's RR)", up.jitter, upT.jitter, st.Audio.UplinkJitter)
	checkJitter("uplink", up.jitter+time.Duration(up.reorder*float64(reorderHold)), upT.jitter, st.Audio.UplinkJitter)

	// Reordering (downlink, seen by the caller).
	logf("downlink reordered: injected %d, reported %d", downT.reordered, st.Audio.Reordered)
	if math.Abs(float64(st.Audio.Reordered)-float64(downT.reordered)) > max(2, 0.1*float64(downT.reordered)) {
		t.Errorf("reordered: reported %d, injected %d", st.Audio.Reordered, downT.reordered)
	}

	// Stall or freeze: the longest gap (the packets it swallowed are
	// checked above, as loss by sequence or by time).
	if s := stall + freeze; s > 0 {
		logf("gap: injected %v (relay's longest release gap %v), reported longest gap %v", s, downT.maxGap, st.Audio.LongestGap)
		if d := st.Audio.LongestGap - s; d < -50*time.Millisecond || d > 50*time.Millisecond {
			t.Errorf("longest gap %v, injected %v (want within 50 ms)", st.Audio.LongestGap, s)
		}
	}

	// MOS: the E-model fed the injected truth of each direction (loss by
	// sequence and by time, RFC jitter of the injected arrivals, the
	// injected round trip) against what the caller reports, which is the
	// worse direction's score, allowing the tolerances above: the loss off
	// by their packets, the jitter by 10 %, the RTT by 2 ms.
	band := func(in mos.Input) (want, lo, hi float64) {
		want, _ = mos.Estimate(in)
		lossTol := uint64(max(2, 0.1*float64(in.PacketsLost)))
		worst, best := in, in
		worst.PacketsLost += lossTol
		worst.Jitter = max(in.Jitter*11/10, in.Jitter+time.Millisecond)
		worst.RTT += 2 * time.Millisecond
		best.PacketsLost -= min(lossTol, best.PacketsLost)
		best.Jitter = max(0, min(in.Jitter*9/10, in.Jitter-time.Millisecond))
		best.RTT = max(0, best.RTT-time.Millisecond)
		lo, _ = mos.Estimate(worst)
		hi, _ = mos.Estimate(best)
		return want, lo, hi
	}
	wantD, loD, hiD := band(mos.Input{
		Codec: st.Codec, PacketsReceived: downT.forwarded, PacketsLost: downT.seqLost + downT.byTime,
		Jitter: downT.jitter, RTT: injRTT,
	})
	wantU, loU, hiU := band(mos.Input{
		Codec: st.Codec, PacketsReceived: upT.forwarded, PacketsLost: upT.seqLost,
		Jitter: upT.jitter, RTT: injRTT,
	})
	want, lo, hi := min(wantD, wantU), min(loD, loU), min(hiD, hiU)
	got, ok := st.MOS()
	logf("MOS: E-model from injected %.2f (%.2f..%.2f within the tolerances), reported %.2f", want, lo, hi, got)
	if !ok || got < lo-0.02 || got > hi+0.02 {
		t.Errorf("MOS %.2f (ok %v), E-model from the injected figures %.2f (%.2f..%.2f)", got, ok, want, lo, hi)
	}
	return lines
}
