package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/signal"
)

// startParams and midParams are the custom headers of the local-end call.
var (
	startParams = []signal.CustomParameter{{Name: "X-Test-Start", Value: "e2e-start"}}
	midParams   = []signal.CustomParameter{{Name: "X-Test-Mid", Value: "mid-call"}}
)

// TestLocalEndCall places a whole call ended by the client, in each mode:
// subscribe, websocket, callStart with a real offer, ringing, the answer,
// ICE+DTLS, media both ways, audit, hold and unhold (media stops, then
// flows again), custom headers, DELETE of the session, unsubscribe, close;
// the gateway is left with nothing open.
func TestLocalEndCall(t *testing.T) {
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f, nil, nil)
			c, a := e.mustEstablish(signal.CallOptions{CustomParameters: startParams})

			// The first audit goes out at once after callStart (§8).
			ctx := e.ctx()
			for c.sess.Stats().AuditsOK == 0 {
				if err := pause(ctx); err != nil {
					t.Fatalf("no automatic audit: %+v: %v", c.sess.Stats(), err)
				}
			}

			for _, hold := range []bool{true, false, true, false} {
				ctx := e.ctx()
				offer, err := c.peer.HoldOffer(ctx, hold)
				if err != nil {
					t.Fatalf("HoldOffer(%v): %v", hold, err)
				}
				if err := checkDirections(offer, hold, f.video); err != nil {
					t.Fatalf("HoldOffer: %v", err)
				}
				before := received(c.peer, a)
				if err := c.sess.StartCallUpdate(ctx, offer); err != nil {
					t.Fatalf("StartCallUpdate(hold=%v): %v", hold, err)
				}
				n, err := c.expect(ctx, signal.EventRespondCallUpdate)
				if err != nil {
					t.Fatalf("hold=%v: %v", hold, err)
				}
				if n.SDP == "" {
					t.Fatalf("hold=%v: respondCallUpdate without SDP", hold)
				}
				if err := checkDirections(n.SDP, hold, f.video); err != nil {
					t.Fatalf("gateway answer: %v", err)
				}
				if err := c.peer.ApplyAnswer(n.SDP); err != nil {
					t.Fatalf("hold=%v: ApplyAnswer: %v", hold, err)
				}
				if hold {
					if err := waitStill(ctx, c.peer, a); err != nil {
						t.Fatal(err)
					}
				} else if err := waitGrowth(ctx, before, 25, c.peer, a); err != nil {
					t.Fatalf("after unhold: %v", err)
				}
			}
			if err := c.sess.SendCustomHeaders(ctx, midParams); err != nil {
				t.Fatalf("SendCustomHeaders: %v", err)
			}
			if err := c.sess.Audit(ctx); err != nil {
				t.Fatalf("audit after unhold: %v", err)
			}
			for _, p := range []media.CallPeer{c.peer, a} {
				if st := p.Stats(); !st.IntegrityOK || st.PacketsLost != 0 || st.Duplicates != 0 {
					t.Errorf("media stats after hold/unhold: %+v", st)
				}
			}
			if err := c.sess.EndCall(ctx); err != nil {
				t.Fatalf("EndCall: %v", err)
			}
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe: %v", err)
			}
			c.close()
			checkClosed(t, c.sess)
			if _, ok := <-c.sess.Notifications(); ok {
				t.Error("notification after the local end")
			}

			st := e.mustIdle()
			if st.CallsStarted != 1 || st.CallsAnswered != 1 || st.CallsRejected != 0 || st.CallsFailed != 0 || st.Pings == 0 {
				t.Errorf("gateway stats: %+v", st)
			}
			checkWire(t, e, c.sid, true)
			// Hold and unhold repeat the start parameters (§9.1).
			updates := 0
			for _, ex := range e.rec.requests(http.MethodPut, "/callSessions/") {
				var b struct {
					Req struct {
						Type   string                   `json:"type"`
						Params []signal.CustomParameter `json:"customParameters"`
					} `json:"callMeRequest"`
				}
				if err := json.Unmarshal(ex.Body, &b); err != nil {
					t.Fatalf("PUT body %q: %v", ex.Body, err)
				}
				switch b.Req.Type {
				case "startCallUpdate":
					updates++
					if !slices.Equal(b.Req.Params, startParams) {
						t.Errorf("startCallUpdate customParameters %v, want %v", b.Req.Params, startParams)
					}
				case "sendCustomHeaders":
					if !slices.Equal(b.Req.Params, midParams) {
						t.Errorf("sendCustomHeaders customParameters %v, want %v", b.Req.Params, midParams)
					}
				}
			}
			if updates != 4 {
				t.Errorf("%d startCallUpdate PUTs, want 4", updates)
			}
		})
	}
}

