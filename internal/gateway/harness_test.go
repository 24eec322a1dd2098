package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait in these tests.
const waitFor = 10 * time.Second

// harness is one gateway behind a real loopback HTTP server.
type harness struct {
	t      *testing.T
	g      *Gateway
	srv    *httptest.Server
	url    string // http://host:port of the gateway
	f      *answererFactory
	client *http.Client
	// seq orders what the client sees: each HTTP response (resp.seq) and
	// each notification (its seqKey entry) takes the next number on receipt.
	seq atomic.Int64
}

// seqKey is the entry a wsClient adds to each notification: the receipt
// number from the harness's seq (an int64).
const seqKey = "_receivedSeq"

// newHarness starts a gateway with short delays and real pion answerers;
// mutate adjusts the configuration.
func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	f := &answererFactory{api: newTestAPI(t)}
	cfg := DefaultConfig()
	cfg.NewAnswerer = f.New
	cfg.RingingDelay = 5 * time.Millisecond
	cfg.AnswerDelay = 20 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(g)
	h := &harness{t: t, g: g, srv: srv, url: srv.URL, f: f, client: &http.Client{Transport: &http.Transport{}, Timeout: waitFor}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		h.srv.Close()
		h.client.CloseIdleConnections()
	})
	return h
}

// resp is one HTTP response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
	seq    int64 // receipt number, once the whole body is read
}

// do sends one request; body is nil, a string (sent raw) or a value (sent as JSON).
func (h *harness) do(method, path string, body any, header ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Cpaas-Agent", "callme-js-sdk/5.2.0 loadgen/test")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw, seq: h.seq.Add(1)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			h.t.Fatalf("%s %s: status %d, body is not JSON: %q", method, path, res.StatusCode, raw)
		}
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got == "" {
		h.t.Errorf("%s %s: no Access-Control-Allow-Origin header", method, path)
	}
	return r
}

// expect checks status and the exact JSON body.
func (r resp) expect(t *testing.T, what string, status int, body string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status = %d, want %d (body %s)", what, r.status, status, r.raw)
	}
	if body == "" {
		return
	}
	var want any
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatalf("%s: bad expected body %s: %v", what, body, err)
	}
	var got any
	if err := json.Unmarshal(r.raw, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: body = %s, want %s", what, r.raw, body)
	}
}

// dig walks nested JSON objects.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str is dig as a string.
func str(v any, keys ...string) string {
	s, _ := dig(v, keys...).(string)
	return s
}

// userBase is the REST base path of a path user.
func userBase(user string) string {
	return "/rest/version/1/anonymous/" + url.PathEscape(user)
}

// subscribeBody is the SDK's exact subscription request (§4.1).
const subscribeBody = `{"subscribeRequest":{"expires":3600,"service":["callMe"],"localization":"English_US","useTurn":true,"notificationType":"WebSocket","supported":["RingingFeedback"],"forceLogOut":"false"}}`

// sub is a created subscription.
type sub struct {
	user, query, path, channelPath, channel string
}

// subscribe creates a subscription for user (query: "" or "?tokenrealm=...").
func (h *harness) subscribe(user, query string) sub {
	h.t.Helper()
	r := h.do(http.MethodPost, userBase(user)+"/subscription"+query, subscribeBody)
	if r.status != http.StatusOK {
		h.t.Fatalf("subscribe %s: status %d body %s", user, r.status, r.raw)
	}
	s := sub{user: user, query: query,
		path:        str(r.body, "subscribeResponse", "subscription"),
		channelPath: str(r.body, "subscribeResponse", "subscriptionParams", "notificationChannel"),
	}
	i := strings.LastIndex(s.channelPath, "/websocket/")
	if i < 0 {
		h.t.Fatalf("notificationChannel %q lacks /websocket/", s.channelPath)
	}
	s.channel = s.channelPath[i+len("/websocket/"):]
	return s
}

