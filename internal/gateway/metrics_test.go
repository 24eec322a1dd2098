package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetrics places real calls (answered then deleted, ended by the far
// side, failed in the gateway) and checks every loadgen_gateway_* series,
// after a lint of the registry.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) { c.Registerer = reg })
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
	gauges := func(subs, sockets, sessions int) string {
		return `# HELP loadgen_gateway_subscriptions_open Subscriptions open.
# TYPE loadgen_gateway_subscriptions_open gauge
loadgen_gateway_subscriptions_open ` + itoa(subs) + `
# HELP loadgen_gateway_websockets_open Notification websockets open.
# TYPE loadgen_gateway_websockets_open gauge
loadgen_gateway_websockets_open ` + itoa(sockets) + `
# HELP loadgen_gateway_sessions_open Call sessions open.
# TYPE loadgen_gateway_sessions_open gauge
loadgen_gateway_sessions_open ` + itoa(sessions) + `
`
	}
	open := []string{"loadgen_gateway_subscriptions_open", "loadgen_gateway_websockets_open", "loadgen_gateway_sessions_open"}

	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	answered := func() (string, *offerer) {
		o := newOfferer(t, h.f.api)
		id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
		ws.next("ringing", id)
		o.applyAnswer(t, str(ws.next("respondCallUpdate", id), "sessionParams", "sdp"))
		return id, o
	}
	id1, _ := answered()
	id2, _ := answered()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(gauges(1, 1, 2)), open...); err != nil {
		t.Errorf("two calls up: %v", err)
	}
	h.do(http.MethodDelete, s.sessionPath(id1), nil).expect(t, "DELETE session", http.StatusOK, "")
	if err := h.g.EndCall(id2, 0, "bye"); err != nil {
		t.Fatal(err)
	}
	ws.next("callEnd", id2)
	h.f.fail = errAnswerBoom
	id3 := h.start(s, "sip:callee@example.com", "sip:caller@example.com", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", nil)
	ws.next("ringing", id3)
	ws.next("callEnd", id3)
	h.do(http.MethodDelete, s.path, nil).expect(t, "DELETE subscription", http.StatusOK, "")
	ws.waitClosed()
	h.waitStats("nothing open", empty)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(gauges(0, 0, 0)), open...); err != nil {
		t.Errorf("after the calls: %v", err)
	}

	const counters = `# HELP loadgen_gateway_calls_answered_total Calls whose answer the gateway sent.
# TYPE loadgen_gateway_calls_answered_total counter
loadgen_gateway_calls_answered_total 2
# HELP loadgen_gateway_calls_ended_total Calls ended, by reason.
# TYPE loadgen_gateway_calls_ended_total counter
loadgen_gateway_calls_ended_total{reason="audit_timeout"} 0
loadgen_gateway_calls_ended_total{reason="client_delete"} 1
loadgen_gateway_calls_ended_total{reason="failed"} 1
loadgen_gateway_calls_ended_total{reason="rejected"} 0
loadgen_gateway_calls_ended_total{reason="remote_end"} 1
loadgen_gateway_calls_ended_total{reason="shutdown"} 0
loadgen_gateway_calls_ended_total{reason="subscription_expired"} 0
loadgen_gateway_calls_ended_total{reason="unsubscribed"} 0
# HELP loadgen_gateway_calls_failed_total Calls the gateway ended with callEnd 488 because its media side failed, by failed step.
# TYPE loadgen_gateway_calls_failed_total counter
loadgen_gateway_calls_failed_total{reason="answer"} 1
loadgen_gateway_calls_failed_total{reason="answer_reoffer"} 0
loadgen_gateway_calls_failed_total{reason="create_answerer"} 0
# HELP loadgen_gateway_notifications_dropped_total Notifications never written to a websocket (queue full, subscription removed, socket closed).
# TYPE loadgen_gateway_notifications_dropped_total counter
loadgen_gateway_notifications_dropped_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(counters),
		"loadgen_gateway_calls_answered_total", "loadgen_gateway_calls_ended_total",
		"loadgen_gateway_calls_failed_total", "loadgen_gateway_notifications_dropped_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg); n != 3+1+8+3+1 {
		t.Errorf("%d series, want 16", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint after the calls: %v %+v", err, problems)
	}

	// A registry serves one gateway.
	if _, err := New(Config{NewAnswerer: h.f.New, Registerer: reg}); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("second gateway on one registry: %v, want a registration error", err)
	}
}
