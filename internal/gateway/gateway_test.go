package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/loadgen/loadgen/internal/token"
	"go.uber.org/goleak"
)

func TestRegularCallFullSequence(t *testing.T) {
	h := newHarness(t, nil)
	o := newOfferer(t, h.f.api)

	r := h.do(http.MethodPost, userBase("callee@example.com")+"/subscription", subscribeBody, "Origin", "http://page.example")
	if r.status != http.StatusOK {
		t.Fatalf("subscribe: status %d body %s", r.status, r.raw)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "http://page.example" {
		t.Errorf("Access-Control-Allow-Origin = %q, want the request origin", got)
	}
	sr := dig(r.body, "subscribeResponse")
	for _, k := range [][]string{{"statusCode"}, {"expires"}, {"subscriptionParams", "expires"}} {
		want := 3600.0
		if k[0] == "statusCode" {
			want = 0
		}
		if got := dig(sr, k...); got != want {
			t.Errorf("subscribeResponse.%s = %v, want %v", strings.Join(k, "."), got, want)
		}
	}
	if svc, _ := dig(sr, "subscriptionParams", "service").([]any); len(svc) != 1 || svc[0] != "callMe" {
		t.Errorf("subscriptionParams.service = %v, want [callMe]", svc)
	}
	s := sub{user: "callee@example.com", path: str(sr, "subscription"), channelPath: str(sr, "subscriptionParams", "notificationChannel")}
	if !strings.HasPrefix(s.path, "/rest/version/1/anonymous/callee@example.com/subscription/") {
		t.Errorf("subscription path = %q", s.path)
	}
	if !strings.HasPrefix(s.channelPath, "/rest/version/1/anonymous/callee@example.com/websocket/") {
		t.Errorf("notificationChannel = %q", s.channelPath)
	}
	s.channel = s.channelPath[strings.LastIndex(s.channelPath, "/")+1:]
	ws := h.mustDial(s.channelPath)

	id := h.start(s, "sip:callee@example.com", "Load Tester<sip:caller@example.com>", o.offer(t),
		map[string]any{"customParameters": []map[string]string{{"name": "X-Test-Start", "value": "regular-1"}}})
	h.put(s, id, map[string]any{"type": "audit"})

	ring := ws.next("ringing", id)
	if got := str(ring, "callNotificationParams", "remoteDisplayNumber"); got != "callee@example.com" {
		t.Errorf("ringing remoteDisplayNumber = %q, want callee@example.com", got)
	}
	ans := ws.next("respondCallUpdate", id)
	answer := str(ans, "sessionParams", "sdp")
	if !strings.Contains(answer, "a=candidate:") || !strings.Contains(answer, "127.0.0.1") {
		t.Errorf("answer lacks loopback candidates:\n%s", answer)
	}
	o.applyAnswer(t, answer)
	o.waitConnected(t)

	// Local hold: an offer with every section inactive, answered inactive.
	hold := setDirection(o.offer(t), "inactive")
	h.put(s, id, map[string]any{"type": "startCallUpdate", "sdp": hold})
	held := str(ws.next("respondCallUpdate", id), "sessionParams", "sdp")
	if !strings.Contains(held, "a=inactive") {
		t.Errorf("hold answer is not inactive:\n%s", held)
	}
	o.applyAnswer(t, held)
	// Unhold.
	h.put(s, id, map[string]any{"type": "startCallUpdate", "sdp": o.offer(t)})
	resumed := str(ws.next("respondCallUpdate", id), "sessionParams", "sdp")
	if strings.Contains(resumed, "a=inactive") {
		t.Errorf("unhold answer is still inactive:\n%s", resumed)
	}
	o.applyAnswer(t, resumed)
	if got := o.pc.ConnectionState().String(); got != "connected" {
		t.Errorf("after hold/unhold the offerer is %s, want connected", got)
	}
	h.put(s, id, map[string]any{"type": "sendCustomHeaders", "customParameters": []map[string]string{{"name": "X-Test-Mid", "value": "mid-call"}}})

	h.do(http.MethodDelete, s.sessionPath(id), nil).expect(t, "DELETE session", http.StatusOK, `{"callMeResponse":{"statusCode":0}}`)
	h.do(http.MethodPut, s.sessionPath(id), `{"callMeRequest":{"type":"audit"}}`).
		expect(t, "audit after DELETE", http.StatusNotFound, `{"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}`)
	ws.quiet(50 * time.Millisecond) // no callEnd after a local end
	h.do(http.MethodDelete, s.path, nil).expect(t, "DELETE subscription", http.StatusOK, `{"subscribeResponse":{"statusCode":0}}`)
	if code := ws.waitClosed(); code != websocket.CloseNormalClosure {
		t.Errorf("websocket close code after unsubscribe = %d, want 1000", code)
	}
	ws.checkIDs()
	st := h.waitStats("nothing left after the call", empty)
	if st.CallsStarted != 1 || st.CallsAnswered != 1 || st.SubscriptionsTotal != 1 || st.Notifications != 4 || st.Pings != 1 {
		t.Errorf("totals = %+v, want 1 call started and answered, 1 subscription, 4 notifications, 1 ping", st)
	}
}

func TestEarlyMedia(t *testing.T) {
	h := newHarness(t, nil)
	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), map[string]any{"supported": []string{"earlymedia"}})
	ws.next("ringing", id)
	early := str(ws.next("sessionProgress", id), "sessionParams", "sdp")
	final := str(ws.next("respondCallUpdate", id), "sessionParams", "sdp")
	if early == "" || early != final {
		t.Errorf("sessionProgress SDP differs from the final answer:\n%s\n---\n%s", early, final)
	}
	o.applyAnswer(t, final)
	o.waitConnected(t)
	ws.checkIDs()
}

