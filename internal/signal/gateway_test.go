package signal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
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

// waitLimit bounds every wait in these tests; reaching it is a failure.
const waitLimit = 5 * time.Second

// gwRequest is one request the scripted gateway received.
type gwRequest struct {
	Route  string // subscribe, refresh, unsubscribe, websocket, callStart, endCall, sdp, or the PUT type (audit, ...)
	Method string
	Path   string // as sent on the wire (escaped form)
	Query  string
	Header http.Header
	Body   []byte
}

// reply is the scripted answer to one request; status 0 means the default.
type reply struct {
	status int
	ctype  string
	body   string
	hang   bool // block until the client gives up
}

// fakeGateway is a small scripted stand-in for the gateway, on loopback.
type fakeGateway struct {
	t       *testing.T
	srv     *httptest.Server
	respond func(r gwRequest) reply // optional script; nil or zero reply = default
	expires int                     // subscriptionParams.expires in default answers (0 = absent)

	newConns atomic.Int64 // TCP connections accepted

	mu    sync.Mutex
	reqs  []gwRequest
	conns []*websocket.Conn
	wsMu  sync.Mutex // serialises server-side writes

	reqCh  chan gwRequest
	connCh chan *websocket.Conn
	frames chan string // frames received from the client
	closes chan int    // close code (or -1) when a server-side socket ends
	// released ends the hanging replies: a context, because a channel
	// closed while a finished handler's select last read it is reported by
	// the race detector as a race.
	released context.Context
	release  context.CancelFunc
	wg       sync.WaitGroup
}

func newGateway(t *testing.T, respond func(r gwRequest) reply) *fakeGateway {
	t.Helper()
	return startGateway(t, respond, false)
}

// startGateway starts a scripted gateway, with TLS (a self-signed
// certificate) if useTLS.
func startGateway(t *testing.T, respond func(r gwRequest) reply, useTLS bool) *fakeGateway {
	t.Helper()
	released, release := context.WithCancel(context.Background())
	g := &fakeGateway{
		t:        t,
		respond:  respond,
		expires:  3600,
		reqCh:    make(chan gwRequest, 1000),
		connCh:   make(chan *websocket.Conn, 100),
		frames:   make(chan string, 1000),
		closes:   make(chan int, 100),
		released: released,
		release:  release,
	}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused TLS handshakes are expected
	g.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			g.newConns.Add(1)
		}
	}
	if useTLS {
		g.srv.StartTLS()
	} else {
		g.srv.Start()
	}
	t.Cleanup(g.close)
	return g
}

func (g *fakeGateway) close() {
	g.release()
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.srv.Close()
	g.wg.Wait()
}

// route classifies a request by its raw path (and PUT body type).
func route(method, path string, body []byte) string {
	const pre = "/rest/version/1/anonymous/"
	if strings.HasPrefix(path, "/sdp/") {
		return "sdp"
	}
	if !strings.HasPrefix(path, pre) {
		return "unknown"
	}
	rest := path[len(pre):]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "unknown"
	}
	tail := rest[i+1:]
	switch {
	case tail == "subscription" && method == http.MethodPost:
		return "subscribe"
	case strings.HasPrefix(tail, "subscription/") && method == http.MethodPut:
		return "refresh"
	case strings.HasPrefix(tail, "subscription/") && method == http.MethodDelete:
		return "unsubscribe"
	case strings.HasPrefix(tail, "websocket/"):
		return "websocket"
	case tail == "callMe" && method == http.MethodPost:
		return "callStart"
	case strings.HasPrefix(tail, "callMe/callSessions/") && method == http.MethodDelete:
		return "endCall"
	case strings.HasPrefix(tail, "callMe/callSessions/") && method == http.MethodPut:
		var b struct {
			CallMeRequest struct {
				Type string `json:"type"`
			} `json:"callMeRequest"`
		}
		if json.Unmarshal(body, &b) != nil || b.CallMeRequest.Type == "" {
			return "badput"
		}
		return b.CallMeRequest.Type
	}
	return "unknown"
}

// userOf returns the raw {U} segment of a path.
func userOf(path string) string {
	rest := strings.TrimPrefix(path, "/rest/version/1/anonymous/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i]
	}
	return rest
}

