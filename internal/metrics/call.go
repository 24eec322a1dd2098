// Package metrics is the measurement core: the call record types, and the
// Recorder that accumulates them into HdrHistograms, the single source of
// truth. Its Snapshots feed every view: the live progress line, the
// Prometheus exporter (promexport), the thresholds (threshold), the
// end-of-run summary (summary) and the result files (results).
package metrics

import (
	"strconv"
	"time"
)

// Phase is one timed step of an anonymous call. Every phase is recorded as a
// duration from the call's scheduled start (coordinated omission made
// visible) and, beside it, from the call's actual start (service time).
// See ../shared/design/architecture.md, "Phases of a call".
type Phase int

// The phases, in the order a successful call passes them.
const (
	// PhaseSubscribe ends when the subscription POST is answered.
	PhaseSubscribe Phase = iota
	// PhaseWebsocket ends when the notification websocket is open.
	PhaseWebsocket
	// PhaseStart ends when the callMe POST is answered with a session id.
	PhaseStart
	// PhaseRinging ends when the ringing notification arrives (optional).
	PhaseRinging
	// PhaseConnect ends when the answer SDP has arrived and been applied.
	PhaseConnect
	// PhaseICE ends when ICE reaches connected.
	PhaseICE
	// PhaseDTLS ends when DTLS (and so the peer connection) is connected.
	PhaseDTLS
	// PhaseMedia ends when the first remote RTP packet is received.
	PhaseMedia
	// PhaseEnd ends when the session DELETE is answered; it is timed from
	// the instant the call began to end, not from the scheduled start.
	PhaseEnd
	// PhaseHold is a mid-call hold re-offer: timed from the hold request
	// (the hold offer being made) to the gateway's answer applied. A call
	// may hold several times; each re-offer is one value (see
	// CallRecord.Reoffers).
	PhaseHold
	// PhaseUnhold is the unhold re-offer, timed as PhaseHold.
	PhaseUnhold
	// NumPhases is the number of phases; not a phase.
	NumPhases
)

var phaseNames = [NumPhases]string{
	"subscribe", "websocket", "start", "ringing", "connect", "ice", "dtls", "media", "end", "hold", "unhold",
}

// SelfTimed reports whether the phase is timed from its own beginning (end:
// from when the call began to end; hold and unhold: from the re-offer's
// request) rather than from the call's start: its scheduled and service
// durations are then the same value.
func (p Phase) SelfTimed() bool {
	return p == PhaseEnd || p == PhaseHold || p == PhaseUnhold
}

// String returns the phase's label value, e.g. "connect".
func (p Phase) String() string {
	if p < 0 || p >= NumPhases {
		return "unknown"
	}
	return phaseNames[p]
}

// Phases returns every phase in call order (hold and unhold, which happen
// between media and end, come last so that the enum's older values keep
// their numbers).
func Phases() []Phase {
	ps := make([]Phase, NumPhases)
	for i := range ps {
		ps[i] = Phase(i)
	}
	return ps
}

// ParsePhase maps a label value back to its Phase.
func ParsePhase(s string) (Phase, bool) {
	for i, n := range phaseNames {
		if n == s {
			return Phase(i), true
		}
	}
	return 0, false
}

// Outcome is how a call ended: success, or failed in some phase.
type Outcome int

// The outcomes.
const (
	// OutcomeUnknown is the zero value; a recorded call never has it.
	OutcomeUnknown Outcome = iota
	// OutcomeSuccess is a call that went through every phase it was asked to.
	OutcomeSuccess
	// OutcomeFailed is a call that failed; Reason and FailedPhase say where and why.
	OutcomeFailed
	// OutcomeAborted is a call cut short by the run ending (Ctrl-C or the
	// grace period), not by the gateway.
	OutcomeAborted
)

// String returns the outcome's label value.
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeFailed:
		return "failed"
	case OutcomeAborted:
		return "aborted"
	default:
		return "unknown"
	}
}

// Reason is the cause of a failed call, from a closed set so it can be a
// Prometheus label. Together with the phase it failed in it reads as
// failed/<phase>/<reason>.
type Reason string

