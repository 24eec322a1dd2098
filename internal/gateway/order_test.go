package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pauseResponses is a hook that holds every written response back for d
// before it is flushed, the way a slow network or a busy server would.
func pauseResponses(d time.Duration) *hooks {
	return &hooks{beforeFlush: func() { time.Sleep(d) }}
}

// after fails unless notification n was received after response r.
func after(t *testing.T, n map[string]any, r resp, what string) {
	t.Helper()
	if got := n[seqKey].(int64); got < r.seq {
		t.Errorf("%s: notification %s received (#%d) before the response (#%d)", what, str(n, "eventType"), got, r.seq)
	}
}

// TestNotificationsFollowResponses checks, for every request that causes
// notifications, that the client receives the response first, with an
// answerer that answers at once and each response held back before its
// flush for longer than any delay: a notification sent before the flush, or
// with its delay counted from anything but the flush, arrives first.
//
// (The delays are not zero: the gateway sends nothing before the response
// is flushed, but the client reads the two on different connections, so a
// notification sent right after the flush may still be read first.)
func TestNotificationsFollowResponses(t *testing.T) {
	const delay = 30 * time.Millisecond
	h := newHarness(t, func(c *Config) {
		c.RingingDelay, c.AnswerDelay, c.ReofferDelay = delay, delay, delay
		c.NewAnswerer = func() (Answerer, error) { return stubAnswerer{}, nil }
		c.hooks = pauseResponses(2 * delay)
	})
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	const sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	for i := range 2 {
		r := h.do(http.MethodPost, userBase(s.user)+"/callMe", callStartBody("sip:"+s.user, "sip:caller@example.com", sdp, s.channel,
			map[string]any{"supported": []string{"earlymedia"}}))
		if r.status != http.StatusOK {
			t.Fatalf("callStart %d: %d %s", i, r.status, r.raw)
		}
		id := str(r.body, "callMeResponse", "sessionData")
		for _, ev := range []string{"ringing", "sessionProgress", "respondCallUpdate"} {
			after(t, ws.next(ev, id), r, "callStart")
		}
		for _, dir := range []string{"inactive", "sendrecv"} {
			r := h.do(http.MethodPut, s.sessionPath(id), map[string]any{"callMeRequest": map[string]any{"type": "startCallUpdate", "sdp": sdp + "a=" + dir + "\r\n"}})
			r.expect(t, "startCallUpdate "+dir, http.StatusOK, `{"callMeResponse":{"statusCode":0}}`)
			after(t, ws.next("respondCallUpdate", id), r, "startCallUpdate "+dir)
		}
	}
	// An unsubscribe closes the websocket only after its response.
	r := h.do(http.MethodDelete, s.path, nil)
	r.expect(t, "DELETE subscription", http.StatusOK, `{"subscribeResponse":{"statusCode":0}}`)
	ws.waitClosed()
	ws.checkIDs()
}

// TestSDKHoldUnhold plays the reference SDK's hold and unhold (§9.1): the
// SDK marks its operation pending only once the PUT's 200 is in, and an
// answer that arrives before that breaks it (issue 11: it landed "On Hold"
// with localHold=false and refused the unhold). Hold, unhold, hold, unhold,
// each PUT's response held back before its flush: each PUT is answered, then
// its respondCallUpdate arrives, with the right direction.
func TestSDKHoldUnhold(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ReofferDelay = 30 * time.Millisecond
		c.hooks = pauseResponses(60 * time.Millisecond)
	})
	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	o.applyAnswer(t, str(ws.next("respondCallUpdate", id), "sessionParams", "sdp"))
	o.waitConnected(t)

	for _, hold := range []bool{true, false, true, false} {
		offer := o.offer(t)
		if hold {
			offer = setDirection(offer, "inactive")
		}
		r := h.do(http.MethodPut, s.sessionPath(id), map[string]any{"callMeRequest": map[string]any{"type": "startCallUpdate", "sdp": offer}})
		r.expect(t, "startCallUpdate", http.StatusOK, `{"callMeResponse":{"statusCode":0}}`)
		n := ws.next("respondCallUpdate", id)
		after(t, n, r, "SDK hold="+strconv.FormatBool(hold))
		answer := str(n, "sessionParams", "sdp")
		if got := strings.Contains(answer, "a=inactive"); got != hold {
			t.Fatalf("hold=%v: answer inactive = %v:\n%s", hold, got, answer)
		}
		o.applyAnswer(t, answer)
	}
	if got := o.pc.ConnectionState().String(); got != "connected" {
		t.Errorf("after hold/unhold twice the offerer is %s, want connected", got)
	}
	ws.checkIDs()
}
