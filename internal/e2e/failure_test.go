package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/signal"
)

// TestAuditFailure lets the client's audit loop find its session ended on
// the gateway: it must deliver EventAuditFailed (42) and stop auditing.
func TestAuditFailure(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, e *env, c *call)
	}{
		{"session deleted by a third party", func(t *testing.T, e *env, c *call) {
			u := e.srv.URL + "/rest/version/1/anonymous/" + url.PathEscape(callee) + "/callMe/callSessions/" + url.PathEscape(c.sid)
			req, err := http.NewRequestWithContext(e.ctx(), http.MethodDelete, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("DELETE: HTTP %d", resp.StatusCode)
			}
		}},
		{"callEnd not acted upon", func(t *testing.T, e *env, c *call) {
			if err := e.gw.EndCall(c.sid, 480, "Temporarily Unavailable"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.expect(e.ctx(), signal.EventCallEnd); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, flavours[0], nil, func(cfg *signal.Config) { cfg.AuditInterval = 100 * time.Millisecond })
			c, _ := e.mustEstablish(signal.CallOptions{})
			tc.end(t, e, c)
			n, err := c.expect(e.ctx(), signal.EventAuditFailed)
			if err != nil {
				t.Fatal(err)
			}
			if n.StatusCode != 42 {
				t.Errorf("EventAuditFailed status %d, want 42", n.StatusCode)
			}
			if err := checkErr(n.Err, wantErr{signal.StepAudit, signal.KindHTTPStatus, http.StatusNotFound, 42}); err != nil {
				t.Error(err)
			}
			audits := len(e.rec.requests(http.MethodPut, "/callSessions/"))
			ctx := e.ctx()
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe: %v", err)
			}
			c.close()
			if got := c.sess.Stats().AuditsFailed; got != 1 {
				t.Errorf("%d failed audits, want 1 (the loop stops at 42)", got)
			}
			if got := len(e.rec.requests(http.MethodPut, "/callSessions/")); got != audits {
				t.Errorf("%d audits after the 42, want none", got-audits)
			}
			e.mustIdle()
		})
	}
}

// TestFaultInjection has the gateway refuse every call, by callEnd after
// ringing or by an HTTP error to callStart.
func TestFaultInjection(t *testing.T) {
	tests := []struct {
		name    string
		mode    gateway.RejectMode
		status  int
		reason  string  // callEnd reasonText
		wantErr wantErr // RejectHTTP
	}{
		{name: "busy callEnd", mode: gateway.RejectCallEnd, status: 486, reason: "Busy Here"},
		{name: "declined callEnd", mode: gateway.RejectCallEnd, status: 603, reason: "Decline"},
		{name: "HTTP 503", mode: gateway.RejectHTTP, status: 503,
			wantErr: wantErr{signal.StepCallStart, signal.KindHTTPStatus, 503, 503}},
		{name: "HTTP 500", mode: gateway.RejectHTTP, status: 500,
			wantErr: wantErr{signal.StepCallStart, signal.KindHTTPStatus, 500, 500}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, flavours[0], func(cfg *gateway.Config) {
				cfg.RejectRatio = 1
				cfg.RejectMode = tc.mode
				cfg.RejectStatus = tc.status
			}, nil)
			ctx := e.ctx()
			creds, _ := e.f.creds()
			c, err := e.dial(ctx, e.client, creds)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.close()
			err = c.start(ctx, false, signal.CallOptions{})
			if tc.mode == gateway.RejectHTTP {
				if err := checkErr(err, tc.wantErr); err != nil {
					t.Fatal(err)
				}
			} else {
				if err != nil {
					t.Fatalf("StartCall: %v", err)
				}
				if _, err := c.expect(ctx, signal.EventRinging); err != nil {
					t.Fatal(err)
				}
				n, err := c.expect(ctx, signal.EventCallEnd)
				if err != nil {
					t.Fatal(err)
				}
				if n.StatusCode != tc.status || n.ReasonText != tc.reason {
					t.Errorf("callEnd status %d %q, want %d %q", n.StatusCode, n.ReasonText, tc.status, tc.reason)
				}
			}
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe: %v", err)
			}
			c.close()
			st := e.mustIdle()
			if st.CallsRejected != 1 || st.CallsAnswered != 0 || len(e.allAnswerers()) != 0 {
				t.Errorf("gateway stats %+v, %d answerers made", st, len(e.allAnswerers()))
			}
			if n := len(e.rec.requests(http.MethodDelete, "/callSessions/")); n != 0 {
				t.Errorf("%d DELETE callSessions for a refused call", n)
			}
		})
	}
}