// TestRemoteEnd ends established calls from the gateway: the client gets
// callEnd with the status and reason, sends no DELETE of the session, finds
// the session gone at the next audit (42) and unsubscribes.
func TestRemoteEnd(t *testing.T) {
	tests := []struct {
		f      flavour
		status int
		reason string
	}{
		{flavours[0], 0, "Remote party ended the call"},
		{flavours[2], 603, "Decline"},
	}
	for _, tc := range tests {
		t.Run(tc.f.name, func(t *testing.T) {
			e := newEnv(t, tc.f, nil, nil)
			c, _ := e.mustEstablish(signal.CallOptions{})
			ctx := e.ctx()
			if err := e.gw.EndCall(c.sid, tc.status, tc.reason); err != nil {
				t.Fatalf("gateway EndCall: %v", err)
			}
			n, err := c.expect(ctx, signal.EventCallEnd)
			if err != nil {
				t.Fatal(err)
			}
			if n.StatusCode != tc.status || n.ReasonText != tc.reason {
				t.Errorf("callEnd status %d %q, want %d %q", n.StatusCode, n.ReasonText, tc.status, tc.reason)
			}
			// §10.3: no DELETE callSessions after callEnd; an audit now
			// would be answered 42.
			err = c.sess.Audit(ctx)
			if e := checkErr(err, wantErr{signal.StepAudit, signal.KindHTTPStatus, http.StatusNotFound, 42}); e != nil {
				t.Error(e)
			}
			if err := e.gw.EndCall(c.sid, 0, "again"); !errors.Is(err, gateway.ErrUnknownSession) {
				t.Errorf("second gateway EndCall: %v, want ErrUnknownSession", err)
			}
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe: %v", err)
			}
			c.close()
			checkClosed(t, c.sess)
			st := e.mustIdle()
			if st.CallsAnswered != 1 {
				t.Errorf("gateway stats: %+v", st)
			}
			checkWire(t, e, c.sid, false)
		})
	}
}