// The closed set of failure reasons.
const (
	ReasonNone           Reason = ""
	ReasonHTTPStatus     Reason = "http_status"       // the gateway answered a non-2xx status
	ReasonBadResponse    Reason = "bad_response"      // a 2xx whose body is not what the protocol says
	ReasonTokenRejected  Reason = "token_rejected"    // 401/403 or status 46/64/65
	ReasonTransport      Reason = "transport"         // connection refused, reset, TLS failure
	ReasonTimeout        Reason = "timeout"           // the phase's timeout expired
	ReasonWebsocketDrop  Reason = "websocket_dropped" // the notification socket closed under the call
	ReasonRemoteEnded    Reason = "remote_ended"      // callEnd arrived before the call was meant to end
	ReasonAuditFailed    Reason = "audit_failed"      // an audit answered status 42
	ReasonBadSDP         Reason = "bad_sdp"           // the answer could not be applied
	ReasonICEFailed      Reason = "ice_failed"        // ICE went to failed
	ReasonDTLSFailed     Reason = "dtls_failed"       // DTLS handshake failed
	ReasonNoMedia        Reason = "no_media"          // no RTP arrived in time
	ReasonMediaIntegrity Reason = "media_integrity"   // RTP arrived but not the expected stream
	ReasonLocal          Reason = "local_error"       // loadgen itself failed (bug, resource exhaustion)
	ReasonCanceled       Reason = "canceled"          // the run was stopped
)

// Reasons returns the closed set of reasons (without ReasonNone).
func Reasons() []Reason {
	return []Reason{
		ReasonHTTPStatus, ReasonBadResponse, ReasonTokenRejected, ReasonTransport,
		ReasonTimeout, ReasonWebsocketDrop, ReasonRemoteEnded, ReasonAuditFailed,
		ReasonBadSDP, ReasonICEFailed, ReasonDTLSFailed, ReasonNoMedia,
		ReasonMediaIntegrity, ReasonLocal, ReasonCanceled,
	}
}

// MediaStats are one call's media counters and quality, as the caller's peer
// saw them. Zero values mean "not measured" for Jitter and RTT. The
// totals are over both streams; Audio and Video hold each stream's own.
type MediaStats struct {
	// PacketsSent and BytesSent count packets written successfully (a
	// failed write counts in WriteErrors instead).
	PacketsSent uint64 `json:"packets_sent"`
	BytesSent   uint64 `json:"bytes_sent"`
	// PacketsReceived and BytesReceived count what arrived (downlink).
	PacketsReceived uint64 `json:"packets_received"`
	BytesReceived   uint64 `json:"bytes_received"`
	// PacketsLost is the downlink's lost packets, by sequence number and
	// by time: the sum over the streams of PacketsLost, StallMissing and
	// TailMissing, so a stream that stops (a frozen gateway) is not
	// "loss 0". Loss rate = PacketsLost / (PacketsReceived + PacketsLost).
	PacketsLost uint64 `json:"packets_lost"`
	Duplicates  uint64 `json:"duplicates"`
	Reordered   uint64 `json:"reordered"`
	// Jitter is the audio stream's downlink interarrival jitter (RFC
	// 3550 §6.4.1, every arriving packet).
	Jitter time.Duration `json:"jitter_ns"`
	// RTT is the media path's latest round-trip time from RTCP (0: no
	// sample); SignallingRTT is the call's signalling estimate (the
	// fastest of its REST exchanges: an upper bound of the network RTT),
	// used for the MOS when RTT is 0 (see Delay).
	RTT           time.Duration `json:"rtt_ns"`
	SignallingRTT time.Duration `json:"signalling_rtt_ns,omitempty"`
	LateWrites    uint64        `json:"late_writes"`
	// FirstLateWrite and LastLateWrite are when the first and the last
	// late frame were due (zero without late writes), so a late write can
	// be placed in time (a benchmark's steady window, say).
	FirstLateWrite time.Time `json:"first_late_write,omitzero"`
	LastLateWrite  time.Time `json:"last_late_write,omitzero"`
	// IntegrityOK reports, where IntegrityChecked, that every received
	// packet was the expected media and some arrived; where the check did
	// not run it is true when media arrived (nothing contradicts it).
	IntegrityOK bool `json:"integrity_ok"`
	// IntegrityChecked reports that received payloads were compared with
	// the expected media (the engine knows what the remote plays). Count
	// an integrity failure only where it is set (IntegrityFailed).
	IntegrityChecked bool   `json:"integrity_checked"`
	Codec            string `json:"codec,omitempty"` // audio codec, for the MOS estimate
	// WriteErrors counts packets whose write failed (both streams).
	WriteErrors uint64 `json:"write_errors"`
	// LongestGap is the longest time without a received packet while
	// media was expected (on hold it is not), over both streams,
	// including a gap at the end of the call longer than the stall
	// threshold.
	LongestGap time.Duration `json:"longest_gap_ns"`
	// UplinkPacketsLost is the far end's cumulative count of our packets
	// lost (both streams), from the latest RTCP report block about each;
	// UplinkFractionLost is UplinkPacketsLost / PacketsSent of the
	// reported streams (0..1); UplinkJitter is the audio stream's jitter
	// as the far end reports it. UplinkReports counts the report blocks
	// received: 0 means no uplink figure is known.
	UplinkPacketsLost  uint64        `json:"uplink_packets_lost"`
	UplinkFractionLost float64       `json:"uplink_fraction_lost"`
	UplinkJitter       time.Duration `json:"uplink_jitter_ns"`
	UplinkReports      uint64        `json:"uplink_reports"`
	// Audio and Video are the per-stream figures.
	Audio MediaStreamStats `json:"audio,omitzero"`
	Video MediaStreamStats `json:"video,omitzero"`
}