func TestRingingOff(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Ringing = false })
	o := newOfferer(t, h.f.api)
	s := h.subscribe("1234", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:1234", "Tester<sip:caller@example.com>", o.offer(t), nil)
	ans := ws.next("respondCallUpdate", id) // straight to the answer
	if got := str(ans, "callNotificationParams", "remoteDisplayNumber"); got != "1234@example.com" {
		t.Errorf("remoteDisplayNumber = %q, want the callee with the caller's domain", got)
	}
}

func TestRemoteEndAndHold(t *testing.T) {
	h := newHarness(t, nil)
	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	o.applyAnswer(t, str(ws.next("respondCallUpdate", id), "sessionParams", "sdp"))
	o.waitConnected(t)
	a := h.f.last(t)

	for _, hold := range []bool{true, false} {
		if err := h.g.RemoteHold(id, hold); err != nil {
			t.Fatalf("RemoteHold(%v): %v", hold, err)
		}
		offer := str(ws.next("startCallUpdate", id), "sessionParams", "sdp")
		if got := strings.Contains(offer, "a=inactive"); got != hold {
			t.Errorf("RemoteHold(%v) offer inactive = %v", hold, got)
		}
		answer := o.answer(t, offer)
		h.put(s, id, map[string]any{"type": "respondCallUpdate", "sdp": answer})
		select {
		case got := <-a.applied:
			if got != answer {
				t.Errorf("answerer applied a different answer")
			}
		case <-time.After(waitFor):
			t.Fatalf("RemoteHold(%v): client answer never applied", hold)
		}
	}

	if err := h.g.EndCall(id, 0, "Remote party ended the call"); err != nil {
		t.Fatalf("EndCall: %v", err)
	}
	end := ws.next("callEnd", id)
	if dig(end, "sessionParams", "statusCode") != 0.0 || str(end, "sessionParams", "reasonText") != "Remote party ended the call" {
		t.Errorf("callEnd = %v", end)
	}
	h.do(http.MethodPut, s.sessionPath(id), `{"callMeRequest":{"type":"audit"}}`).
		expect(t, "audit after callEnd", http.StatusNotFound, `{"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}`)
	if err := h.g.EndCall(id, 0, ""); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("second EndCall = %v, want ErrUnknownSession", err)
	}
	if err := h.g.RemoteHold(id, true); !errors.Is(err, ErrUnknownSession) {
		t.Errorf("RemoteHold on ended call = %v, want ErrUnknownSession", err)
	}
	h.waitStats("answerer closed after callEnd", func(st Stats) bool { return st.Sessions == 0 && st.Answerers == 0 })
	ws.checkIDs()
}

// plainAnswerer hides the Reofferer methods of a pion answerer.
type plainAnswerer struct{ a *pionAnswerer }

