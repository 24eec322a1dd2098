// Package metrics is the measurement core: the call record types, and the
// Recorder that accumulates them into HdrHistograms, the single source of
// truth. Its Snapshots feed every view: the live progress line, the
// Prometheus exporter (promexport), the thresholds (threshold), the
// end-of-run summary (summary) and the result files (results).
package metrics

import (
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
	// NumPhases is the number of phases; not a phase.
	NumPhases
)

var phaseNames = [NumPhases]string{
	"subscribe", "websocket", "start", "ringing", "connect", "ice", "dtls", "media", "end",
}

// String returns the phase's label value, e.g. "connect".
func (p Phase) String() string {
	if p < 0 || p >= NumPhases {
		return "unknown"
	}
	return phaseNames[p]
}

// Phases returns every phase in call order.
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
	ReasonGeneratorBusy  Reason = "generator_overload"
	ReasonLocal          Reason = "local_error" // loadgen itself failed (bug, resource exhaustion)
	ReasonCanceled       Reason = "canceled"    // the run was stopped
)

// Reasons returns the closed set of reasons (without ReasonNone).
func Reasons() []Reason {
	return []Reason{
		ReasonHTTPStatus, ReasonBadResponse, ReasonTokenRejected, ReasonTransport,
		ReasonTimeout, ReasonWebsocketDrop, ReasonRemoteEnded, ReasonAuditFailed,
		ReasonBadSDP, ReasonICEFailed, ReasonDTLSFailed, ReasonNoMedia,
		ReasonMediaIntegrity, ReasonGeneratorBusy, ReasonLocal, ReasonCanceled,
	}
}

// MediaStats are one call's media counters and quality, as the caller's peer
// saw them. Zero values mean "not measured" for Jitter and RTT.
type MediaStats struct {
	PacketsSent     uint64        `json:"packets_sent"`
	BytesSent       uint64        `json:"bytes_sent"`
	PacketsReceived uint64        `json:"packets_received"`
	BytesReceived   uint64        `json:"bytes_received"`
	PacketsLost     uint64        `json:"packets_lost"`
	Duplicates      uint64        `json:"duplicates"`
	Reordered       uint64        `json:"reordered"`
	Jitter          time.Duration `json:"jitter_ns"`
	RTT             time.Duration `json:"rtt_ns"`
	LateWrites      uint64        `json:"late_writes"`
	// FirstLateWrite and LastLateWrite are when the first and the last
	// late frame were due (zero without late writes), so a late write can
	// be placed in time (a benchmark's steady window, say).
	FirstLateWrite time.Time `json:"first_late_write,omitzero"`
	LastLateWrite  time.Time `json:"last_late_write,omitzero"`
	IntegrityOK    bool      `json:"integrity_ok"`
	Codec          string    `json:"codec,omitempty"` // audio codec, for the MOS estimate
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
	Instants [NumPhases]time.Time
	// EndBegan is when the call started to end (local hang-up decided, or
	// remote end received); PhaseEnd is timed from it.
	EndBegan time.Time
	// Outcome, FailedPhase and Reason classify the call.
	Outcome     Outcome
	FailedPhase Phase
	Reason      Reason
	// Error is the wrapped error text of a failed call (never a label).
	Error string
	// Media holds the call's media statistics, if media ran.
	Media MediaStats
	// Video reports whether the call carried video.
	Video bool
}