// TestGatewayShutdownMidCall shuts the gateway down under a call, answered
// or still ringing: the client must see its websocket dropped (1001), and
// every later step must fail promptly instead of hanging.
func TestGatewayShutdownMidCall(t *testing.T) {
	tests := []struct {
		name     string
		answered bool
	}{
		{"connected call", true},
		{"ringing call", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, flavours[2], func(cfg *gateway.Config) {
				if !tc.answered {
					cfg.AnswerDelay = time.Hour
				}
			}, func(cfg *signal.Config) { cfg.AuditInterval = 100 * time.Millisecond })
			var c *call
			if tc.answered {
				c, _ = e.mustEstablish(signal.CallOptions{})
			} else {
				creds, err := e.f.creds()
				if err != nil {
					t.Fatal(err)
				}
				if c, err = e.dial(e.ctx(), e.client, creds); err != nil {
					t.Fatalf("dial: %v", err)
				}
				t.Cleanup(c.close)
				if err := c.start(e.ctx(), true, signal.CallOptions{}); err != nil {
					t.Fatalf("start: %v", err)
				}
				if _, err := c.expect(e.ctx(), signal.EventRinging); err != nil {
					t.Fatal(err)
				}
			}
			ctx := e.ctx()
			if err := e.gw.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			select {
			case <-c.sess.Done():
			case <-ctx.Done():
				t.Fatal("websocket still open after the gateway shut down")
			}
			for n := range c.sess.Notifications() {
				t.Errorf("notification %s after shutdown", n.Type)
			}
			err := c.sess.Err()
			if err := checkErr(err, wantErr{Step: signal.StepWebsocket, Kind: signal.KindWebsocketDropped}); err != nil {
				t.Fatal(err)
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Errorf("websocket error %v, want close 1001", err)
			}
			if err := c.sess.EndCall(ctx); checkErr(err, wantErr{signal.StepEndCall, signal.KindHTTPStatus, 503, 503}) != nil {
				t.Errorf("EndCall after shutdown: %v", err)
			}
			if err := c.sess.Unsubscribe(ctx); checkErr(err, wantErr{signal.StepUnsubscribe, signal.KindHTTPStatus, 503, 503}) != nil {
				t.Errorf("Unsubscribe after shutdown: %v", err)
			}
			c.close()
			st := e.mustIdle()
			if tc.answered != (st.CallsAnswered == 1) {
				t.Errorf("gateway stats: %+v", st)
			}
			if ctx.Err() != nil {
				t.Fatal("the shutdown sequence took longer than the wait limit")
			}
		})
	}
}

// TestUnauditedCallExpires stops auditing (a 1-minute audit interval
// against a 300 ms gateway audit timeout): the gateway ends the call with
// callEnd 408.
func TestUnauditedCallExpires(t *testing.T) {
	e := newEnv(t, flavours[2], func(cfg *gateway.Config) { cfg.AuditTimeout = 300 * time.Millisecond },
		func(cfg *signal.Config) { cfg.AuditInterval = time.Minute })
	c, _ := e.mustEstablish(signal.CallOptions{})
	ctx := e.ctx()
	n, err := c.expect(ctx, signal.EventCallEnd)
	if err != nil {
		t.Fatal(err)
	}
	if n.StatusCode != 408 {
		t.Errorf("callEnd status %d %q, want 408", n.StatusCode, n.ReasonText)
	}
	if err := c.sess.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	c.close()
	if st := e.mustIdle(); st.CallsExpired != 1 {
		t.Errorf("gateway stats: %+v", st)
	}
}