func (g *fakeGateway) defaultReply(r gwRequest) reply {
	u := userOf(r.Path)
	params := fmt.Sprintf(`{"notificationChannel":"/rest/version/1/anonymous/%s/websocket/ch-1","service":["callMe"]`, u)
	if g.expires != 0 {
		params += fmt.Sprintf(`,"expires":%d`, g.expires)
	}
	params += "}"
	sub := fmt.Sprintf(`{"subscribeResponse":{"statusCode":0,"expires":3600,"subscription":"/rest/version/1/anonymous/%s/subscription/sub-1","subscriptionParams":%s}}`, u, params)
	switch r.Route {
	case "subscribe", "refresh":
		return reply{status: 200, body: sub}
	case "unsubscribe":
		return reply{status: 200, body: `{"subscribeResponse":{"statusCode":0}}`}
	case "callStart":
		return reply{status: 200, body: `{"callMeResponse":{"statusCode":0,"sessionData":"sess-1"}}`}
	case "audit", "startCallUpdate", "respondCallUpdate", "sendCustomHeaders", "endCall":
		return reply{status: 200, body: `{"callMeResponse":{"statusCode":0}}`}
	case "sdp":
		return reply{status: 200, body: `{"eventDataResponse":{"sdp":"v=0\r\nfetched"}}`}
	}
	return reply{status: 404, body: `{"statusCode":1004,"reason":"no such route"}`}
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, query, _ := strings.Cut(r.RequestURI, "?")
	req := gwRequest{
		Route:  route(r.Method, path, body),
		Method: r.Method,
		Path:   path,
		Query:  query,
		Header: r.Header.Clone(),
		Body:   body,
	}
	g.mu.Lock()
	g.reqs = append(g.reqs, req)
	g.mu.Unlock()
	select {
	case g.reqCh <- req:
	default: // nobody is waiting for that many; requests() still has it
	}
	var rep reply
	if g.respond != nil {
		rep = g.respond(req)
	}
	if rep.hang {
		select {
		case <-r.Context().Done():
		case <-g.released.Done():
		}
		return
	}
	if req.Route == "websocket" && rep.status == 0 {
		g.upgrade(w, r)
		return
	}
	if rep.status == 0 {
		rep = g.defaultReply(req)
	}
	if rep.ctype == "" {
		rep.ctype = "application/json"
	}
	w.Header().Set("Content-Type", rep.ctype)
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (g *fakeGateway) upgrade(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.conns = append(g.conns, conn)
	g.mu.Unlock()
	select {
	case g.connCh <- conn:
	default: // many calls, nobody waiting for each socket
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				code := -1
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = ce.Code
				}
				select {
				case g.closes <- code:
				default:
				}
				return
			}
			select {
			case g.frames <- string(data):
			default: // pings piling up in a long test: drop
			}
		}
	}()
}

// conn waits for the next server-side websocket.
func (g *fakeGateway) conn() *websocket.Conn {
	g.t.Helper()
	select {
	case c := <-g.connCh:
		return c
	case <-time.After(waitLimit):
		g.t.Fatal("no websocket connection reached the gateway")
		return nil
	}
}

// send writes one text frame from the gateway.
func (g *fakeGateway) send(c *websocket.Conn, frame string) {
	g.t.Helper()
	g.wsMu.Lock()
	defer g.wsMu.Unlock()
	if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		g.t.Fatalf("gateway send: %v", err)
	}
}

// frame waits for the next frame from the client.
func (g *fakeGateway) frame() string {
	g.t.Helper()
	select {
	case f := <-g.frames:
		return f
	case <-time.After(waitLimit):
		g.t.Fatal("no websocket frame from the client")
		return ""
	}
}

// closeCode waits for the server side of a socket to end.
func (g *fakeGateway) closeCode() int {
	g.t.Helper()
	select {
	case c := <-g.closes:
		return c
	case <-time.After(waitLimit):
		g.t.Fatal("the websocket did not end at the gateway")
		return 0
	}
}

// next waits for the next request with the given route, skipping others.
func (g *fakeGateway) next(routeName string) gwRequest {
	g.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case r := <-g.reqCh:
			if r.Route == routeName {
				return r
			}
		case <-deadline:
			g.t.Fatalf("no %s request reached the gateway", routeName)
			return gwRequest{}
		}
	}
}

// requests returns every request received so far.
func (g *fakeGateway) requests() []gwRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gwRequest(nil), g.reqs...)
}

// newTestClient builds a Client for g with short timers; edit adjusts cfg.
func newTestClient(t *testing.T, g *fakeGateway, edit func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL:        g.srv.URL,
		PingInterval:   time.Hour,
		AuditInterval:  time.Hour,
		RequestTimeout: 2 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribe subscribes and registers Close as cleanup.
func subscribe(t *testing.T, c *Client, creds Credentials) *Session {
	t.Helper()
	s, err := c.Subscribe(context.Background(), creds)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recv waits for the next notification.
func recv(t *testing.T, s *Session) Notification {
	t.Helper()
	select {
	case n, ok := <-s.Notifications():
		if !ok {
			t.Fatalf("notification channel closed (err %v)", s.Err())
		}
		return n
	case <-time.After(waitLimit):
		t.Fatal("no notification")
		return Notification{}
	}
}

// canonical re-encodes JSON compactly, keeping key order, so that two
// bodies compare equal only with the same keys in the same order.
func canonical(t *testing.T, raw []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	if err := canonValue(dec, &b); err != nil {
		t.Fatalf("canonical(%s): %v", raw, err)
	}
	return b.String()
}

func canonValue(dec *json.Decoder, b *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		closing := byte('}')
		if v == '[' {
			closing = ']'
		}
		b.WriteByte(byte(v))
		for first := true; dec.More(); first = false {
			if !first {
				b.WriteByte(',')
			}
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				kb, _ := json.Marshal(k)
				b.Write(kb)
				b.WriteByte(':')
			}
			if err := canonValue(dec, b); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(closing)
	case string:
		enc, _ := encodeJSON(v)
		b.Write(enc)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		fmt.Fprint(b, v)
	case nil:
		b.WriteString("null")
	}
	return nil
}

// checkHeaders verifies the §3.3 headers and the mode's query on a request.
func checkHeaders(t *testing.T, r gwRequest, agent, wantQuery string) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Type":  "application/json",
		"Accept":        "application/json",
		"X-Cpaas-Agent": agent,
		"Authorization": "",
		"Cookie":        "",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.Path, k, got, want)
		}
	}
	if r.Query != wantQuery {
		t.Errorf("%s %s: query = %q, want %q", r.Method, r.Path, r.Query, wantQuery)
	}
}

// asError extracts *Error or fails.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *signal.Error", err, err)
	}
	return e
}
