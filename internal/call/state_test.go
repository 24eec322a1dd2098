package call

import "testing"

func TestCallStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{StateUnknown, "unknown"},
		{StateScheduled, "scheduled"},
		{StateSubscribing, "subscribing"},
		{StateConnectingWebsocket, "connecting_websocket"},
		{StateStarting, "starting"},
		{StateWaitingAnswer, "waiting_answer"},
		{StateRinging, "ringing"},
		{StateConnectingMedia, "connecting_media"},
		{StateWaitingMedia, "waiting_media"},
		{StateUp, "up"},
		{StateOnHold, "on_hold"},
		{StateEnding, "ending"},
		{StateUnsubscribing, "unsubscribing"},
		{StateDone, "done"},
		{State(-1), "unknown"},
		{StateDone + 1, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
	var zero State
	if zero != StateUnknown {
		t.Errorf("zero State = %v, want StateUnknown", zero)
	}
}
