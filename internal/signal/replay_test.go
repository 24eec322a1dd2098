package signal

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fixturePath is ../shared/protocol/recorded/sdk-traffic.json seen from
// the package directory (/work/main/internal/signal).
const fixturePath = "../../../shared/protocol/recorded/sdk-traffic.json"

type fixtureEntry struct {
	Kind        string            `json:"kind"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Query       string            `json:"query"`
	QueryParams map[string]string `json:"queryParams"`
	Headers     map[string]string `json:"headers"`
	Body        json.RawMessage   `json:"body"`
	Event       string            `json:"event"`
	Direction   string            `json:"direction"`
	Data        json.RawMessage   `json:"data"`
	Code        int               `json:"code"`
	Response    struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"response"`
}

type fixtureScenario struct {
	Name          string         `json:"name"`
	ServerTraffic []fixtureEntry `json:"serverTraffic"`
}

func loadFixture(t *testing.T) []fixtureScenario {
	t.Helper()
	raw, err := os.ReadFile(fixturePath)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SDK fixture %s not found: the tests need ../shared beside the checkout", fixturePath)
	}
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Scenarios []fixtureScenario `json:"scenarios"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	if len(fx.Scenarios) == 0 {
		t.Fatal("fixture has no scenarios")
	}
	return fx.Scenarios
}

func isNull(b json.RawMessage) bool { return len(b) == 0 || string(b) == "null" }

type fixtureCallMe struct {
	CallMeRequest struct {
		Type             string            `json:"type"`
		To               string            `json:"to"`
		SDP              string            `json:"sdp"`
		Supported        []string          `json:"supported"`
		CustomParameters []CustomParameter `json:"customParameters"`
		From             string            `json:"from"`
	} `json:"callMeRequest"`
}

func decodeCallMe(t *testing.T, b json.RawMessage) fixtureCallMe {
	t.Helper()
	var c fixtureCallMe
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("fixture callMe body: %v", err)
	}
	return c
}

// TestReplaySDKTraffic drives the client through every recorded scenario
// of the reference SDK (regular, token, early media, errors, dedupe,
// resubscribe, cancel, audit failure) against a gateway that answers each
// request with the recorded answer, and checks that every request the
// client sends has the SDK's method, path, query, headers and body (same
// keys in the same order), that the ping and the websocket path match, that
// notifications are delivered de-duplicated, and that Close gives 1005.
func TestReplaySDKTraffic(t *testing.T) {
	for _, sc := range loadFixture(t) {
		t.Run(sc.Name, func(t *testing.T) { replay(t, sc) })
	}
}

func replay(t *testing.T, sc fixtureScenario) {
	var httpEntries []fixtureEntry
	realm := ""
	for _, e := range sc.ServerTraffic {
		if e.Kind == "http" && e.Method != "OPTIONS" {
			httpEntries = append(httpEntries, e)
			if r, ok := e.QueryParams["tokenrealm"]; ok {
				realm = r
			}
		}
	}
	// Recorded answers, queued per request key in recorded order.
	var qmu sync.Mutex
	queues := map[string][]fixtureEntry{}
	key := func(method, path string, body []byte) string {
		return method + " " + path + " " + route(method, path, body)
	}
	for _, e := range httpEntries {
		k := key(e.Method, e.Path, e.Body)
		queues[k] = append(queues[k], e)
	}
	g := newGateway(t, func(r gwRequest) reply {
		if r.Route == "websocket" {
			return reply{}
		}
		qmu.Lock()
		defer qmu.Unlock()
		k := key(r.Method, r.Path, r.Body)
		q := queues[k]
		if len(q) == 0 {
			t.Errorf("unexpected request %s", k)
			return reply{status: 500, body: `{"statusCode":26,"reason":"unexpected"}`}
		}
		queues[k] = q[1:]
		body := string(q[0].Response.Body)
		if isNull(q[0].Response.Body) {
			body = ""
		}
		return reply{status: q[0].Response.Status, body: body}
	})
	mode := ModeRegular
	if realm != "" {
		mode = ModeToken
	}
	c := newTestClient(t, g, func(cfg *Config) {
		cfg.Mode = mode
		cfg.Realm = realm
	})
	ctx := context.Background()

	// callMe bodies by path user, to derive credentials at subscribe time.
	callMeOf := map[string]fixtureCallMe{}
	for _, e := range httpEntries {
		if route(e.Method, e.Path, e.Body) == "callStart" {
			callMeOf[userOf(e.Path)] = decodeCallMe(t, e.Body)
		}
	}

	var (
		s             *Session
		conn          *websocket.Conn
		opts          CallOptions
		firstAudit    bool
		pingSeen      bool
		httpIdx       int
		seen          []eventKey // the SDK's de-duplication, re-implemented plainly
		wantDups      int64
		wantDelivered int64
	)
	restRequests := func() []gwRequest {
		var out []gwRequest
		for _, r := range g.requests() {
			if r.Route != "websocket" {
				out = append(out, r)
			}
		}
		return out
	}
	waitRequest := func(i int) gwRequest {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			if rs := restRequests(); len(rs) > i {
				return rs[i]
			}
			if time.Now().After(deadline) {
				t.Fatalf("request %d (%s %s) never reached the gateway", i, httpEntries[i].Method, httpEntries[i].Path)
			}
			time.Sleep(time.Millisecond)
		}
	}
	expectErr := func(e fixtureEntry, err error) {
		t.Helper()
		ok := e.Response.Status/100 == 2
		switch {
		case ok && err != nil:
			t.Fatalf("%s %s: unexpected error %v", e.Method, e.Path, err)
		case !ok && err == nil:
			t.Fatalf("%s %s answered %d: no error", e.Method, e.Path, e.Response.Status)
		case !ok:
			se := asError(t, err)
			want := KindHTTPStatus
			if e.Response.Status == 401 || e.Response.Status == 403 {
				want = KindTokenRejected
			}
			if se.Kind != want || se.HTTPStatus != e.Response.Status {
				t.Errorf("%s %s: error %v, want kind %v and HTTP %d", e.Method, e.Path, err, want, e.Response.Status)
			}
		}
	}

	for _, e := range sc.ServerTraffic {
		switch {
		case e.Kind == "http" && e.Method == "OPTIONS":
			continue
		case e.Kind == "http":
			r := route(e.Method, e.Path, e.Body)
			var err error
			switch r {
			case "subscribe":
				user, uerr := url.PathUnescape(userOf(e.Path))
				if uerr != nil {
					t.Fatal(uerr)
				}
				var creds Credentials
				cm, hasCall := callMeOf[userOf(e.Path)]
				switch mode {
				case ModeToken:
					creds = TokenCredentials(user, cm.CallMeRequest.From, cm.CallMeRequest.To)
				default:
					from := "caller@example.com"
					opts = CallOptions{}
					if hasCall {
						from = cm.CallMeRequest.From
						if name, uri, ok := splitDisplayName(from); ok {
							from, opts.DisplayName = uri, name
						}
						from = strings.TrimPrefix(from, "sip:")
					}
					creds = RegularCredentials(user, from)
				}
				if hasCall {
					opts.CustomParameters = cm.CallMeRequest.CustomParameters
					opts.EarlyMedia = slices.Contains(cm.CallMeRequest.Supported, "earlymedia")
				}
				var ns *Session
				ns, err = c.Subscribe(ctx, creds)
				if err == nil {
					s = ns
					t.Cleanup(func() { ns.Close() })
					seen, pingSeen = nil, false
				}
			case "callStart":
				cm := decodeCallMe(t, e.Body)
				_, err = s.StartCall(ctx, cm.CallMeRequest.SDP, opts)
				firstAudit = err == nil
			case "audit":
				if firstAudit {
					firstAudit = false // sent by the audit loop at once
				} else {
					err = s.Audit(ctx)
				}
			case "startCallUpdate":
				err = s.StartCallUpdate(ctx, decodeCallMe(t, e.Body).CallMeRequest.SDP)
			case "respondCallUpdate":
				err = s.RespondCallUpdate(ctx, decodeCallMe(t, e.Body).CallMeRequest.SDP)
			case "sendCustomHeaders":
				err = s.SendCustomHeaders(ctx, decodeCallMe(t, e.Body).CallMeRequest.CustomParameters)
			case "refresh":
				err = s.RefreshSubscription(ctx)
			case "endCall":
				err = s.EndCall(ctx)
			case "unsubscribe":
				err = s.Unsubscribe(ctx)
			default:
				t.Fatalf("fixture request %s %s: unknown route %q", e.Method, e.Path, r)
			}
			expectErr(e, err)
			got := waitRequest(httpIdx)
			httpIdx++
			if got.Method != e.Method || got.Path != e.Path {
				t.Errorf("request %d: got %s %s, want %s %s", httpIdx, got.Method, got.Path, e.Method, e.Path)
			}
			checkHeaders(t, got, DefaultAgent, e.Query)
			if !strings.HasPrefix(got.Header.Get("X-Cpaas-Agent"), e.Headers["x-cpaas-agent"]+" ") {
				t.Errorf("agent %q does not extend the SDK's %q", got.Header.Get("X-Cpaas-Agent"), e.Headers["x-cpaas-agent"])
			}
			if isNull(e.Body) {
				if len(got.Body) != 0 {
					t.Errorf("%s %s: body %q, want none", got.Method, got.Path, got.Body)
				}
			} else if g, w := canonical(t, got.Body), canonical(t, e.Body); g != w {
				t.Errorf("%s %s body:\n got %s\nwant %s", got.Method, got.Path, g, w)
			}
		case e.Kind == "ws" && e.Event == "upgrade":
			if err := s.OpenWebsocket(ctx); err != nil {
				t.Fatalf("OpenWebsocket: %v", err)
			}
			conn = g.conn()
			var up gwRequest
			for _, r := range g.requests() {
				if r.Route == "websocket" {
					up = r
				}
			}
			if up.Path != e.Path || up.Query != e.Query {
				t.Errorf("websocket URL path %q query %q, want %q %q", up.Path, up.Query, e.Path, e.Query)
			}
			for _, h := range []string{"Sec-Websocket-Protocol", "X-Cpaas-Agent", "Authorization"} {
				if v := up.Header.Get(h); v != "" {
					t.Errorf("websocket handshake has %s: %q", h, v)
				}
			}
		case e.Kind == "ws" && e.Direction == "in":
			if pingSeen {
				continue // later pings come every PingInterval (an hour here)
			}
			pingSeen = true
			if got, want := canonical(t, []byte(g.frame())), canonical(t, e.Data); got != want {
				t.Errorf("first frame %s, want %s", got, want)
			}
		case e.Kind == "ws" && e.Direction == "out":
			g.send(conn, string(e.Data))
			_, k, ok := parseNotification(e.Data, time.Time{})
			if !ok {
				t.Fatalf("fixture frame is not a notification: %s", e.Data)
			}
			if slices.Contains(seen, k) {
				wantDups++
				continue
			}
			seen = append(seen, k)
			wantDelivered++
			var w struct {
				NotificationMessage struct {
					EventType     string `json:"eventType"`
					SessionParams struct {
						SessionData string `json:"sessionData"`
						SDP         string `json:"sdp"`
					} `json:"sessionParams"`
				} `json:"notificationMessage"`
			}
			if err := json.Unmarshal(e.Data, &w); err != nil {
				t.Fatal(err)
			}
			n := recv(t, s)
			if string(n.Type) != w.NotificationMessage.EventType || n.EventID != k.id ||
				n.SessionData != w.NotificationMessage.SessionParams.SessionData || n.SDP != w.NotificationMessage.SessionParams.SDP {
				t.Errorf("notification %+v, want %s id %q session %s", n, w.NotificationMessage.EventType, k.id, w.NotificationMessage.SessionParams.SessionData)
			}
			if n.Received.IsZero() {
				t.Error("Notification.Received not set")
			}
		case e.Kind == "ws" && e.Event == "close":
			if st := s.Stats(); st.Duplicates != wantDups || st.Notifications != wantDelivered {
				t.Errorf("stats %+v, want %d duplicates and %d delivered", st, wantDups, wantDelivered)
			}
			s.Close()
			if code := g.closeCode(); code != e.Code {
				t.Errorf("gateway saw close code %d, want %d", code, e.Code)
			}
			if _, ok := <-s.Notifications(); ok {
				t.Error("a notification was left over")
			}
			if err := s.Err(); err != nil {
				t.Errorf("Err after Close = %v, want nil", err)
			}
		}
	}
	if rs := restRequests(); len(rs) != len(httpEntries) {
		t.Errorf("client sent %d REST requests, the SDK %d", len(rs), len(httpEntries))
	}
}
