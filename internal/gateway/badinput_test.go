package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBadInputs(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxBodyBytes = 4096
		c.NewAnswerer = func() (Answerer, error) { return stubAnswerer{}, nil }
	})
	const user = "callee@example.com"
	s := h.subscribe(user, "")
	other := h.subscribe("someone-else@example.com", "")
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	id := h.start(s, "sip:"+user, "sip:caller@example.com", sdp, nil)
	base := userBase(user)
	call := func(fields map[string]any) string {
		data, err := json.Marshal(map[string]any{"callMeRequest": fields})
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	start := func(drop string, set map[string]any) string {
		req := map[string]any{"type": "callStart", "to": "sip:" + user, "from": "sip:caller@example.com", "sdp": sdp, "notifyChannelId": s.channel}
		delete(req, drop)
		for k, v := range set {
			req[k] = v
		}
		return call(req)
	}
	cc := func(status int, code int, reason string) (int, string) {
		data, _ := json.Marshal(map[string]any{"callControlResponse": map[string]any{"statusCode": code, "reason": reason}})
		return status, string(data)
	}
	sr := func(status int, code int, reason string) (int, string) {
		data, _ := json.Marshal(map[string]any{"subscribeResponse": map[string]any{"statusCode": code, "reason": reason}})
		return status, string(data)
	}
	type want struct {
		status int
		body   string
	}
	w := func(status int, body string) want { return want{status, body} }
	tests := []struct {
		name, method, path string
		body               string
		want               want
		allow              string
	}{
		{"subscription malformed JSON", "POST", base + "/subscription", `{"subscribeRequest":`, w(sr(400, 5, "Invalid or missing request body")), ""},
		{"subscription empty body", "POST", base + "/subscription", ``, w(sr(400, 5, "Invalid or missing request body")), ""},
		{"subscription without subscribeRequest", "POST", base + "/subscription", `{}`, w(sr(400, 5, "Missing subscribeRequest")), ""},
		{"subscription without callMe service", "POST", base + "/subscription", strings.Replace(subscribeBody, `"callMe"`, `"call"`, 1), w(sr(403, 35, "Service not enabled")), ""},
		{"subscription negative expires", "POST", base + "/subscription", strings.Replace(subscribeBody, "3600", "-1", 1), w(sr(400, 37, "Invalid value: expires")), ""},
		{"subscription wrong field type", "POST", base + "/subscription", `{"subscribeRequest":{"expires":"soon","service":["callMe"]}}`, w(sr(400, 5, "Invalid or missing request body")), ""},
		{"unknown subscription refresh", "PUT", base + "/subscription/00000000-0000-4000-8000-000000000000", subscribeBody, w(sr(404, 39, "Subscription does not exist")), ""},
		{"unknown subscription delete", "DELETE", base + "/subscription/nope", "", w(sr(404, 39, "Subscription does not exist")), ""},
		{"subscription of another user", "DELETE", other.path[:strings.Index(other.path, "/anonymous/")] + "/anonymous/" + user + other.path[strings.LastIndex(other.path, "/subscription/"):], "", w(sr(404, 39, "Subscription does not exist")), ""},
		{"GET subscription", "GET", base + "/subscription", "", w(sr(405, 1004, "Method not allowed")), "POST, OPTIONS"},
		{"POST subscription resource", "POST", s.path, subscribeBody, w(sr(405, 1004, "Method not allowed")), "PUT, DELETE, OPTIONS"},
		{"callMe malformed JSON", "POST", base + "/callMe", `{"callMeRequest":{"type":"callStart",`, w(cc(400, 5, "Invalid or missing request body")), ""},
		{"callMe empty body", "POST", base + "/callMe", ``, w(cc(400, 5, "Invalid or missing request body")), ""},
		{"callMe without callMeRequest", "POST", base + "/callMe", `{"other":1}`, w(cc(400, 5, "Missing callMeRequest")), ""},
		{"callStart missing to", "POST", base + "/callMe", start("to", nil), w(cc(400, 5, "Missing callMeRequest.to")), ""},
		{"callStart missing from", "POST", base + "/callMe", start("from", nil), w(cc(400, 5, "Missing callMeRequest.from")), ""},
		{"callStart missing sdp", "POST", base + "/callMe", start("sdp", nil), w(cc(400, 5, "Missing callMeRequest.sdp")), ""},
		{"callStart missing notifyChannelId", "POST", base + "/callMe", start("notifyChannelId", nil), w(cc(400, 5, "Missing callMeRequest.notifyChannelId")), ""},
		{"callStart not an SDP", "POST", base + "/callMe", start("", map[string]any{"sdp": "hello"}), w(cc(400, 37, "Invalid value: sdp")), ""},
		{"callStart another subscription's channel", "POST", base + "/callMe", start("", map[string]any{"notifyChannelId": other.channel}), w(cc(400, 37, "Invalid value: notifyChannelId")), ""},
		{"callStart unknown channel", "POST", base + "/callMe", start("", map[string]any{"notifyChannelId": "nope"}), w(cc(400, 37, "Invalid value: notifyChannelId")), ""},
		{"callMe missing type", "POST", base + "/callMe", start("type", nil), w(cc(400, 5, "Missing callMeRequest.type")), ""},
		{"callMe unsupported type", "POST", base + "/callMe", start("", map[string]any{"type": "callStop"}), w(cc(400, 37, "Invalid value: type")), ""},
		{"callMe transfer refused", "POST", base + "/callMe", start("", map[string]any{"type": "transfer"}), w(cc(403, 1004, "Operation transfer is not available to anonymous calls")), ""},
		{"GET callMe", "GET", base + "/callMe", "", w(cc(405, 1004, "Method not allowed")), "POST, OPTIONS"},
		{"oversized callStart", "POST", base + "/callMe", start("", map[string]any{"sdp": sdp + strings.Repeat("a=x\r\n", 1000)}), w(cc(413, 5, "Request body too large")), ""},
		{"oversized subscription", "POST", base + "/subscription", subscribeBody + strings.Repeat(" ", 5000), w(sr(413, 5, "Request body too large")), ""},
		{"audit unknown session", "PUT", base + "/callMe/callSessions/unknown", `{"callMeRequest":{"type":"audit"}}`, w(cc(404, 42, "Resource does not exist")), ""},
		{"delete unknown session", "DELETE", base + "/callMe/callSessions/unknown", "", w(cc(404, 42, "Resource does not exist")), ""},
		{"session of another path user", "PUT", userBase("someone-else@example.com") + "/callMe/callSessions/" + id, `{"callMeRequest":{"type":"audit"}}`, w(cc(404, 42, "Resource does not exist")), ""},
		{"session malformed JSON", "PUT", s.sessionPath(id), `{"callMeRequest"`, w(cc(400, 5, "Invalid or missing request body")), ""},
		{"session unsupported type", "PUT", s.sessionPath(id), `{"callMeRequest":{"type":"dance"}}`, w(cc(400, 37, "Invalid value: type")), ""},
		{"session join refused", "PUT", s.sessionPath(id), `{"callMeRequest":{"type":"join"}}`, w(cc(403, 1004, "Operation join is not available to anonymous calls")), ""},
		{"session answer refused", "PUT", s.sessionPath(id), `{"callMeRequest":{"type":"answer"}}`, w(cc(403, 1004, "Operation answer is not available to anonymous calls")), ""},
		{"startCallUpdate without sdp", "PUT", s.sessionPath(id), `{"callMeRequest":{"type":"startCallUpdate"}}`, w(cc(400, 5, "Missing callMeRequest.sdp")), ""},
		{"GET callSessions refused", "GET", s.sessionPath(id), "", w(cc(405, 1004, "Method not allowed")), "PUT, DELETE, OPTIONS"},
		{"POST callSessions", "POST", s.sessionPath(id), `{}`, w(cc(405, 1004, "Method not allowed")), "PUT, DELETE, OPTIONS"},
		{"transfer sub-resource refused", "POST", s.sessionPath(id) + "/transfer", `{}`, w(cc(403, 1004, "Operation not available to anonymous calls")), ""},
		{"unknown path", "GET", "/index.html", "", w(cc(404, 1004, "Unknown resource")), ""},
		{"unknown version", "POST", "/rest/version/2/anonymous/" + user + "/subscription", subscribeBody, w(cc(404, 1004, "Unknown resource")), ""},
		{"registered-user path", "POST", "/rest/version/1/user/" + user + "/subscription", subscribeBody, w(cc(404, 1004, "Unknown resource")), ""},
		{"unknown anonymous resource", "GET", base + "/presence", "", w(cc(404, 1004, "Unknown resource")), ""},
		{"websocket unknown channel (plain GET)", "GET", base + "/websocket/nope", "", w(sr(404, 39, "Notification channel does not exist")), ""},
		{"websocket known channel without upgrade", "GET", s.channelPath, "", w(sr(400, 5, "Websocket upgrade required")), ""},
		{"websocket channel under another user", "GET", base + "/websocket/" + other.channel, "", w(sr(404, 39, "Notification channel does not exist")), ""},
		{"websocket POST", "POST", s.channelPath, "", w(sr(405, 1004, "Method not allowed")), "GET, OPTIONS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := h.do(tt.method, tt.path, body)
			r.expect(t, tt.name, tt.want.status, tt.want.body)
			if tt.allow != "" && r.header.Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", r.header.Get("Allow"), tt.allow)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
	// The gateway keeps serving after all of that.
	h.put(s, id, map[string]any{"type": "audit"})
	if st := h.g.Stats(); st.Sessions != 1 || st.Subscriptions != 2 {
		t.Errorf("stats after bad inputs = %+v, want 2 subscriptions and 1 session", st)
	}
}

func TestWebsocketUnknownChannel(t *testing.T) {
	h := newHarness(t, nil)
	s := h.subscribe("callee@example.com", "")
	for _, path := range []string{
		userBase("callee@example.com") + "/websocket/00000000-0000-4000-8000-000000000000",
		userBase("other@example.com") + "/websocket/" + s.channel,
	} {
		_, res, err := h.dial(path)
		if err == nil {
			t.Fatalf("dial %s succeeded, want a refused handshake", path)
		}
		if res == nil || res.StatusCode != http.StatusNotFound {
			t.Fatalf("dial %s: response %v, want 404", path, res)
		}
		var body map[string]any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || dig(body, "subscribeResponse", "statusCode") != 39.0 {
			t.Errorf("dial %s: body %v (%v), want subscribeResponse 39", path, body, err)
		}
		res.Body.Close()
	}
	// A reconnect to a known channel replaces the previous socket.
	ws1 := h.mustDial(s.channelPath)
	ws2 := h.mustDial(s.channelPath)
	if code := ws1.waitClosed(); code != 1000 {
		t.Errorf("replaced socket close code = %d, want 1000", code)
	}
	// Binary and non-JSON frames are ignored, never answered.
	if err := ws2.conn.WriteMessage(2, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := ws2.conn.WriteMessage(1, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	ws2.quiet(50 * time.Millisecond)
	h.waitStats("one socket", func(st Stats) bool { return st.Sockets == 1 })
}

// TestRoutingEdges pins the router's answers beyond TestBadInputs: CORS
// preflights on any path, HEAD on the websocket, paths the ServeMux would
// redirect, and percent-encoded path users.
func TestRoutingEdges(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.NewAnswerer = func() (Answerer, error) { return stubAnswerer{}, nil } })
	s := h.subscribe("callee@example.com", "")
	base := userBase("callee@example.com")
	tests := []struct {
		name, method, path string
		header             []string
		status             int
		allow              string
		body               string
	}{
		{"preflight on a resource", "OPTIONS", base + "/callMe", []string{"Access-Control-Request-Headers", "content-type, x-custom"}, 204, "", ""},
		{"preflight on an unknown path", "OPTIONS", "/nowhere", nil, 204, "", ""},
		{"HEAD websocket", "HEAD", s.channelPath, nil, 405, "GET, OPTIONS", ""},
		{"PATCH callMe", "PATCH", base + "/callMe", nil, 405, "POST, OPTIONS", `{"callControlResponse":{"statusCode":1004,"reason":"Method not allowed"}}`},
		{"dot segment", "POST", base + "/x/../callMe", nil, 404, "", `{"callControlResponse":{"statusCode":1004,"reason":"Unknown resource"}}`},
		{"empty path user", "POST", "/rest/version/1/anonymous//subscription", nil, 404, "", `{"callControlResponse":{"statusCode":1004,"reason":"Unknown resource"}}`},
		{"trailing slash", "POST", base + "/callMe/", nil, 404, "", `{"callControlResponse":{"statusCode":1004,"reason":"Unknown resource"}}`},
		{"deep sub-resource", "PUT", base + "/callMe/callSessions/x/join/now", nil, 403, "", `{"callControlResponse":{"statusCode":1004,"reason":"Operation not available to anonymous calls"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, nil, tt.header...)
			r.expect(t, tt.name, tt.status, tt.body)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if tt.method != "OPTIONS" {
				return
			}
			if got := r.header.Get("Access-Control-Allow-Methods"); got != "GET, POST, PUT, DELETE, OPTIONS" {
				t.Errorf("Access-Control-Allow-Methods = %q", got)
			}
			want := "Content-Type, Accept, X-Cpaas-Agent"
			if len(tt.header) > 0 {
				want = tt.header[1]
			}
			if got := r.header.Get("Access-Control-Allow-Headers"); got != want {
				t.Errorf("Access-Control-Allow-Headers = %q, want %q", got, want)
			}
		})
	}
	t.Run("percent-encoded path user", func(t *testing.T) {
		enc := h.subscribe("a/b c@example.com", "")
		if !strings.Contains(enc.path, "/anonymous/a%2Fb%20c@example.com/subscription/") {
			t.Fatalf("subscription path %q does not carry the escaped user", enc.path)
		}
		h.do("PUT", enc.path, subscribeBody).expect(t, "refresh of an escaped user", 200, "")
		h.do("DELETE", enc.path, nil).expect(t, "delete of an escaped user", 200, `{"subscribeResponse":{"statusCode":0}}`)
	})
}