func (p plainAnswerer) Answer(ctx context.Context, offer string) (string, error) {
	return p.a.Answer(ctx, offer)
}
func (p plainAnswerer) Close() error { return p.a.Close() }

func TestRemoteHoldNeedsReofferer(t *testing.T) {
	h := newHarness(t, nil)
	h.g.cfg.NewAnswerer = func() (Answerer, error) {
		a, err := h.f.New()
		if err != nil {
			return nil, err
		}
		return plainAnswerer{a.(*pionAnswerer)}, nil
	}
	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	ws.next("respondCallUpdate", id)
	if err := h.g.RemoteHold(id, true); !errors.Is(err, ErrNoReofferer) {
		t.Errorf("RemoteHold = %v, want ErrNoReofferer", err)
	}
}

func TestAnswererFailureEndsCall(t *testing.T) {
	logs := make(logRecords, 64)
	h := newHarness(t, func(c *Config) { c.Logger = slog.New(logs) })
	h.f.fail = errAnswerBoom
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", nil)
	ws.next("ringing", id)
	if end := ws.next("callEnd", id); dig(end, "sessionParams", "statusCode") != 488.0 {
		t.Errorf("callEnd = %v, want statusCode 488", end)
	}
	h.waitStats("failed call counted", func(st Stats) bool { return st.CallsFailed == 1 && st.Answerers == 0 && st.Sessions == 0 })
	waitLog(t, logs, "WARN call failed", 1)
}

func TestRejectInjection(t *testing.T) {
	t.Run("callEnd busy", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.RejectRatio = 1 })
		s := h.subscribe("busy@example.com", "")
		ws := h.mustDial(s.channelPath)
		id := h.start(s, "sip:busy@example.com", "sip:caller@example.com", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", nil)
		ws.next("ringing", id)
		end := ws.next("callEnd", id)
		if dig(end, "sessionParams", "statusCode") != 486.0 || str(end, "sessionParams", "reasonText") != "Busy Here" {
			t.Errorf("callEnd = %v, want 486 Busy Here", end)
		}
		h.do(http.MethodPut, s.sessionPath(id), `{"callMeRequest":{"type":"audit"}}`).
			expect(t, "audit after reject", http.StatusNotFound, `{"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}`)
		if st := h.g.Stats(); st.CallsRejected != 1 || st.CallsAnswered != 0 {
			t.Errorf("stats = %+v, want 1 rejected, 0 answered", st)
		}
		h.f.mu.Lock()
		if n := len(h.f.made); n != 0 {
			t.Errorf("%d answerers made for a rejected call", n)
		}
		h.f.mu.Unlock()
	})
	t.Run("HTTP 503", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.RejectRatio = 1; c.RejectMode = RejectHTTP; c.RejectStatus = 503 })
		s := h.subscribe("busy@example.com", "")
		r := h.do(http.MethodPost, userBase(s.user)+"/callMe", callStartBody("sip:busy@example.com", "sip:c@example.com", "v=0\r\nm=audio 9 X 0\r\n", s.channel, nil))
		r.expect(t, "rejected callStart", http.StatusServiceUnavailable, `{"callControlResponse":{"statusCode":503,"reason":"Call rejected"}}`)
		h.do(http.MethodPost, userBase(s.user)+"/callMe", callStartBody("sip:busy@example.com", "sip:c@example.com", "v=0\r\nm=audio 9 X 0\r\n", "nope", nil)).
			expect(t, "bad channel is reported before the reject draw", http.StatusBadRequest, `{"callControlResponse":{"statusCode":37,"reason":"Invalid value: notifyChannelId"}}`)
		if st := h.g.Stats(); st.CallsRejected != 1 || st.CallsStarted != 0 || st.Sessions != 0 {
			t.Errorf("stats = %+v, want 1 rejected, none started", st)
		}
	})
	t.Run("deterministic ratio", func(t *testing.T) {
		draws := func() []bool {
			g, err := New(Config{NewAnswerer: func() (Answerer, error) { return nil, errAnswerBoom }, RejectRatio: 0.3, RejectStatus: 486, Rand: newSeeded(42)})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := g.Shutdown(context.Background()); err != nil {
					t.Errorf("Shutdown = %v, want nil", err)
				}
			}()
			out := make([]bool, 2000)
			for i := range out {
				if out[i], err = g.drawReject(); err != nil {
					t.Fatal(err)
				}
			}
			return out
		}
		a, b := draws(), draws()
		n := 0
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("draw %d differs between runs with the same seed", i)
			}
			if a[i] {
				n++
			}
		}
		if n < 500 || n > 700 {
			t.Errorf("%d of 2000 draws rejected at ratio 0.3, want about 600", n)
		}
	})
}

