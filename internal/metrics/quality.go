package metrics

import "github.com/loadgen/loadgen/internal/mos"

// MOS estimates the call's listening-quality MOS with the E-model (see
// mos.Estimate); ok is false when the call received no audio to judge.
func (m MediaStats) MOS() (score float64, ok bool) {
	return mos.Estimate(mos.Input{
		Codec:           m.Codec,
		PacketsReceived: m.PacketsReceived,
		PacketsLost:     m.PacketsLost,
		Jitter:          m.Jitter,
		RTT:             m.RTT,
	})
}
