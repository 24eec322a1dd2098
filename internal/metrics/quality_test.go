package metrics_test

import (
	"math"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/mos"
)

func TestEstimateMOS(t *testing.T) {
	audio := metrics.MediaStreamStats{PacketsSent: 1000, PacketsReceived: 990, PacketsLost: 10, Jitter: 5 * time.Millisecond}
	score := func(in mos.Input) float64 {
		v, _ := mos.Estimate(in)
		return v
	}
	downAt := func(rtt time.Duration) float64 {
		return score(mos.Input{Codec: "opus", PacketsReceived: 990, PacketsLost: 10, Jitter: 5 * time.Millisecond, RTT: rtt})
	}
	withUplink := audio
	withUplink.UplinkReports, withUplink.UplinkPacketsLost, withUplink.UplinkJitter = 4, 54, 8*time.Millisecond
	stalled := audio
	stalled.StallMissing, stalled.TailMissing = 100, 50

	tests := []struct {
		name      string
		m         metrics.MediaStats
		ok        bool
		delay     metrics.MOSDelay
		score     float64
		uplink    bool
		upWantsOk float64
	}{
		{"rtcp rtt", metrics.MediaStats{Codec: "opus", RTT: 80 * time.Millisecond, SignallingRTT: time.Second, Audio: audio},
			true, metrics.MOSDelayRTCP, downAt(80 * time.Millisecond), false, 0},
		{"signalling fallback", metrics.MediaStats{Codec: "opus", SignallingRTT: 400 * time.Millisecond, Audio: audio},
			true, metrics.MOSDelaySignalling, downAt(400 * time.Millisecond), false, 0},
		{"delay unknown: not scored", metrics.MediaStats{Codec: "opus", Audio: audio}, false, metrics.MOSDelayUnknown, 0, false, 0},
		{"stalls count as loss", metrics.MediaStats{Codec: "opus", RTT: 80 * time.Millisecond, Audio: stalled},
			true, metrics.MOSDelayRTCP, score(mos.Input{Codec: "opus", PacketsReceived: 990, PacketsLost: 160, Jitter: 5 * time.Millisecond, RTT: 80 * time.Millisecond}), false, 0},
		{"uplink worse", metrics.MediaStats{Codec: "opus", RTT: 80 * time.Millisecond, Audio: withUplink},
			true, metrics.MOSDelayRTCP, score(mos.Input{Codec: "opus", PacketsReceived: 946, PacketsLost: 54, Jitter: 8 * time.Millisecond, RTT: 80 * time.Millisecond}), true,
			score(mos.Input{Codec: "opus", PacketsReceived: 946, PacketsLost: 54, Jitter: 8 * time.Millisecond, RTT: 80 * time.Millisecond})},
		{"totals without streams", metrics.MediaStats{Codec: "opus", RTT: 80 * time.Millisecond, PacketsReceived: 990, PacketsLost: 10, Jitter: 5 * time.Millisecond},
			true, metrics.MOSDelayRTCP, downAt(80 * time.Millisecond), false, 0},
		{"no audio", metrics.MediaStats{RTT: time.Millisecond}, false, metrics.MOSDelayRTCP, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := tt.m.EstimateMOS()
			if ok != tt.ok || e.Delay != tt.delay || math.Abs(e.Score-tt.score) > 1e-9 || e.UplinkKnown != tt.uplink {
				t.Errorf("EstimateMOS = %+v, %v; want score %.4f ok %v delay %s uplink %v", e, ok, tt.score, tt.ok, tt.delay, tt.uplink)
			}
			if tt.uplink && (math.Abs(e.Uplink-tt.upWantsOk) > 1e-9 || e.Score > e.Downlink) {
				t.Errorf("uplink %.4f, want %.4f; score %.4f must be the worse of %.4f", e.Uplink, tt.upWantsOk, e.Score, e.Downlink)
			}
			if s, mok := tt.m.MOS(); mok != ok || s != e.Score {
				t.Errorf("MOS() = %v, %v; want EstimateMOS's %v, %v", s, mok, e.Score, ok)
			}
		})
	}
}