// seeded is a deterministic io.Reader (xorshift64*), for injected Rand.
type seeded struct{ x uint64 }

func newSeeded(seed uint64) *seeded { return &seeded{x: seed*2654435761 + 1} }

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		s.x ^= s.x >> 12
		s.x ^= s.x << 25
		s.x ^= s.x >> 27
		p[i] = byte((s.x * 2685821657736338717) >> 56)
	}
	return len(p), nil
}

func TestAuditTimeoutEndsCall(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AuditTimeout = 150 * time.Millisecond })
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	o := newOfferer(t, h.f.api)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	ws.next("respondCallUpdate", id)
	end := ws.next("callEnd", id)
	if dig(end, "sessionParams", "statusCode") != 408.0 {
		t.Errorf("callEnd = %v, want statusCode 408", end)
	}
	h.waitStats("expired call", func(st Stats) bool { return st.CallsExpired == 1 && st.Sessions == 0 && st.Answerers == 0 })
}

// fakeClock is an injected clock the test advances.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestSubscriptionRefreshAndExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	sweeps := make(chan struct{}, 1)
	h := newHarness(t, func(c *Config) {
		c.Now = clock.Now
		c.AuditTimeout = 40 * time.Millisecond
		c.hooks = &hooks{afterSweep: func() {
			select {
			case sweeps <- struct{}{}:
			default:
			}
		}}
	})
	// sweptSince waits until a janitor pass has run entirely after the call:
	// the pass that ends first after the drain may have started before it.
	sweptSince := func() {
		t.Helper()
		select {
		case <-sweeps: // a pass that ended earlier
		default:
		}
		for range 2 {
			select {
			case <-sweeps:
			case <-time.After(waitFor):
				t.Fatal("no janitor pass")
			}
		}
	}
	r := h.do(http.MethodPost, userBase("callee@example.com")+"/subscription", strings.Replace(subscribeBody, "3600", "70", 1))
	if r.status != http.StatusOK || dig(r.body, "subscribeResponse", "subscriptionParams", "expires") != 70.0 || dig(r.body, "subscribeResponse", "expires") != 70.0 {
		t.Fatalf("subscribe for 70 s: %d %s", r.status, r.raw)
	}
	path := str(r.body, "subscribeResponse", "subscription")
	ws := h.mustDial(str(r.body, "subscribeResponse", "subscriptionParams", "notificationChannel"))
	refresh := `{"subscribeRequest":{"expires":70,"service":["callMe"],"localization":"English_US","useTurn":true,"notificationType":"WebSocket"}}`
	clock.Advance(60 * time.Second)
	r = h.do(http.MethodPut, path, refresh)
	if r.status != http.StatusOK || dig(r.body, "subscribeResponse", "statusCode") != 0.0 || dig(r.body, "subscribeResponse", "subscriptionParams", "expires") != 70.0 {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if svc, _ := dig(r.body, "subscribeResponse", "subscriptionParams", "service").([]any); len(svc) != 1 || svc[0] != "callMe" {
		t.Errorf("refresh service = %v", svc)
	}
	clock.Advance(60 * time.Second) // 120 s after creation, 60 s after the refresh: still alive
	sweptSince()
	if st := h.g.Stats(); st.Subscriptions != 1 {
		t.Fatalf("refreshed subscription expired early: %+v", st)
	}
	clock.Advance(11 * time.Second)
	if code := ws.waitClosed(); code != websocket.CloseNormalClosure {
		t.Errorf("close code on expiry = %d, want 1000", code)
	}
	h.waitStats("expired subscription", empty)
	h.do(http.MethodPut, path, refresh).expect(t, "refresh after expiry", http.StatusNotFound, `{"subscribeResponse":{"statusCode":39,"reason":"Subscription does not exist"}}`)
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, nil)
	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	ws.next("respondCallUpdate", id)
	s2 := h.subscribe("other@example.com", "")
	ws2 := h.mustDial(s2.channelPath)
	o2 := newOfferer(t, h.f.api)
	h.start(s2, "sip:other@example.com", "sip:caller@example.com", o2.offer(t), nil) // still ringing or answering

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*wsClient{ws, ws2} {
		if code := c.waitClosed(); code != websocket.CloseGoingAway {
			t.Errorf("close code on shutdown = %d, want 1001", code)
		}
	}
	ws.quiet(20 * time.Millisecond)
	if st := h.g.Stats(); !empty(st) {
		t.Errorf("after Shutdown stats = %+v, want nothing open", st)
	}
	h.do(http.MethodPut, s.sessionPath(id), `{"callMeRequest":{"type":"audit"}}`).
		expect(t, "request after shutdown", http.StatusServiceUnavailable, `{"callControlResponse":{"statusCode":503,"reason":"Gateway shutting down"}}`)
	if err := h.g.EndCall(id, 0, ""); !errors.Is(err, ErrClosed) {
		t.Errorf("EndCall after Shutdown = %v, want ErrClosed", err)
	}
	if err := h.g.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	// Nothing of the gateway may outlive Shutdown.
	h.srv.Close()
	h.client.CloseIdleConnections()
	ws.close()
	ws2.close()
	_ = o.pc.Close()
	_ = o2.pc.Close()
	goleak.VerifyNone(t)
}

