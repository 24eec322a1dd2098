package signal

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n"

func compressSDP(t *testing.T, sdp string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write([]byte(sdp)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// notif builds a notification frame.
func notif(t *testing.T, eventType, eventID, session string, extra map[string]any) string {
	t.Helper()
	sp := map[string]any{"sessionData": session}
	for k, v := range extra {
		sp[k] = v
	}
	m := map[string]any{"eventType": eventType, "sessionParams": sp}
	if eventID != "" {
		m["eventId"] = eventID
	}
	b, err := json.Marshal(map[string]any{"notificationMessage": m})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCallLifecycle runs a whole call in both modes against the scripted
// gateway with millisecond timers: pings, the audit loop, notifications of
// every kind (duplicate, compressed and url SDP, non-JSON frame, another
// session), hold, respond, custom headers, end, unsubscribe and close; and
// checks the headers and the tokenrealm query of every REST request.
func TestCallLifecycle(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		realm     string
		creds     Credentials
		opts      CallOptions
		wantPath  string // raw {U}
		wantTo    string
		wantFrom  string
		wantQuery string
	}{
		{
			name:     "regular",
			mode:     ModeRegular,
			creds:    RegularCredentials("callee one@example.com", "+1 (555) 010-0000@example.com"),
			opts:     CallOptions{DisplayName: "Load Tester", EarlyMedia: true, CustomParameters: []CustomParameter{{Name: "X-A", Value: "1"}}},
			wantPath: "callee%20one@example.com",
			wantTo:   "sip:callee one@example.com",
			wantFrom: "Load Tester<sip:+15550100000@example.com>",
		},
		{
			name:      "token",
			mode:      ModeToken,
			realm:     "realm test&x",
			creds:     TokenCredentials("ACC0123", "FROM0123", "TO0123"),
			opts:      CallOptions{CustomParameters: []CustomParameter{{Name: "X-A", Value: "1"}}},
			wantPath:  "ACC0123",
			wantTo:    "TO0123",
			wantFrom:  "FROM0123",
			wantQuery: "tokenrealm=realm+test%26x",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, nil)
			c := newTestClient(t, g, func(cfg *Config) {
				cfg.Mode, cfg.Realm = tc.mode, tc.realm
				cfg.PingInterval = 5 * time.Millisecond
				cfg.AuditInterval = 5 * time.Millisecond
				cfg.Version = "1.2.3"
			})
			ctx := context.Background()
			s := subscribe(t, c, tc.creds)
			if got := s.Subscription(); got.ChannelID != "ch-1" || got.Expires != 3600 || got.Path != "/rest/version/1/anonymous/"+tc.wantPath+"/subscription/sub-1" {
				t.Errorf("Subscription() = %+v", got)
			}
			if err := s.OpenWebsocket(ctx); err != nil {
				t.Fatalf("OpenWebsocket: %v", err)
			}
			if err := s.OpenWebsocket(ctx); asError(t, err).Kind != KindUsage {
				t.Errorf("second OpenWebsocket: %v, want a usage error", err)
			}
			conn := g.conn()
			for i := 0; i < 3; i++ { // the first at once, then every PingInterval
				if f := g.frame(); f != pingFrame {
					t.Fatalf("frame %d = %q, want %q", i, f, pingFrame)
				}
			}

			sid, err := s.StartCall(ctx, testOffer, tc.opts)
			if err != nil || sid != "sess-1" {
				t.Fatalf("StartCall = %q, %v", sid, err)
			}
			start := g.next("callStart")
			var body struct {
				CallMeRequest map[string]any `json:"callMeRequest"`
			}
			if err := json.Unmarshal(start.Body, &body); err != nil {
				t.Fatal(err)
			}
			cm := body.CallMeRequest
			if cm["to"] != tc.wantTo || cm["from"] != tc.wantFrom || cm["sdp"] != testOffer || cm["notifyChannelId"] != "ch-1" || cm["type"] != "callStart" {
				t.Errorf("callStart body %s", start.Body)
			}
			if _, has := cm["supported"]; has != tc.opts.EarlyMedia {
				t.Errorf("callStart body %s: supported present = %v, want %v", start.Body, has, tc.opts.EarlyMedia)
			}
			for i := 0; i < 3; i++ { // the audit loop: at once, then every AuditInterval
				if a := g.next("audit"); string(a.Body) != `{"callMeRequest":{"type":"audit"}}` {
					t.Errorf("audit body %s", a.Body)
				}
			}

			sdp := "v=0\r\nanswer\r\n"
			frames := []string{
				notif(t, "ringing", "e1", sid, nil),
				notif(t, "ringing", "e1", sid, nil), // duplicate eventId: dropped
				"this is not JSON",
				notif(t, "sessionProgress", "e2", sid, map[string]any{"sdp": compressSDP(t, sdp), "sdpFormat": "compressed"}),
				notif(t, "respondCallUpdate", "e3", sid, map[string]any{"sdp": "/sdp/e3", "sdpFormat": "url"}),
				notif(t, "respondCallUpdate", "e4", "other-session", map[string]any{"sdp": sdp}),
				notif(t, "startCallUpdate", "e5", sid, map[string]any{"sdp": sdp}),
			}
			for _, f := range frames {
				g.send(conn, f)
			}
			want := []struct {
				typ     EventType
				id, sd  string
				session string
			}{
				{EventRinging, "e1", "", sid},
				{EventSessionProgress, "e2", sdp, sid},
				{EventRespondCallUpdate, "e3", "v=0\r\nfetched", sid},
				{EventRespondCallUpdate, "e4", sdp, "other-session"},
				{EventStartCallUpdate, "e5", sdp, sid},
			}
			for _, w := range want {
				n := recv(t, s)
				if n.Type != w.typ || n.EventID != w.id || n.SDP != w.sd || n.SessionData != w.session || n.Err != nil {
					t.Errorf("notification %s/%s sdp %q session %s err %v, want %s/%s sdp %q session %s",
						n.Type, n.EventID, n.SDP, n.SessionData, n.Err, w.typ, w.id, w.sd, w.session)
				}
			}
			if st := s.Stats(); st.Duplicates != 1 || st.IgnoredFrames != 1 || st.Notifications != 5 {
				t.Errorf("stats %+v, want 1 duplicate, 1 ignored frame, 5 notifications", st)
			}

			if err := s.StartCallUpdate(ctx, "v=0\r\nhold\r\n"); err != nil {
				t.Fatalf("StartCallUpdate: %v", err)
			}
			if r := g.next("startCallUpdate"); string(r.Body) != `{"callMeRequest":{"type":"startCallUpdate","sdp":"v=0\r\nhold\r\n","customParameters":[{"name":"X-A","value":"1"}]}}` {
				t.Errorf("startCallUpdate body %s", r.Body)
			}
			if err := s.SendCustomHeaders(ctx, []CustomParameter{{Name: "X-B", Value: "<2>"}}); err != nil {
				t.Fatalf("SendCustomHeaders: %v", err)
			}
			if r := g.next("sendCustomHeaders"); string(r.Body) != `{"callMeRequest":{"type":"sendCustomHeaders","customParameters":[{"name":"X-B","value":"<2>"}]}}` {
				t.Errorf("sendCustomHeaders body %s", r.Body)
			}
			if err := s.RespondCallUpdate(ctx, "v=0\r\nanswer2\r\n"); err != nil {
				t.Fatalf("RespondCallUpdate: %v", err)
			}
			if r := g.next("respondCallUpdate"); string(r.Body) != `{"callMeRequest":{"type":"respondCallUpdate","sdp":"v=0\r\nanswer2\r\n","customParameters":[{"name":"X-B","value":"<2>"}]}}` {
				t.Errorf("respondCallUpdate body %s", r.Body)
			}
			if err := s.EndCall(ctx); err != nil {
				t.Fatalf("EndCall: %v", err)
			}
			if err := s.EndCall(ctx); asError(t, err).Kind != KindUsage {
				t.Errorf("second EndCall: %v, want a usage error", err)
			}
			if err := s.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe: %v", err)
			}
			s.Close()
			if code := g.closeCode(); code != websocket.CloseNoStatusReceived {
				t.Errorf("gateway saw close code %d, want 1005", code)
			}
			<-s.Done()
			if err := s.Err(); err != nil {
				t.Errorf("Err after Close = %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}

			reqs := g.requests()
			ended, lateAudits := false, 0
			for _, r := range reqs {
				if r.Route == "sdp" {
					continue // GET of an sdpFormat "url" SDP: the path as given, no query
				}
				if r.Route == "websocket" {
					if r.Query != "" {
						t.Errorf("websocket query %q, want none", r.Query)
					}
					continue
				}
				checkHeaders(t, r, AgentFor("1.2.3"), tc.wantQuery)
				if r.Header.Get("X-Cpaas-Agent") != "callme-js-sdk/5.2.0 loadgen/1.2.3" {
					t.Errorf("agent %q", r.Header.Get("X-Cpaas-Agent"))
				}
				if u := userOf(r.Path); u != tc.wantPath {
					t.Errorf("%s %s: path user %q, want %q", r.Method, r.Path, u, tc.wantPath)
				}
				if r.Route == "endCall" {
					ended = true
					if len(r.Body) != 0 {
						t.Errorf("DELETE with body %q", r.Body)
					}
				} else if ended && r.Route == "audit" {
					lateAudits++
				}
			}
			// EndCall stops the loop before the DELETE; at most an audit
			// already on the wire may be handled after it.
			if lateAudits > 1 {
				t.Errorf("%d audits reached the gateway after the DELETE of the call session", lateAudits)
			}
			if last := reqs[len(reqs)-1]; last.Route != "unsubscribe" || last.Path != "/rest/version/1/anonymous/"+tc.wantPath+"/subscription/sub-1" {
				t.Errorf("last request %s %s, want the unsubscribe DELETE", last.Method, last.Path)
			}
		})
	}
}

// TestAuditLoop checks the audit schedule's outcomes: retries after errors
// and timeouts, the stop on status 42 in callControlResponse with a
// synthetic EventAuditFailed, and no stop on 42 elsewhere (§8).
func TestAuditLoop(t *testing.T) {
	tests := []struct {
		name       string
		replies    []reply // answers to the first audits, then the default 200
		wantFailed bool    // EventAuditFailed expected after the scripted replies
		wantAudits int     // audits to wait for
	}{
		{"42 in callControlResponse stops the loop", []reply{{status: 404, body: `{"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}`}}, true, 1},
		{"42 after successes", []reply{{status: 200, body: `{}`}, {status: 204}, {status: 404, body: `{"callControlResponse":{"statusCode":42}}`}}, true, 3},
		{"42 in callMeResponse retries", []reply{{status: 404, body: `{"callMeResponse":{"statusCode":42}}`}}, false, 3},
		{"500 retries", []reply{{status: 500, body: `{"callControlResponse":{"statusCode":26}}`}, {status: 500, ctype: "text/html", body: "<html>"}}, false, 4},
		{"empty 200 retries", []reply{{status: 200}}, false, 3},
		{"timeout retries", []reply{{hang: true}}, false, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			replies := make(chan reply, len(tc.replies))
			for _, r := range tc.replies {
				replies <- r
			}
			g := newGateway(t, func(r gwRequest) reply {
				if r.Route == "audit" {
					select {
					case rep := <-replies:
						return rep
					default:
					}
				}
				return reply{}
			})
			c := newTestClient(t, g, func(cfg *Config) {
				cfg.AuditInterval = 2 * time.Millisecond
				cfg.AuditRetry = 2 * time.Millisecond
				cfg.AuditTimeoutRetry = 2 * time.Millisecond
				cfg.AuditTimeout = 50 * time.Millisecond
			})
			s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
			if err := s.OpenWebsocket(context.Background()); err != nil {
				t.Fatal(err)
			}
			sid, err := s.StartCall(context.Background(), testOffer, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.wantAudits; i++ {
				g.next("audit")
			}
			if !tc.wantFailed {
				s.stopAudit()
				if st := s.Stats(); st.AuditsFailed < int64(len(tc.replies)) {
					t.Errorf("stats %+v: want at least %d failed audits", st, len(tc.replies))
				}
				return
			}
			n := recv(t, s)
			if n.Type != EventAuditFailed || n.StatusCode != 42 || n.SessionData != sid || n.ReasonText == "" {
				t.Errorf("notification %+v, want EventAuditFailed 42 for %s", n, sid)
			}
			if e := asError(t, n.Err); e.Step != StepAudit || e.Code != 42 || e.HTTPStatus != 404 {
				t.Errorf("EventAuditFailed.Err = %v", n.Err)
			}
			s.stopAudit() // the loop has already returned; this only waits
			audits := 0
			for _, r := range g.requests() {
				if r.Route == "audit" {
					audits++
				}
			}
			if audits != tc.wantAudits {
				t.Errorf("%d audits sent, want %d (the loop must stop at 42)", audits, tc.wantAudits)
			}
		})
	}
}

// TestRefreshTimer checks the automatic refresh (§12): body echoing the
// grant (no expires when the grant had none), retry after a failure.
func TestRefreshTimer(t *testing.T) {
	fail := make(chan struct{}, 1)
	fail <- struct{}{}
	g := newGateway(t, func(r gwRequest) reply {
		if r.Route == "refresh" {
			select {
			case <-fail:
				return reply{status: 500, body: `{"subscribeResponse":{"statusCode":26}}`}
			default:
			}
		}
		return reply{}
	})
	g.expires = 0 // no subscriptionParams.expires: wait = the floor
	c := newTestClient(t, g, func(cfg *Config) { cfg.RefreshFloor = 2 * time.Millisecond })
	s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
	for i := 0; i < 3; i++ {
		r := g.next("refresh")
		if r.Method != "PUT" || r.Path != "/rest/version/1/anonymous/callee@example.com/subscription/sub-1" {
			t.Errorf("refresh %s %s", r.Method, r.Path)
		}
		if got, want := string(r.Body), `{"subscribeRequest":{"service":["callMe"],"localization":"English_US","useTurn":true,"notificationType":"WebSocket"}}`; got != want {
			t.Errorf("refresh body %s, want %s", got, want)
		}
	}
	if err := s.Unsubscribe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.RefreshFailures != 1 || st.Refreshes < 1 || s.RefreshErr() != nil {
		t.Errorf("stats %+v, RefreshErr %v: want 1 failure then successes", st, s.RefreshErr())
	}
	if err := s.RefreshSubscription(context.Background()); asError(t, err).Kind != KindUsage {
		t.Errorf("RefreshSubscription after Unsubscribe: %v", err)
	}
}

func TestRefreshDelay(t *testing.T) {
	tests := []struct {
		expires int
		div     int64
		floor   time.Duration
		want    time.Duration
	}{
		{3600, 2, 30 * time.Second, 30 * time.Minute},
		{70, 2, 30 * time.Second, 35 * time.Second},
		{70, 4, 30 * time.Second, 30 * time.Second},
		{0, 2, 30 * time.Second, 30 * time.Second},
		{3600, 1 << 40, 30 * time.Second, 30 * time.Second},
	}
	for _, tc := range tests {
		if got := refreshDelay(tc.expires, tc.div, tc.floor); got != tc.want {
			t.Errorf("refreshDelay(%d, %d, %v) = %v, want %v", tc.expires, tc.div, tc.floor, got, tc.want)
		}
	}
}

// TestBadGateway: each kind of bad gateway behaviour gives an *Error with
// the exact step, kind, HTTP status and SPiDR code.
func TestBadGateway(t *testing.T) {
	json200 := func(body string) reply { return reply{status: 200, body: body} }
	sub := func(params string) reply {
		return json200(`{"subscribeResponse":{"statusCode":0,"subscription":"/rest/version/1/anonymous/u/subscription/s","subscriptionParams":` + params + `}}`)
	}
	tests := []struct {
		name     string
		route    string // the request to script
		rep      reply
		step     Step
		kind     ErrorKind
		httpCode int
		code     int
	}{
		{"500 JSON", "subscribe", reply{status: 500, body: `{"subscribeResponse":{"statusCode":26,"reason":"Internal"}}`}, StepSubscribe, KindHTTPStatus, 500, 26},
		{"500 HTML", "subscribe", reply{status: 500, ctype: "text/html", body: "<html><body>oops</body></html>"}, StepSubscribe, KindHTTPStatus, 500, 0},
		{"403 authorizationResponse 46", "subscribe", reply{status: 403, body: `{"authorizationResponse":{"statusCode":46,"reason":"Invalid CallMe token"}}`}, StepSubscribe, KindTokenRejected, 403, 46},
		{"403 HTML", "subscribe", reply{status: 403, ctype: "text/html", body: "<html>Forbidden</html>"}, StepSubscribe, KindTokenRejected, 403, 0},
		{"404 statusCode 64 reason", "subscribe", reply{status: 404, body: `{"statusCode":64,"reason":"Invalid CallMe realm"}`}, StepSubscribe, KindTokenRejected, 404, 64},
		{"400 token expired 65", "subscribe", reply{status: 400, body: `{"authorizationResponse":{"statusCode":"65"}}`}, StepSubscribe, KindTokenRejected, 400, 65},
		{"503 retryAfter", "subscribe", reply{status: 503, body: `{"subscribeResponse":{"statusCode":503,"retryAfter":2000}}`}, StepSubscribe, KindHTTPStatus, 503, 503},
		{"non-JSON 200", "subscribe", json200("OK"), StepSubscribe, KindBadResponse, 200, 0},
		{"empty 200", "subscribe", json200(""), StepSubscribe, KindBadResponse, 200, 0},
		{"204 subscription", "subscribe", reply{status: 204}, StepSubscribe, KindBadResponse, 204, 0},
		{"body over 1 MiB", "subscribe", json200(`{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`), StepSubscribe, KindBadResponse, 200, 0},
		{"no subscribeResponse", "subscribe", json200(`{"callMeResponse":{}}`), StepSubscribe, KindBadResponse, 200, 0},
		{"service without callMe", "subscribe", sub(`{"notificationChannel":"/rest/version/1/anonymous/u/websocket/c","service":["CallMe"]}`), StepSubscribe, KindBadResponse, 200, 0},
		{"service not an array", "subscribe", sub(`{"notificationChannel":"/rest/version/1/anonymous/u/websocket/c","service":"callMe"}`), StepSubscribe, KindBadResponse, 200, 0},
		{"notificationChannel without /websocket/", "subscribe", sub(`{"notificationChannel":"/rest/version/1/anonymous/u/notify/c","service":["callMe"]}`), StepSubscribe, KindBadResponse, 200, 0},
		{"notificationChannel full URL", "subscribe", sub(`{"notificationChannel":"ws://h:1/rest/version/1/anonymous/u/websocket/c","service":["callMe"]}`), StepSubscribe, KindBadResponse, 200, 0},
		{"subscription not a path", "subscribe", json200(`{"subscribeResponse":{"subscription":"http://h/x","subscriptionParams":{"notificationChannel":"/a/websocket/c","service":["callMe"]}}}`), StepSubscribe, KindBadResponse, 200, 0},
		{"websocket upgrade refused 404", "websocket", reply{status: 404, ctype: "text/plain", body: "not found"}, StepWebsocket, KindHTTPStatus, 404, 0},
		{"websocket upgrade hangs", "websocket", reply{hang: true}, StepWebsocket, KindTimeout, 0, 0},
		{"websocket upgrade refused 403", "websocket", reply{status: 403, body: `{"authorizationResponse":{"statusCode":46}}`}, StepWebsocket, KindTokenRejected, 403, 46},
		{"callStart 200 without sessionData", "callStart", json200(`{"callMeResponse":{"statusCode":0}}`), StepCallStart, KindBadResponse, 200, 0},
		{"callStart non-JSON 200", "callStart", json200("<html>ok</html>"), StepCallStart, KindBadResponse, 200, 0},
		{"callStart 204", "callStart", reply{status: 204}, StepCallStart, KindBadResponse, 204, 0},
		{"callStart 403 callMeResponse 46", "callStart", reply{status: 403, body: `{"callMeResponse":{"statusCode":46,"reason":"Invalid CallMe token"}}`}, StepCallStart, KindTokenRejected, 403, 46},
		{"callStart 500 callControlResponse", "callStart", reply{status: 500, body: `{"callControlResponse":{"statusCode":26,"reason":"Request failed"}}`}, StepCallStart, KindHTTPStatus, 500, 26},
		{"callStart hangs", "callStart", reply{hang: true}, StepCallStart, KindTimeout, 0, 0},
		{"subscribe hangs", "subscribe", reply{hang: true}, StepSubscribe, KindTimeout, 0, 0},
		{"audit empty 200", "audit", json200(""), StepAudit, KindBadResponse, 200, 0},
		{"audit 404 callControlResponse 42", "audit", reply{status: 404, body: `{"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}`}, StepAudit, KindHTTPStatus, 404, 42},
		{"update empty 200", "startCallUpdate", json200(""), StepUpdate, KindBadResponse, 200, 0},
		{"update 500 message", "startCallUpdate", reply{status: 500, body: `{"message":"boom"}`}, StepUpdate, KindHTTPStatus, 500, 0},
		{"endCall 404 42", "endCall", reply{status: 404, body: `{"callControlResponse":{"statusCode":42}}`}, StepEndCall, KindHTTPStatus, 404, 42},
		{"unsubscribe non-JSON 200", "unsubscribe", json200("deleted"), StepUnsubscribe, KindBadResponse, 200, 0},
		{"unsubscribe 404 39", "unsubscribe", reply{status: 404, body: `{"subscribeResponse":{"statusCode":39}}`}, StepUnsubscribe, KindHTTPStatus, 404, 39},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, func(r gwRequest) reply {
				if r.Route == tc.route {
					return tc.rep
				}
				return reply{}
			})
			c := newTestClient(t, g, func(cfg *Config) {
				cfg.RequestTimeout = 300 * time.Millisecond
				cfg.AuditTimeout = 100 * time.Millisecond
			})
			err := runCall(t, c)
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			if e.Step != tc.step || e.Kind != tc.kind || e.HTTPStatus != tc.httpCode || e.Code != tc.code {
				t.Errorf("error %v\n got step %s kind %v HTTP %d code %d\nwant step %s kind %v HTTP %d code %d",
					err, e.Step, e.Kind, e.HTTPStatus, e.Code, tc.step, tc.kind, tc.httpCode, tc.code)
			}
			if !strings.HasPrefix(err.Error(), "signal: "+string(tc.step)+": "+tc.kind.String()) {
				t.Errorf("message %q does not name the step and kind", err)
			}
		})
	}
}