// IntegrityFailed reports whether the call counts as having received the
// wrong stream: the check ran, media arrived, and it failed.
func (m MediaStats) IntegrityFailed() bool {
	return m.IntegrityChecked && m.PacketsReceived > 0 && !m.IntegrityOK
}

// MediaStreamStats are one stream's (audio or video) figures, both
// directions: sent and uplink (the far end's RTCP reports about what we
// send), received and downlink (what loadgen measures).
type MediaStreamStats struct {
	PacketsSent uint64 `json:"packets_sent"`
	BytesSent   uint64 `json:"bytes_sent"`
	WriteErrors uint64 `json:"write_errors"`

	PacketsReceived uint64 `json:"packets_received"`
	BytesReceived   uint64 `json:"bytes_received"`
	// PacketsLost counts sequence numbers never received (RFC 3550).
	PacketsLost uint64 `json:"packets_lost"`
	Duplicates  uint64 `json:"duplicates"`
	Reordered   uint64 `json:"reordered"`
	// Jitter is the downlink interarrival jitter (RFC 3550 §6.4.1),
	// updated by every arriving packet, reordered ones included.
	Jitter time.Duration `json:"jitter_ns"`
	// PacketsExpected is what the sender's rate (from its media clip)
	// implies over the time media was expected, or the sequence span when
	// larger: PacketsReceived - Duplicates + PacketsLost + StallMissing +
	// TailMissing.
	PacketsExpected uint64 `json:"packets_expected"`
	// StallMissing counts packets missing by time while packets still
	// arrived around them (a stall the sender's sequence numbers do not
	// show); TailMissing those due after the last packet, when the stream
	// stopped for good (gap longer than the stall threshold at the end).
	StallMissing uint64 `json:"stall_missing"`
	TailMissing  uint64 `json:"tail_missing"`
	// LongestGap is the longest time between received packets while
	// media was expected, the tail included when over the stall threshold.
	LongestGap time.Duration `json:"longest_gap_ns"`

	// UplinkReports counts RTCP report blocks about this stream;
	// UplinkPacketsLost is the latest block's cumulative lost count,
	// UplinkFractionLost its fraction lost since the previous report
	// (0..1), UplinkJitter its interarrival jitter.
	UplinkReports      uint64        `json:"uplink_reports"`
	UplinkPacketsLost  uint64        `json:"uplink_packets_lost"`
	UplinkFractionLost float64       `json:"uplink_fraction_lost"`
	UplinkJitter       time.Duration `json:"uplink_jitter_ns"`
}

