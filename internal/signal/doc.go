// Package signal is the REST+WebSocket client of the anonymous-call protocol
// ("callMe", Kandy Link / SPiDR), behaving on the wire like the reference
// browser SDK (@kandy-io/callme-sdk 5.2.0) as specified in
// ../shared/protocol/kandy-anonymous-call.md (referred to as "§n" below).
//
// One Client is built per run and shared by every call: it owns the single
// keep-alive *http.Client and the websocket dialer. Each call gets its own
// Session (one subscription and one notification websocket per call, §11):
//
//	s, err := c.Subscribe(ctx, signal.RegularCredentials(callee, caller))
//	defer s.Close()
//	err = s.OpenWebsocket(ctx)
//	id, err := s.StartCall(ctx, offer, signal.CallOptions{})
//	for n := range s.Notifications() { ... } // ringing, respondCallUpdate (the answer), ...
//	err = s.EndCall(ctx)
//	err = s.Unsubscribe(ctx)
//
// Every method is synchronous: the caller reads the clock after each call
// returns to time the phases; only Notification.Received is stamped by the
// package (the instant the frame was read). Failures are *Error values that
// name the Step and an ErrorKind; the package never prints, exits or panics.
//
// Goroutines: a Session owns at most one websocket reader, one websocket
// writer (keep-alive pings, §5.3), one audit loop (§8) and one subscription
// refresh timer (§12). Close stops them all and returns after they exit.
package signal
