// Package mos estimates a call's listening-quality MOS with the ITU-T G.107
// E-model from what the media path measured: codec, loss, jitter and RTT.
package mos

import "time"

// Input is what the E-model needs of one call's received audio.
type Input struct {
	// Codec is the audio codec's name ("opus", "PCMU", ...).
	Codec string
	// PacketsReceived and PacketsLost count the call's received RTP.
	PacketsReceived, PacketsLost uint64
	// Jitter is the RTP interarrival jitter; RTT the round-trip time
	// (zero: not measured, counted as none).
	Jitter, RTT time.Duration
}

// codecImpairment holds the E-model equipment impairment factor Ie and the
// packet-loss robustness factor Bpl of a codec (ITU-T G.113 Appendix I).
type codecImpairment struct{ ie, bpl, delayMs float64 }

// codecImpairmentFor returns the E-model parameters for a codec name. G.113
// has no entry for Opus; at the bitrates used for calls (≥ 24 kbit/s) it is
// treated like G.711 with packet-loss concealment (Ie 0, Bpl 25.1), which
// slightly understates Opus' robustness. Unknown codecs get the same values.
func codecImpairmentFor(codec string) codecImpairment {
	switch codec {
	case "PCMU", "PCMA", "pcmu", "pcma", "audio/PCMU", "audio/PCMA":
		return codecImpairment{ie: 0, bpl: 25.1, delayMs: 20}
	case "G722", "audio/G722":
		return codecImpairment{ie: 0, bpl: 25.1, delayMs: 20}
	default: // Opus and anything unknown
		return codecImpairment{ie: 0, bpl: 25.1, delayMs: 26.5}
	}
}

// Estimate estimates a call's listening-quality MOS with the simplified
// ITU-T G.107 E-model (the usual VoIP-monitoring reduction of it):
//
//	d      = RTT/2 + 2·jitter + codec delay (packetisation + look-ahead), in ms
//	Id     = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)        (H: step function)
//	Ppl    = 100 · lost / (received + lost)                   (percent)
//	Ie_eff = Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl)        (BurstR = 1, random loss)
//	R      = 93.2 − Id − Ie_eff                                (clamped to 0..100)
//	MOS    = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)
//
// The jitter buffer is assumed to add twice the measured interarrival
// jitter. ok is false when the call received no audio to judge (no packets
// received nor lost).
func Estimate(m Input) (mos float64, ok bool) {
	total := m.PacketsReceived + m.PacketsLost
	if total == 0 {
		return 0, false
	}
	c := codecImpairmentFor(m.Codec)
	d := float64(m.RTT)/float64(time.Millisecond)/2 + 2*float64(m.Jitter)/float64(time.Millisecond) + c.delayMs
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := 100 * float64(m.PacketsLost) / float64(total)
	ieEff := c.ie + (95-c.ie)*ppl/(ppl+c.bpl)
	return FromR(93.2 - id - ieEff), true
}

// FromR maps an E-model rating R to MOS (ITU-T G.107 Annex B).
func FromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	default:
		return 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
	}
}
