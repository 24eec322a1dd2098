package mos

import (
	"math"
	"testing"
	"time"
)

func TestEstimate(t *testing.T) {
	tests := []struct {
		name string
		m    Input
		want float64 // to 0.005
		ok   bool
	}{
		{"nothing received", Input{}, 0, false},
		// d = 26.5 ms: Id = 0.636, R = 92.564 → 4.397
		{"perfect", Input{PacketsReceived: 1000, Codec: "opus"}, 4.397, true},
		// 1 % loss: Ie_eff = 95·1/(1+25.1) = 3.640, R = 88.924 → 4.312
		{"1% loss", Input{PacketsReceived: 990, PacketsLost: 10}, 4.312, true},
		// d = 150+40+20 = 210: Id = 5.04 + 3.597 = 8.637, R = 84.563 → 4.184
		{"long delay", Input{PacketsReceived: 1000, RTT: 300 * time.Millisecond, Jitter: 20 * time.Millisecond, Codec: "PCMU"}, 4.184, true},
		// 50 % loss: Ie_eff = 95·50/75.1 = 63.249, R = 29.315 → 1.581
		{"half lost", Input{PacketsReceived: 500, PacketsLost: 500}, 1.581, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Estimate(tc.m)
			if ok != tc.ok || math.Abs(got-tc.want) > 0.005 {
				t.Errorf("Estimate = %.4f, %v; want %.3f, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFromR(t *testing.T) {
	for _, c := range []struct{ r, mos float64 }{{-5, 1}, {0, 1}, {100, 4.5}, {120, 4.5}, {50, 2.575}, {93.2, 4.4093}} {
		if got := FromR(c.r); math.Abs(got-c.mos) > 1e-4 {
			t.Errorf("FromR(%v) = %v, want %v", c.r, got, c.mos)
		}
	}
}
