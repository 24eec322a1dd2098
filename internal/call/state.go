package call

// State is where one call is in its life; the call state machine moves
// through these in order (some calls skip Ringing, HoldUnhold) and ends in
// Done whatever the outcome.
type State int

// The call states, in the order a successful call passes them.
const (
	// StateUnknown is the zero value: not a state a call is ever in.
	StateUnknown State = iota
	// StateScheduled: the pacer issued the start; the call has not begun.
	StateScheduled
	// StateSubscribing: the subscription POST is in flight.
	StateSubscribing
	// StateConnectingWebsocket: the notification websocket is being opened.
	StateConnectingWebsocket
	// StateStarting: the callMe callStart POST is in flight.
	StateStarting
	// StateWaitingAnswer: the call was accepted; waiting for ringing and the
	// answer SDP.
	StateWaitingAnswer
	// StateRinging: ringing arrived; waiting for the answer SDP.
	StateRinging
	// StateConnectingMedia: the answer was applied; ICE and DTLS are
	// connecting.
	StateConnectingMedia
	// StateWaitingMedia: the peer connection is up; waiting for the first
	// remote RTP packet.
	StateWaitingMedia
	// StateUp: media flows; the call is held for its hold time.
	StateUp
	// StateOnHold: the call is on (local) hold.
	StateOnHold
	// StateEnding: the call session DELETE (or the wait for the gateway's
	// callEnd) is in progress.
	StateEnding
	// StateUnsubscribing: the subscription DELETE is in flight.
	StateUnsubscribing
	// StateDone: everything is closed; the call's record is final.
	StateDone
)

// String returns the state's name, e.g. "connecting_media".
func (s State) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StateScheduled:
		return "scheduled"
	case StateSubscribing:
		return "subscribing"
	case StateConnectingWebsocket:
		return "connecting_websocket"
	case StateStarting:
		return "starting"
	case StateWaitingAnswer:
		return "waiting_answer"
	case StateRinging:
		return "ringing"
	case StateConnectingMedia:
		return "connecting_media"
	case StateWaitingMedia:
		return "waiting_media"
	case StateUp:
		return "up"
	case StateOnHold:
		return "on_hold"
	case StateEnding:
		return "ending"
	case StateUnsubscribing:
		return "unsubscribing"
	case StateDone:
		return "done"
	default:
		return "unknown"
	}
}
