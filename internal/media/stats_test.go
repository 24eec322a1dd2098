package media

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/loadgen/loadgen/internal/metrics"
)

// TestJitterReordered feeds a stream whose packets arrive with random
// delays, so that many arrive out of order, and compares the receiver's
// jitter with RFC 3550's estimator run over every packet in arrival order.
func TestJitterReordered(t *testing.T) {
	audio, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	const n, clock = 2000, 48000
	pkts := stream(t, audio, 1, 100, 0, n)
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	type arrival struct {
		i  int
		at time.Duration
	}
	arr := make([]arrival, n)
	for i := range arr {
		// 20 ms spacing, 0-50 ms one-way delay variation: packets up
		// to two apart swap places.
		arr[i] = arrival{i, time.Duration(i)*20*time.Millisecond + time.Duration(rng.IntN(50_000))*time.Microsecond}
	}
	slices.SortFunc(arr, func(a, b arrival) int { return int(a.at - b.at) })
	in := newInStream(audio, clock)
	var ref, prevTransit float64
	for k, a := range arr {
		in.packet(pkts[a.i], base.Add(a.at))
		transit := a.at.Seconds()*clock - float64(a.i*960)
		if k > 0 {
			ref += (math.Abs(transit-prevTransit) - ref) / 16
		}
		prevTransit = transit
	}
	if in.reordered.Load() < n/10 {
		t.Fatalf("only %d packets reordered: the test injects too little reordering", in.reordered.Load())
	}
	want := time.Duration(ref * float64(time.Second) / clock)
	got := time.Duration(in.jitterNs.Load())
	if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
		t.Errorf("jitter %v, RFC 3550 over every arrival %v (%.1f%% off)", got, want, 100*rel)
	}
}

// TestStallsByTime checks the by-time count: a sender frozen for 5 s whose
// sequence numbers continue afterwards, a stream that stops for good, and
// a hold whose silence is no gap.
func TestStallsByTime(t *testing.T) {
	audio, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	const period = 20 * time.Millisecond
	type step struct {
		packets int           // consecutive packets, one per period
		pause   time.Duration // then silence (the sender sends nothing)
		hold    bool          // the silence is a hold (not expected)
	}
	tests := []struct {
		name      string
		steps     []step
		statsLag  time.Duration // Stats taken this long after the last packet
		wantStall uint64
		wantTail  uint64
		wantGap   time.Duration
	}{
		{"clean", []step{{packets: 500}}, 10 * time.Millisecond, 0, 0, period},
		{"frozen 5 s mid-call", []step{{packets: 100, pause: 5 * time.Second}, {packets: 100}}, 10 * time.Millisecond, 250, 0, 5*time.Second + period},
		{"stopped for good 3 s before the end", []step{{packets: 100}}, 3 * time.Second, 0, 150, 3 * time.Second},
		{"a 5 s hold is no gap", []step{{packets: 100, pause: 5 * time.Second, hold: true}, {packets: 100}}, 10 * time.Millisecond, 0, 0, period},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := newInStream(audio, 48000)
			in.setRate(audio)
			base := time.Now()
			at := base
			var seq uint16 = 100
			total := 0
			for _, s := range tc.steps {
				for _, b := range stream(t, audio, 1, seq, total, s.packets) {
					in.packet(b, at)
					at = at.Add(period)
				}
				seq += uint16(s.packets)
				total += s.packets
				last := at.Add(-period)
				if s.hold {
					in.setExpecting(false, last.Add(period/2))
				}
				at = last.Add(s.pause + period)
				if s.hold {
					in.setExpecting(true, at.Add(-period/2))
				}
			}
			var st metrics.MediaStreamStats
			in.addTo(&st, at.Add(-period+tc.statsLag))
			if st.PacketsLost != 0 || st.StallMissing != tc.wantStall || st.TailMissing != tc.wantTail {
				t.Errorf("lost %d, stall missing %d, tail missing %d; want 0, %d, %d", st.PacketsLost, st.StallMissing, st.TailMissing, tc.wantStall, tc.wantTail)
			}
			if d := st.LongestGap - tc.wantGap; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("longest gap %v, want %v", st.LongestGap, tc.wantGap)
			}
			if want := uint64(total) + tc.wantStall + tc.wantTail; st.PacketsExpected != want {
				t.Errorf("expected %d, want %d", st.PacketsExpected, want)
			}
		})
	}
}

