package metrics

import (
	"time"

	"github.com/loadgen/loadgen/internal/mos"
)

// MOSDelay says where the delay of a call's MOS estimate came from.
type MOSDelay string

// The delay sources, best first.
const (
	// MOSDelayRTCP: the media path's RTT from RTCP (MediaStats.RTT).
	MOSDelayRTCP MOSDelay = "rtcp"
	// MOSDelaySignalling: no RTCP RTT sample; the signalling estimate
	// (MediaStats.SignallingRTT), an upper bound of the network RTT.
	MOSDelaySignalling MOSDelay = "signalling"
	// MOSDelayUnknown: neither; the call is not scored (a score with no
	// delay would assume 0 ms and read too high).
	MOSDelayUnknown MOSDelay = "unknown"
)

// MOSEstimate is a call's listening-quality estimate per direction.
type MOSEstimate struct {
	// Score is the call's MOS: the worse of Downlink and Uplink (Downlink
	// alone when the uplink is not known).
	Score float64
	// Downlink scores what loadgen received (its loss, stalls included,
	// and jitter); Uplink what the far end received, from its RTCP
	// receiver reports (UplinkKnown false without any).
	Downlink    float64
	Uplink      float64
	UplinkKnown bool
	// Delay is where RTT came from; RTT is the round trip used (one way
	// is half of it).
	Delay MOSDelay
	RTT   time.Duration
}

// Delay returns the round-trip time a MOS estimate uses and its source:
// RTCP's RTT, else the signalling estimate, else unknown.
func (m MediaStats) Delay() (time.Duration, MOSDelay) {
	switch {
	case m.RTT > 0:
		return m.RTT, MOSDelayRTCP
	case m.SignallingRTT > 0:
		return m.SignallingRTT, MOSDelaySignalling
	default:
		return 0, MOSDelayUnknown
	}
}

// EstimateMOS scores the call's audio in both directions with the E-model
// (mos.Estimate). ok is false when no audio arrived to judge or the delay
// is unknown (see MOSDelayUnknown). The downlink uses the audio stream's
// figures when the media path filled them (Audio), else the totals.
func (m MediaStats) EstimateMOS() (e MOSEstimate, ok bool) {
	e.RTT, e.Delay = m.Delay()
	if e.Delay == MOSDelayUnknown {
		return e, false
	}
	down := mos.Input{Codec: m.Codec, PacketsReceived: m.PacketsReceived, PacketsLost: m.PacketsLost, Jitter: m.Jitter, RTT: e.RTT}
	if a := m.Audio; a.PacketsReceived+a.PacketsLost+a.StallMissing+a.TailMissing > 0 {
		down.PacketsReceived, down.PacketsLost = a.PacketsReceived, a.PacketsLost+a.StallMissing+a.TailMissing
		down.Jitter = a.Jitter
	}
	var dok bool
	if e.Downlink, dok = mos.Estimate(down); !dok {
		return e, false
	}
	e.Score = e.Downlink
	if a := m.Audio; a.UplinkReports > 0 && a.PacketsSent > 0 {
		lost := min(a.UplinkPacketsLost, a.PacketsSent)
		up := mos.Input{Codec: m.Codec, PacketsReceived: a.PacketsSent - lost, PacketsLost: lost, Jitter: a.UplinkJitter, RTT: e.RTT}
		if s, uok := mos.Estimate(up); uok {
			e.Uplink, e.UplinkKnown = s, true
			e.Score = min(e.Score, s)
		}
	}
	return e, true
}

// MOS estimates the call's listening-quality MOS: the worse direction of
// EstimateMOS. ok is false when no audio arrived or the delay is unknown.
func (m MediaStats) MOS() (score float64, ok bool) {
	e, ok := m.EstimateMOS()
	return e.Score, ok
}