// Reoffer is one hold or unhold re-offer of a call.
type Reoffer struct {
	// Phase is PhaseHold or PhaseUnhold.
	Phase Phase
	// Requested is when the re-offer began (the offer about to be made).
	Requested time.Time
	// Applied is when the gateway's answer was applied; zero when the
	// re-offer failed (the call then failed in Phase).
	Applied time.Time
}

// Duration is Applied - Requested, or 0 for a failed re-offer.
func (r Reoffer) Duration() time.Duration {
	if r.Applied.IsZero() || r.Requested.IsZero() {
		return 0
	}
	return r.Applied.Sub(r.Requested)
}

// CallRecord is everything one finished call reports to the recorder. The
// worker builds one per call; the recorder, calls.jsonl and the summary read
// it.
type CallRecord struct {
	// Index is the call's sequence number in the run, from 0.
	Index uint64
	// Scheduled is when the pacer meant the call to start.
	Scheduled time.Time
	// Started is when the call actually started (Started-Scheduled = lag).
	Started time.Time
	// Instants holds the instant each phase completed; zero if it did not.
	// For PhaseHold and PhaseUnhold it is the last re-offer's applied
	// answer; Reoffers holds every one.
	Instants [NumPhases]time.Time
	// Reoffers are the call's mid-call hold and unhold re-offers in order,
	// each recorded as one PhaseHold or PhaseUnhold value.
	Reoffers []Reoffer
	// EndBegan is when the call started to end (local hang-up decided, or
	// remote end received); PhaseEnd is timed from it.
	EndBegan time.Time
	// Outcome, FailedPhase and Reason classify the call.
	Outcome     Outcome
	FailedPhase Phase
	Reason      Reason
	// FailedAt is when the call failed (or was aborted): the instant its
	// first failure was detected, from the same clock as Instants (so
	// FailedAt - Scheduled is the time to failure); zero for a success.
	FailedAt time.Time
	// Status is the gateway's status behind a failure: the callEnd (or
	// callCancel, audit) notification's status code, or else the HTTP
	// status of the failed request; 0 when there was none. Labels use
	// StatusLabel, which bounds it.
	Status int
	// Error is the wrapped error text of a failed call (never a label).
	Error string
	// HangupError says why the session DELETE or the unsubscribe failed or
	// timed out ("" when both were answered or not needed): the session or
	// subscription may remain on the gateway. Set even when the call had
	// already failed or been aborted for another reason.
	HangupError string
	// SetupRecorded says the scheduling lag and the setup phases (all but
	// end, hold and unhold) were recorded when the setup completed
	// (Recorder.RecordSetup), so Record must not count them again.
	SetupRecorded bool
	// Media holds the call's media statistics, if media ran.
	Media MediaStats
	// Video reports whether the call carried video.
	Video bool
}

// StatusNone and StatusOther are the normalised statuses (NormalizeStatus):
// no status at all, and a status outside 100..699.
const (
	StatusNone  = 0
	StatusOther = -1
)

// NormalizeStatus bounds a gateway or HTTP status for use as a label: a
// status in 100..699 (HTTP and SIP codes) is kept, 0 stays StatusNone and
// anything else becomes StatusOther.
func NormalizeStatus(status int) int {
	switch {
	case status == 0:
		return StatusNone
	case status >= 100 && status <= 699:
		return status
	default:
		return StatusOther
	}
}

// StatusLabel is the label value of a status: the 3-digit code for
// 100..699, "none" for 0 and "other" for anything else, so a label made
// from it takes at most 602 values.
func StatusLabel(status int) string {
	switch s := NormalizeStatus(status); s {
	case StatusNone:
		return "none"
	case StatusOther:
		return "other"
	default:
		return strconv.Itoa(s)
	}
}

// StatusLabel is the bounded label value of the record's Status (see the
// function StatusLabel).
func (r CallRecord) StatusLabel() string { return StatusLabel(r.Status) }