// TestUplinkFromReports checks that the far end's report blocks about our
// SSRC reach the sending track's uplink figures.
func TestUplinkFromReports(t *testing.T) {
	const local = 0x2222
	tests := []struct {
		name     string
		block    rtcp.ReceptionReport
		wantLost uint64
		wantFrac float64
		wantJit  time.Duration
	}{
		{"loss and jitter", rtcp.ReceptionReport{SSRC: local, FractionLost: 64, TotalLost: 7, Jitter: 480}, 7, 0.25, 10 * time.Millisecond},
		{"negative cumulative loss (duplicates) reads 0", rtcp.ReceptionReport{SSRC: local, TotalLost: 0xffffff}, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRTCPRouter()
			tr := &outTrack{}
			r.addSender(tr, local)
			b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{tc.block}}})
			if err != nil {
				t.Fatal(err)
			}
			r.compound(local, b, time.Now())
			var st metrics.MediaStreamStats
			tr.up.addTo(&st, 48000)
			if st.UplinkReports != 1 || st.UplinkPacketsLost != tc.wantLost || st.UplinkFractionLost != tc.wantFrac || st.UplinkJitter != tc.wantJit {
				t.Errorf("uplink %+v, want 1 report, lost %d, fraction %v, jitter %v", st, tc.wantLost, tc.wantFrac, tc.wantJit)
			}
			// The PionDefaults path parses the same block.
			var u uplink
			if rr, ok := reportBlockFor(b, local); ok {
				u.recordBlock(rr)
			}
			var st2 metrics.MediaStreamStats
			u.addTo(&st2, 48000)
			if st2 != st {
				t.Errorf("PionDefaults path %+v, router path %+v", st2, st)
			}
		})
	}
}

// failingWriter is a webrtc.TrackLocalWriter whose writes fail.
type failingWriter struct{}

func (failingWriter) WriteRTP(*rtp.Header, []byte) (int, error) { return 0, errors.New("closed") }
func (failingWriter) Write([]byte) (int, error)                 { return 0, errors.New("closed") }

// TestWriteErrorsNotSent checks that a failed write is counted as a write
// error and never as sent.
func TestWriteErrorsNotSent(t *testing.T) {
	audio, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	p := &Peer{}
	p.inst = newInstants(time.Now)
	for _, tc := range []struct {
		name     string
		w        webrtc.TrackLocalWriter
		sent, ko uint64
	}{
		{"writes fail", failingWriter{}, 0, 10},
		{"writes succeed", &nullWriter{}, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newOutTrack(p, &p.inst, nil, audio, "audio", "s", 1, 1)
			tr.bind.Store(&binding{writer: tc.w, ssrc: 1, pt: 111})
			for range 10 {
				tr.writeFrame(time.Now(), false)
			}
			if got, errs := tr.pktsSent.Load(), tr.writeErrs.Load(); got != tc.sent || errs != tc.ko {
				t.Errorf("sent %d, write errors %d; want %d, %d", got, errs, tc.sent, tc.ko)
			}
		})
	}
}

func TestIntegrityFailed(t *testing.T) {
	tests := []struct {
		name string
		m    metrics.MediaStats
		want bool
	}{
		{"checked, wrong stream", metrics.MediaStats{IntegrityChecked: true, PacketsReceived: 5}, true},
		{"checked, right stream", metrics.MediaStats{IntegrityChecked: true, IntegrityOK: true, PacketsReceived: 5}, false},
		{"not checked (foreign answerer)", metrics.MediaStats{PacketsReceived: 5}, false},
		{"checked, nothing received", metrics.MediaStats{IntegrityChecked: true}, false},
	}
	for _, tc := range tests {
		if got := tc.m.IntegrityFailed(); got != tc.want {
			t.Errorf("%s: IntegrityFailed() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