func TestUnsubscribeDropsSessions(t *testing.T) {
	h := newHarness(t, nil)
	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	ws.next("respondCallUpdate", id)
	h.do(http.MethodDelete, s.path, nil).expect(t, "DELETE subscription with a live call", http.StatusOK, `{"subscribeResponse":{"statusCode":0}}`)
	ws.waitClosed()
	ws.quiet(20 * time.Millisecond) // no callEnd
	h.do(http.MethodPut, s.sessionPath(id), `{"callMeRequest":{"type":"audit"}}`).
		expect(t, "audit after unsubscribe", http.StatusNotFound, `{"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}`)
	h.waitStats("unsubscribe dropped the call", empty)
}

func TestConfigValidation(t *testing.T) {
	ok := func() (Answerer, error) { return nil, errAnswerBoom }
	tests := []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"no answerer", func(c *Config) { c.NewAnswerer = nil }, "NewAnswerer is required"},
		{"token without realms", func(c *Config) { c.Mode = ModeToken }, "at least one realm"},
		{"bad realm key", func(c *Config) { c.Mode = ModeToken; c.Realms = map[string]string{"r": "short"} }, "token key must be 16 or 32 characters, got 5"},
		{"ratio above 1", func(c *Config) { c.RejectRatio = 1.5 }, "reject ratio"},
		{"HTTP reject status 603", func(c *Config) { c.RejectRatio = 0.1; c.RejectMode = RejectHTTP; c.RejectStatus = 603 }, "not an HTTP error status"},
		{"negative delay", func(c *Config) { c.AnswerDelay = -1 }, "negative delay"},
		{"unknown mode", func(c *Config) { c.Mode = 7 }, "unknown mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.NewAnswerer = ok
			tt.cfg(&cfg)
			g, err := New(cfg)
			if err == nil {
				_ = g.Shutdown(context.Background())
				t.Fatalf("New succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
	for _, s := range []string{"regular", "token"} {
		if m, err := ParseMode(s); err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("Token"); err == nil {
		t.Error("ParseMode(Token) succeeded, want error")
	}
	for _, s := range []string{"callend", "http"} {
		if m, err := ParseRejectMode(s); err != nil || m.String() != s {
			t.Errorf("ParseRejectMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseRejectMode("busy"); err == nil {
		t.Error("ParseRejectMode(busy) succeeded, want error")
	}
}

// stubAnswerer answers instantly with a fixed SDP, for load tests of the signalling.
type stubAnswerer struct{}

func (stubAnswerer) Answer(context.Context, string) (string, error) {
	return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", nil
}
func (stubAnswerer) Close() error { return nil }

func TestManyConcurrentCalls(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.NewAnswerer = func() (Answerer, error) { return stubAnswerer{}, nil }
		c.RingingDelay, c.AnswerDelay = time.Millisecond, 2*time.Millisecond
	})
	const calls = 100
	var wg sync.WaitGroup
	errs := make(chan string, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "callee" + string(rune('a'+i%26)) + "@example.com"
			th := &harness{t: t, g: h.g, srv: h.srv, url: h.url, client: h.client}
			s := th.subscribe(user, "")
			ws, _, err := th.dial(s.channelPath)
			if err != nil {
				errs <- err.Error()
				return
			}
			r := th.do(http.MethodPost, userBase(user)+"/callMe", callStartBody("sip:"+user, "sip:caller@example.com", "v=0\r\nm=audio 9 X 0\r\n", s.channel, nil))
			id := str(r.body, "callMeResponse", "sessionData")
			for _, want := range []string{"ringing", "respondCallUpdate"} {
				select {
				case n := <-ws.events:
					if str(n, "eventType") != want || str(n, "sessionParams", "sessionData") != id {
						errs <- "unexpected notification " + str(n, "eventType")
						return
					}
				case <-time.After(waitFor):
					errs <- "no " + want
					return
				}
			}
			th.do(http.MethodDelete, s.sessionPath(id), nil)
			th.do(http.MethodDelete, s.path, nil)
			ws.close()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := h.waitStats("all calls cleaned up", empty)
	if st.CallsAnswered != calls {
		t.Errorf("answered %d calls, want %d", st.CallsAnswered, calls)
	}
}

// tokenHarness starts a token-mode gateway with a CBC and an ECB realm.
func tokenHarness(t *testing.T) *harness {
	return newHarness(t, func(c *Config) {
		c.Mode = ModeToken
		c.Realms = map[string]string{"realm-test": "0123456789abcdef0123456789abcdef", "realm-ecb": "0123456789abcdef"}
		c.TokenValidity = time.Hour
		c.TokenSkew = time.Minute
	})
}

func mintSet(t *testing.T, realm, key, account, callee string, ts time.Time) token.Set {
	t.Helper()
	iv, err := token.RandomIV()
	if err != nil {
		t.Fatal(err)
	}
	set, err := token.MintSet(key, realm, account, callee, ts, iv)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestTokenCallFullSequence(t *testing.T) {
	h := tokenHarness(t)
	for _, realm := range []struct{ name, key string }{{"realm-test", "0123456789abcdef0123456789abcdef"}, {"realm-ecb", "0123456789abcdef"}} {
		t.Run(realm.name, func(t *testing.T) {
			set := mintSet(t, realm.name, realm.key, "caller@example.com", "callee@example.com", time.Now())
			q := "?tokenrealm=" + realm.name
			s := h.subscribe(set.AccountToken, q)
			if !strings.Contains(s.path, "/anonymous/"+set.AccountToken+"/subscription/") {
				t.Errorf("subscription path %q does not use the accountToken", s.path)
			}
			ws := h.mustDial(s.channelPath)
			o := newOfferer(t, h.f.api)
			id := h.start(s, set.ToToken, set.FromToken, o.offer(t), nil)
			h.put(s, id, map[string]any{"type": "audit"})
			ring := ws.next("ringing", id)
			if got := str(ring, "callNotificationParams", "remoteDisplayNumber"); got != "callee@example.com" {
				t.Errorf("remoteDisplayNumber = %q, want the decoded callee", got)
			}
			o.applyAnswer(t, str(ws.next("respondCallUpdate", id), "sessionParams", "sdp"))
			o.waitConnected(t)
			h.do(http.MethodDelete, s.sessionPath(id), nil).expect(t, "DELETE session", http.StatusOK, `{"callMeResponse":{"statusCode":0}}`)
			h.do(http.MethodDelete, s.path+q, nil).expect(t, "DELETE subscription", http.StatusOK, `{"subscribeResponse":{"statusCode":0}}`)
			ws.waitClosed()
			h.waitStats("token call cleaned up", empty)
		})
	}
}

func TestTokenRejects(t *testing.T) {
	h := tokenHarness(t)
	const key = "0123456789abcdef0123456789abcdef"
	now := time.Now()
	good := mintSet(t, "realm-test", key, "caller@example.com", "callee@example.com", now)
	other := mintSet(t, "realm-test", key, "mallory@example.com", "callee@example.com", now)
	old := mintSet(t, "realm-test", key, "caller@example.com", "callee@example.com", now.Add(-2*time.Hour))
	future := mintSet(t, "realm-test", key, "caller@example.com", "callee@example.com", now.Add(time.Hour))
	tampered := good.AccountToken[:10] + flipHex(good.AccountToken[10]) + good.AccountToken[11:]
	subPath := func(tok string) string { return userBase(tok) + "/subscription" }

	authz := func(code int, reason string) string {
		return `{"authorizationResponse":{"statusCode":` + itoa(code) + `,"reason":"` + reason + `"}}`
	}
	cc := func(code int, reason string) string {
		return `{"callControlResponse":{"statusCode":` + itoa(code) + `,"reason":"` + reason + `"}}`
	}
	subTests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"unknown realm", subPath(good.AccountToken) + "?tokenrealm=nope", 403, authz(64, "Invalid CallMe realm")},
		{"missing realm", subPath(good.AccountToken), 403, authz(64, "Invalid CallMe realm")},
		{"tampered MAC", subPath(tampered) + "?tokenrealm=realm-test", 403, authz(46, "Invalid CallMe token")},
		{"not a token", subPath("callee@example.com") + "?tokenrealm=realm-test", 403, authz(46, "Invalid CallMe token")},
		{"token of the other realm's key", subPath(good.AccountToken) + "?tokenrealm=realm-ecb", 403, authz(46, "Invalid CallMe token")},
		{"expired", subPath(old.AccountToken) + "?tokenrealm=realm-test", 403, authz(65, "CallMe token expired")},
		{"future", subPath(future.AccountToken) + "?tokenrealm=realm-test", 403, authz(65, "CallMe token not yet valid")},
	}
	for _, tt := range subTests {
		t.Run("subscribe/"+tt.name, func(t *testing.T) {
			h.do(http.MethodPost, tt.path, subscribeBody).expect(t, tt.name, tt.status, tt.body)
		})
	}

	q := "?tokenrealm=realm-test"
	s := h.subscribe(good.AccountToken, q)
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	callTests := []struct {
		name, user, to, from string
		status               int
		body                 string
	}{
		{"fromToken of another user", good.AccountToken, good.ToToken, other.FromToken, 403, cc(46, "Invalid CallMe token: fromToken does not match accountToken")},
		{"expired toToken", good.AccountToken, old.ToToken, good.FromToken, 403, cc(65, "CallMe token expired")},
		{"tampered fromToken", good.AccountToken, good.ToToken, good.FromToken[:70] + flipHex(good.FromToken[70]) + good.FromToken[71:], 403, cc(46, "Invalid CallMe token")},
		{"plain SIP to", good.AccountToken, "sip:callee@example.com", good.FromToken, 403, cc(46, "Invalid CallMe token")},
		{"path user is another account", other.AccountToken, other.ToToken, other.FromToken, 400, cc(37, "Invalid value: notifyChannelId")},
	}
	for _, tt := range callTests {
		t.Run("callStart/"+tt.name, func(t *testing.T) {
			h.do(http.MethodPost, userBase(tt.user)+"/callMe"+q, callStartBody(tt.to, tt.from, sdp, s.channel, nil)).expect(t, tt.name, tt.status, tt.body)
		})
	}
	t.Run("session under another path user", func(t *testing.T) {
		id := h.start(s, good.ToToken, good.FromToken, sdp, nil)
		h.do(http.MethodPut, userBase(other.AccountToken)+"/callMe/callSessions/"+id+q, `{"callMeRequest":{"type":"audit"}}`).
			expect(t, "audit with another accountToken", 404, cc(42, "Resource does not exist"))
		h.do(http.MethodPut, s.sessionPath(id)[:len(s.sessionPath(id))-len(q)], `{"callMeRequest":{"type":"audit"}}`).
			expect(t, "audit without tokenrealm", 403, cc(64, "Invalid CallMe realm"))
		h.do(http.MethodDelete, s.path+"?tokenrealm=nope", nil).expect(t, "unsubscribe with a bad realm", 403, authz(64, "Invalid CallMe realm"))
	})
}

func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func itoa(n int) string { return strconv.Itoa(n) }