// runCall runs a whole local-end call and returns the first error.
func runCall(t *testing.T, c *Client) error {
	t.Helper()
	ctx := context.Background()
	s, err := c.Subscribe(ctx, RegularCredentials("u", "caller@example.com"))
	if err != nil {
		return err
	}
	defer s.Close()
	steps := []func() error{
		func() error { return s.OpenWebsocket(ctx) },
		func() error { _, err := s.StartCall(ctx, testOffer, CallOptions{}); return err },
		func() error { return s.Audit(ctx) },
		func() error { return s.StartCallUpdate(ctx, testOffer) },
		func() error { return s.EndCall(ctx) },
		func() error { return s.Unsubscribe(ctx) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// TestIgnoredBodies: the body of a 2xx DELETE callSessions is ignored, and
// 204 is accepted everywhere else a body is optional.
func TestIgnoredBodies(t *testing.T) {
	g := newGateway(t, func(r gwRequest) reply {
		switch r.Route {
		case "endCall":
			return reply{status: 200, ctype: "text/plain", body: "bye"}
		case "audit", "startCallUpdate", "unsubscribe":
			return reply{status: 204}
		}
		return reply{}
	})
	c := newTestClient(t, g, nil)
	if err := runCall(t, c); err != nil {
		t.Fatalf("call failed: %v", err)
	}
}

// TestWebsocketDropped: a socket the gateway ends mid-call closes Done and
// Notifications, and Err says the websocket dropped.
func TestWebsocketDropped(t *testing.T) {
	tests := []struct {
		name string
		drop func(g *fakeGateway, c *websocket.Conn)
		want string
	}{
		{"abrupt close", func(g *fakeGateway, c *websocket.Conn) { c.Close() }, "websocket dropped"},
		{"close frame 1000", func(g *fakeGateway, c *websocket.Conn) {
			g.wsMu.Lock()
			defer g.wsMu.Unlock()
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
		}, "gateway closed the websocket"},
		{"oversized frame", func(g *fakeGateway, c *websocket.Conn) {
			g.wsMu.Lock()
			defer g.wsMu.Unlock()
			// The client may reset the connection before the write ends.
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"notificationMessage":{"eventType":"ringing","x":"`+strings.Repeat("a", MaxBodyBytes)+`"}}`))
		}, "websocket dropped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, nil)
			c := newTestClient(t, g, nil)
			s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
			if err := s.OpenWebsocket(context.Background()); err != nil {
				t.Fatal(err)
			}
			conn := g.conn()
			if _, err := s.StartCall(context.Background(), testOffer, CallOptions{}); err != nil {
				t.Fatal(err)
			}
			tc.drop(g, conn)
			select {
			case <-s.Done():
			case <-time.After(waitLimit):
				t.Fatal("Done not closed after the gateway dropped the socket")
			}
			if _, ok := <-s.Notifications(); ok {
				t.Error("Notifications not closed")
			}
			e := asError(t, s.Err())
			if e.Step != StepWebsocket || e.Kind != KindWebsocketDropped || !strings.Contains(e.Error(), tc.want) {
				t.Errorf("Err() = %v, want step websocket, kind websocket dropped, %q", e, tc.want)
			}
		})
	}
}

// TestIgnoredFrames: frames that are not JSON notifications are counted
// and skipped; the next notification still arrives; missing eventIds
// follow §5.5 (the first is processed, later ones are duplicates).
func TestIgnoredFrames(t *testing.T) {
	g := newGateway(t, nil)
	c := newTestClient(t, g, nil)
	s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
	if err := s.OpenWebsocket(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn := g.conn()
	for _, f := range []string{"not json", `{"connAck":true}`, `{"notificationMessage":{"eventId":"x"}}`, `[1,2]`, `{"notificationMessage":"str"}`} {
		g.send(conn, f)
	}
	g.wsMu.Lock()
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte(`{"notificationMessage":{"eventType":"ringing"}}`)); err != nil {
		t.Fatal(err)
	}
	g.wsMu.Unlock()
	g.send(conn, notif(t, "ringing", "", "S", nil))
	g.send(conn, notif(t, "respondCallUpdate", "", "S", nil)) // second missing id: dropped
	g.send(conn, notif(t, "callEnd", "e9", "S", map[string]any{"statusCode": 486, "reasonText": "Busy"}))
	if n := recv(t, s); n.Type != EventRinging || n.EventID != "" {
		t.Errorf("first notification %+v", n)
	}
	if n := recv(t, s); n.Type != EventCallEnd || n.StatusCode != 486 || n.ReasonText != "Busy" {
		t.Errorf("second notification %+v, want callEnd 486 Busy", n)
	}
	if st := s.Stats(); st.IgnoredFrames != 6 || st.Duplicates != 1 || st.FramesReceived != 9 {
		t.Errorf("stats %+v, want 6 ignored, 1 duplicate, 9 frames", st)
	}
}

func TestSDPFormats(t *testing.T) {
	g := newGateway(t, func(r gwRequest) reply {
		if r.Route == "sdp" && r.Path == "/sdp/missing" {
			return reply{status: 404, body: `{"message":"gone"}`}
		}
		return reply{}
	})
	c := newTestClient(t, g, nil)
	s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
	if err := s.OpenWebsocket(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn := g.conn()
	tests := []struct {
		name    string
		params  map[string]any
		wantSDP string
		wantErr bool
	}{
		{"plain", map[string]any{"sdp": "v=0\r\n"}, "v=0\r\n", false},
		{"compressed", map[string]any{"sdp": compressSDP(t, "v=0\r\nz\r\n"), "sdpFormat": "compressed"}, "v=0\r\nz\r\n", false},
		{"compressed garbage", map[string]any{"sdp": "!!!", "sdpFormat": "compressed"}, "", true},
		{"compressed not zlib", map[string]any{"sdp": base64.StdEncoding.EncodeToString([]byte("plain")), "sdpFormat": "compressed"}, "", true},
		{"url", map[string]any{"sdp": "/sdp/1", "sdpFormat": "url"}, "v=0\r\nfetched", false},
		{"url 404", map[string]any{"sdp": "/sdp/missing", "sdpFormat": "url"}, "", true},
		{"unknown format", map[string]any{"sdp": "x", "sdpFormat": "carrier-pigeon"}, "", true},
	}
	for i, tc := range tests {
		g.send(conn, notif(t, "respondCallUpdate", fmt.Sprint(i), "S", tc.params))
		n := recv(t, s)
		if n.SDP != tc.wantSDP || (n.Err != nil) != tc.wantErr {
			t.Errorf("%s: SDP %q err %v, want %q (error %v)", tc.name, n.SDP, n.Err, tc.wantSDP, tc.wantErr)
		}
	}
}

// TestTransportErrors: connection refused, TLS certificate checks on by
// default (and the opt-out), canceled contexts.
func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		g := newGateway(t, nil)
		base := g.srv.URL
		g.srv.Close() // nothing listens there any more
		c, err := NewClient(Config{BaseURL: base, RequestTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Subscribe(context.Background(), RegularCredentials("callee@example.com", "caller@example.com"))
		if e := asError(t, err); e.Step != StepSubscribe || e.Kind != KindTransport || !strings.Contains(e.Error(), "refused") {
			t.Errorf("error %v, want a transport error at subscribe saying refused", err)
		}
	})
	t.Run("self-signed certificate refused", func(t *testing.T) {
		g := startGateway(t, nil, true)
		c := newTestClient(t, g, nil)
		_, err := c.Subscribe(context.Background(), RegularCredentials("callee@example.com", "caller@example.com"))
		if e := asError(t, err); e.Step != StepSubscribe || e.Kind != KindTransport || !strings.Contains(e.Error(), "certificate") {
			t.Errorf("error %v, want a certificate error", err)
		}
	})
	t.Run("InsecureSkipVerify", func(t *testing.T) {
		g := startGateway(t, nil, true)
		c := newTestClient(t, g, func(cfg *Config) { cfg.InsecureSkipVerify = true })
		if !strings.HasPrefix(c.wsBase, "wss://") {
			t.Errorf("ws base %q, want wss://", c.wsBase)
		}
		if err := runCall(t, c); err != nil {
			t.Fatalf("call over TLS: %v", err)
		}
	})
	t.Run("canceled before", func(t *testing.T) {
		g := newGateway(t, nil)
		c := newTestClient(t, g, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Subscribe(ctx, RegularCredentials("callee@example.com", "caller@example.com"))
		if e := asError(t, err); e.Kind != KindCanceled || !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want canceled", err)
		}
	})
	t.Run("canceled while waiting", func(t *testing.T) {
		g := newGateway(t, func(r gwRequest) reply {
			if r.Route == "callStart" {
				return reply{hang: true}
			}
			return reply{}
		})
		c := newTestClient(t, g, nil)
		s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			g.next("callStart")
			cancel()
		}()
		_, err := s.StartCall(ctx, testOffer, CallOptions{})
		if e := asError(t, err); e.Step != StepCallStart || e.Kind != KindCanceled {
			t.Errorf("error %v, want canceled at callStart", err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		g := newGateway(t, func(r gwRequest) reply { return reply{hang: true} })
		c := newTestClient(t, g, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Subscribe(ctx, RegularCredentials("callee@example.com", "caller@example.com"))
		if e := asError(t, err); e.Kind != KindTimeout {
			t.Errorf("error %v, want timeout", err)
		}
	})
}

// TestUsageErrors: calls in the wrong state or with bad arguments send
// nothing and return KindUsage.
func TestUsageErrors(t *testing.T) {
	g := newGateway(t, nil)
	ctx := context.Background()
	reg := newTestClient(t, g, nil)
	tok := newTestClient(t, g, func(cfg *Config) { cfg.Mode, cfg.Realm = ModeToken, "r" })
	s := subscribe(t, reg, RegularCredentials("callee@example.com", "caller@example.com"))
	ts := subscribe(t, tok, TokenCredentials("A", "F", "T"))
	noFrom := subscribe(t, reg, RegularCredentials("callee@example.com", " "))
	before := len(g.requests())
	tests := []struct {
		name string
		step Step
		run  func() error
	}{
		{"empty path user", StepSubscribe, func() error { _, err := reg.Subscribe(ctx, Credentials{}); return err }},
		{"audit before start", StepAudit, func() error { return s.Audit(ctx) }},
		{"update before start", StepUpdate, func() error { return s.StartCallUpdate(ctx, testOffer) }},
		{"respond before start", StepRespond, func() error { return s.RespondCallUpdate(ctx, testOffer) }},
		{"headers before start", StepCustomHeaders, func() error { return s.SendCustomHeaders(ctx, []CustomParameter{{"X", "1"}}) }},
		{"end before start", StepEndCall, func() error { return s.EndCall(ctx) }},
		{"empty offer", StepCallStart, func() error { _, err := s.StartCall(ctx, "", CallOptions{}); return err }},
		{"no caller", StepCallStart, func() error { _, err := noFrom.StartCall(ctx, testOffer, CallOptions{}); return err }},
		{"display name in token mode", StepCallStart, func() error {
			_, err := ts.StartCall(ctx, testOffer, CallOptions{DisplayName: "X"})
			return err
		}},
	}
	for _, tc := range tests {
		if e := asError(t, tc.run()); e.Kind != KindUsage || e.Step != tc.step {
			t.Errorf("%s: %v, want a usage error at %s", tc.name, e, tc.step)
		}
	}
	if after := len(g.requests()); after != before {
		t.Errorf("usage errors sent %d requests", after-before)
	}
	if _, err := s.StartCall(ctx, testOffer, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartCall(ctx, testOffer, CallOptions{}); asError(t, err).Kind != KindUsage {
		t.Errorf("second StartCall: %v", err)
	}
	s.Close()
	if err := s.OpenWebsocket(ctx); asError(t, err).Kind != KindUsage {
		t.Errorf("OpenWebsocket after Close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed by Close without a websocket")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}

// TestSharedClientKeepAlive: one Client serves many calls, sequential and
// concurrent, over kept-alive REST connections (each call still has its
// own websocket connection).
func TestSharedClientKeepAlive(t *testing.T) {
	g := newGateway(t, nil)
	c := newTestClient(t, g, nil)
	const calls = 10
	for i := 0; i < calls; i++ {
		if err := runCall(t, c); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// 10 websockets + a few REST connections (the audit loop runs beside
	// the caller, so two requests can be in flight at once); without
	// keep-alive it would be one per request, over 60.
	if n := g.newConns.Load(); n > calls+5 {
		t.Errorf("%d TCP connections for %d sequential calls: keep-alive not used", n, calls)
	}
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		go func() { errs <- runCall(t, c) }()
	}
	for i := 0; i < calls; i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent call: %v", err)
		}
	}
}

// TestCloseUndrained: Close returns even when nobody reads the
// notifications and the channel is full.
func TestCloseUndrained(t *testing.T) {
	g := newGateway(t, nil)
	c := newTestClient(t, g, func(cfg *Config) { cfg.NotificationBuffer = 1 })
	s := subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
	if err := s.OpenWebsocket(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn := g.conn()
	for i := 0; i < 3; i++ {
		g.send(conn, notif(t, "ringing", fmt.Sprint(i), "S", nil))
	}
	deadline := time.Now().Add(waitLimit)
	for s.Stats().FramesReceived < 2 { // one buffered, one blocked in delivery
		if time.Now().After(deadline) {
			t.Fatal("frames not read")
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(waitLimit):
		t.Fatal("Close blocked on an undrained notification channel")
	}
	if code := g.closeCode(); code != websocket.CloseNoStatusReceived {
		t.Errorf("close code %d, want 1005", code)
	}
}

func TestAgentHeader(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "callme-js-sdk/5.2.0 loadgen/dev"},
		{Config{Version: "v0.3.1"}, "callme-js-sdk/5.2.0 loadgen/v0.3.1"},
		{Config{Agent: "callme-js-sdk/5.2.0", Version: "ignored"}, "callme-js-sdk/5.2.0"},
	}
	for _, tc := range tests {
		g := newGateway(t, nil)
		c := newTestClient(t, g, func(cfg *Config) { cfg.Agent, cfg.Version = tc.cfg.Agent, tc.cfg.Version })
		subscribe(t, c, RegularCredentials("callee@example.com", "caller@example.com"))
		if got := g.next("subscribe").Header.Get("X-Cpaas-Agent"); got != tc.want {
			t.Errorf("agent %q, want %q", got, tc.want)
		}
	}
}