// wsClient is the test's own gorilla websocket client.
type wsClient struct {
	t         *testing.T
	conn      *websocket.Conn
	events    chan map[string]any // notificationMessage objects
	done      chan struct{}
	closeCode int // valid after done
	mu        sync.Mutex
	ids       map[string]bool
	dupID     string
	seq       *atomic.Int64 // the harness's
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// dial opens the notification websocket of channelPath.
func (h *harness) dial(channelPath string) (*wsClient, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(h.url, "http") + channelPath
	d := websocket.Dialer{HandshakeTimeout: waitFor}
	conn, res, err := d.Dial(u, http.Header{"Origin": {"http://127.0.0.1:1"}})
	if err != nil {
		return nil, res, err
	}
	c := &wsClient{t: h.t, conn: conn, events: make(chan map[string]any, 64), done: make(chan struct{}), ids: map[string]bool{}, seq: &h.seq}
	go c.read()
	h.t.Cleanup(func() { c.close() })
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"message_type":"ping"}`)); err != nil {
		h.t.Fatalf("ws ping: %v", err)
	}
	return c, res, nil
}

// mustDial is dial that fails the test on error.
func (h *harness) mustDial(channelPath string) *wsClient {
	h.t.Helper()
	c, _, err := h.dial(channelPath)
	if err != nil {
		h.t.Fatalf("dial %s: %v", channelPath, err)
	}
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeCode = ce.Code
			}
			return
		}
		seq := c.seq.Add(1)
		var env map[string]any
		if mt != websocket.TextMessage || json.Unmarshal(data, &env) != nil {
			c.t.Errorf("gateway sent a non-JSON or non-text frame: type %d %q", mt, data)
			continue
		}
		n, ok := env["notificationMessage"].(map[string]any)
		if !ok {
			c.t.Errorf("frame without notificationMessage: %s", data)
			continue
		}
		id := str(n, "eventId")
		c.mu.Lock()
		if !uuidV4.MatchString(id) {
			c.t.Errorf("eventId %q is not a UUID v4", id)
		}
		if c.ids[id] {
			c.dupID = id
		}
		c.ids[id] = true
		c.mu.Unlock()
		n[seqKey] = seq
		c.events <- n
	}
}

// next returns the next notification and checks its type and session.
func (c *wsClient) next(eventType, session string) map[string]any {
	c.t.Helper()
	select {
	case n := <-c.events:
		if got := str(n, "eventType"); got != eventType {
			c.t.Fatalf("notification type = %q, want %q: %v", got, eventType, n)
		}
		if got := str(n, "sessionParams", "sessionData"); session != "" && got != session {
			c.t.Fatalf("%s sessionData = %q, want %q", eventType, got, session)
		}
		return n
	case <-c.done:
		c.t.Fatalf("websocket closed (code %d) while waiting for %s", c.closeCode, eventType)
	case <-time.After(waitFor):
		c.t.Fatalf("no %s notification within %v", eventType, waitFor)
	}
	return nil
}

// quiet checks that no notification arrives for d.
func (c *wsClient) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case n := <-c.events:
		c.t.Errorf("unexpected notification %v", n)
	case <-time.After(d):
	}
}

// waitClosed waits for the gateway to close the socket and returns the close code.
func (c *wsClient) waitClosed() int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.closeCode
	case <-time.After(waitFor):
		c.t.Fatal("websocket not closed by the gateway")
	}
	return 0
}

// checkIDs fails on a duplicated eventId.
func (c *wsClient) checkIDs() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dupID != "" {
		c.t.Errorf("eventId %s sent twice", c.dupID)
	}
}

// close closes the client side (no close code, like the SDK) and waits for the reader.
func (c *wsClient) close() {
	_ = c.conn.Close()
	<-c.done
}

// waitStats polls Stats until ok holds.
func (h *harness) waitStats(what string, ok func(Stats) bool) Stats {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st := h.g.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: stats %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// empty reports a gateway holding nothing.
func empty(st Stats) bool {
	return st.Subscriptions == 0 && st.Sessions == 0 && st.Sockets == 0 && st.Answerers == 0
}

// callStartBody builds a callStart request.
func callStartBody(to, from, sdp, channel string, extra map[string]any) map[string]any {
	req := map[string]any{"type": "callStart", "to": to, "sdp": sdp, "from": from, "notifyChannelId": channel}
	for k, v := range extra {
		req[k] = v
	}
	return map[string]any{"callMeRequest": req}
}

// start posts callStart and returns the session id.
func (h *harness) start(s sub, to, from, sdp string, extra map[string]any) string {
	h.t.Helper()
	r := h.do(http.MethodPost, userBase(s.user)+"/callMe"+s.query, callStartBody(to, from, sdp, s.channel, extra))
	if r.status != http.StatusOK || dig(r.body, "callMeResponse", "statusCode") != 0.0 {
		h.t.Fatalf("callStart: status %d body %s", r.status, r.raw)
	}
	id := str(r.body, "callMeResponse", "sessionData")
	if !uuidV4.MatchString(id) {
		h.t.Fatalf("sessionData %q is not a UUID v4", id)
	}
	return id
}

// sessionPath is the REST path of a call session.
func (s sub) sessionPath(id string) string {
	return userBase(s.user) + "/callMe/callSessions/" + id + s.query
}

// put sends a callMeRequest PUT on a session and checks the 200 JSON answer.
func (h *harness) put(s sub, id string, req map[string]any) {
	h.t.Helper()
	r := h.do(http.MethodPut, s.sessionPath(id), map[string]any{"callMeRequest": req})
	r.expect(h.t, "PUT "+str(req, "type"), http.StatusOK, `{"callMeResponse":{"statusCode":0}}`)
}