// TestEarlyMedia asks for early media: the gateway sends sessionProgress
// with a provisional answer between ringing and the final answer, which
// must be compatible with it (§7.2); the call then connects.
func TestEarlyMedia(t *testing.T) {
	e := newEnv(t, flavours[0], func(cfg *gateway.Config) { cfg.AnswerDelay = 50 * time.Millisecond }, nil)
	ctx := e.ctx()
	creds, _ := e.f.creds()
	c, err := e.dial(ctx, e.client, creds)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.close()
	if err := c.start(ctx, true, signal.CallOptions{EarlyMedia: true}); err != nil {
		t.Fatalf("start: %v", err)
	}
	var sdps []string
	for _, want := range []signal.EventType{signal.EventRinging, signal.EventSessionProgress, signal.EventRespondCallUpdate} {
		n, err := c.expect(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		sdps = append(sdps, n.SDP)
	}
	if sdps[1] == "" || sdps[1] != sdps[2] {
		t.Fatalf("provisional answer %q and final answer %q differ", sdps[1], sdps[2])
	}
	if err := c.peer.ApplyAnswer(sdps[2]); err != nil {
		t.Fatalf("ApplyAnswer: %v", err)
	}
	if err := c.connected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(c.sess.EndCall(ctx), c.sess.Unsubscribe(ctx)); err != nil {
		t.Fatal(err)
	}
	c.close()
	e.mustIdle()
}

// TestSubscriptionRefresh grants one-second subscriptions: the client's
// refresh timer must keep the subscription, its websocket and the call
// alive past several lifetimes (§12).
func TestSubscriptionRefresh(t *testing.T) {
	e := newEnv(t, flavours[1], nil, func(cfg *signal.Config) {
		cfg.Expires = 1
		cfg.RefreshFloor = 10 * time.Millisecond // refresh every expires/2 = 500 ms
		cfg.AuditInterval = 100 * time.Millisecond
		cfg.PingInterval = 100 * time.Millisecond
	})
	c, _ := e.mustEstablish(signal.CallOptions{})
	if got := c.sess.Subscription().Expires; got != 1 {
		t.Fatalf("granted expires %d, want 1", got)
	}
	ctx := e.ctx()
	// 5 refreshes span 2.5 s: past two lifetimes and two janitor passes.
	for c.sess.Stats().Refreshes < 5 {
		if err := pause(ctx); err != nil {
			t.Fatalf("refreshes: %+v, last error %v: %v", c.sess.Stats(), c.sess.RefreshErr(), err)
		}
	}
	if st := c.sess.Stats(); st.RefreshFailures != 0 || st.AuditsFailed != 0 || st.AuditsOK < 10 || st.PingsSent < 10 {
		t.Errorf("session stats after 2.5 s: %+v, last refresh error %v", st, c.sess.RefreshErr())
	}
	if st := e.gw.Stats(); st.Pings < 5 {
		t.Errorf("gateway saw %d pings", st.Pings)
	}
	select {
	case <-c.sess.Done():
		t.Fatalf("websocket ended: %v", c.sess.Err())
	default:
	}
	if err := c.sess.Audit(ctx); err != nil {
		t.Fatalf("audit after refreshes: %v", err)
	}
	if err := errors.Join(c.sess.EndCall(ctx), c.sess.Unsubscribe(ctx)); err != nil {
		t.Fatal(err)
	}
	c.close()
	e.mustIdle()
	if n := len(e.rec.requests(http.MethodPut, "/subscription/")); n < 5 {
		t.Errorf("%d refresh PUTs on the wire, want >= 5", n)
	}
}

// TestRegularAddressForms places regular calls to callees that need
// normalising or escaping: the path user is sent as given (escaped once,
// decoded by the gateway), to/from are normalised SIP URIs, and the
// gateway echoes the callee in callNotificationParams.
func TestRegularAddressForms(t *testing.T) {
	tests := []struct {
		name, callee, caller, display string
		wantRemote                    string
	}{
		{"plain", "callee@example.com", account, "", "callee@example.com"},
		{"phone number", "+1 (555) 010-0000@example.com", account, "", "+15550100000@example.com"},
		{"sip scheme", "sip:callee@example.com", account, "Load Tester", "callee@example.com"},
		{"space", "first last@example.com", "caller with space@example.com", "", "first last@example.com"},
		{"non-ASCII", "ünïcode@example.com", account, "Tëster", "ünïcode@example.com"},
		{"path delimiters", "a/b?c#d%e@example.com", account, "", "a/b?c#d%e@example.com"},
		{"no domain", "support", account, "", "support@e2e.example.com"},
	}
	e := newEnv(t, flavours[0], nil, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := e.ctx()
			c, err := e.dial(ctx, e.client, signal.RegularCredentials(tc.callee, tc.caller))
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.close()
			if err := c.start(ctx, false, signal.CallOptions{DisplayName: tc.display}); err != nil {
				t.Fatalf("start: %v", err)
			}
			n, err := c.expect(ctx, signal.EventRinging)
			if err != nil {
				t.Fatal(err)
			}
			if n.RemoteDisplayNumber != tc.wantRemote {
				t.Errorf("remoteDisplayNumber %q, want %q", n.RemoteDisplayNumber, tc.wantRemote)
			}
			if n, err = c.expect(ctx, signal.EventRespondCallUpdate); err != nil {
				t.Fatal(err)
			}
			if err := c.peer.ApplyAnswer(n.SDP); err != nil {
				t.Fatal(err)
			}
			if err := c.connected(ctx); err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(c.sess.Audit(ctx), c.sess.EndCall(ctx), c.sess.Unsubscribe(ctx)); err != nil {
				t.Fatal(err)
			}
			c.close()
			if _, err := e.waitIdle(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLocalEndBeforeAnswer ends a call that is still ringing: the DELETE
// succeeds, no answer or callEnd follows, and the gateway closes the
// answerer it was preparing.
func TestLocalEndBeforeAnswer(t *testing.T) {
	e := newEnv(t, flavours[1], func(cfg *gateway.Config) { cfg.AnswerDelay = time.Hour }, nil)
	ctx := e.ctx()
	creds, err := e.f.creds()
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.dial(ctx, e.client, creds)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.close()
	if err := c.start(ctx, true, signal.CallOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	if _, err := c.expect(ctx, signal.EventRinging); err != nil {
		t.Fatal(err)
	}
	if err := c.sess.EndCall(ctx); err != nil {
		t.Fatalf("EndCall: %v", err)
	}
	if st := e.gw.Stats(); st.Subscriptions != 1 || st.Sockets != 1 {
		t.Fatalf("subscription or socket gone before the unsubscribe: %+v", st)
	}
	for st := e.gw.Stats(); st.Sessions != 0 || st.Answerers != 0; st = e.gw.Stats() {
		if err := pause(ctx); err != nil {
			t.Fatalf("session not ended by the DELETE: %+v", st)
		}
	}
	if err := c.sess.Unsubscribe(ctx); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	c.close()
	for n := range c.sess.Notifications() {
		t.Errorf("notification %s after the local end", n.Type)
	}
	if st := e.mustIdle(); st.CallsAnswered != 0 || st.CallsStarted != 1 {
		t.Errorf("gateway stats: %+v", st)
	}
}
