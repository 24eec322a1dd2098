package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// logRecords is a slog.Handler that hands every record, as "LEVEL message",
// to a channel.
type logRecords chan string

func (c logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (c logRecords) Handle(_ context.Context, r slog.Record) error {
	select {
	case c <- r.Level.String() + " " + r.Message:
	default: // the test reads what it waits for; never block the gateway
	}
	return nil
}
func (c logRecords) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c logRecords) WithGroup(string) slog.Handler      { return c }

// waitLog waits for n records containing want ("WARN call failed").
func waitLog(t *testing.T, logs logRecords, want string, n int) {
	t.Helper()
	deadline := time.After(waitFor)
	for n > 0 {
		select {
		case m := <-logs:
			if strings.Contains(m, want) {
				n--
			}
		case <-deadline:
			t.Fatalf("still waiting for %d log records %q", n, want)
		}
	}
}

// TestNotificationsQueuedUntilAttach holds a websocket handler right after
// its 101 (a test hook), places a call in that gap, and checks that its
// ringing and answer arrive once the socket attaches (issue 11: they were
// dropped and the call failed 30 s later). A notification made while the
// client reconnects arrives on the new socket too.
func TestNotificationsQueuedUntilAttach(t *testing.T) {
	release := make(chan struct{})
	logs := make(logRecords, 256)
	h := newHarness(t, func(c *Config) {
		c.RingingDelay, c.AnswerDelay = 0, 0
		c.NewAnswerer = func() (Answerer, error) { return stubAnswerer{}, nil }
		c.Logger = slog.New(logs)
		c.hooks = &hooks{afterUpgrade: func() { <-release }}
	})
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath) // the 101 is in; the gateway is paused
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", nil)
	waitLog(t, logs, "DEBUG notification queued", 2) // ringing and the answer
	close(release)
	ws.next("ringing", id)
	ws.next("respondCallUpdate", id)

	ws.close()
	h.waitStats("client socket gone", func(st Stats) bool { return st.Sockets == 0 })
	if err := h.g.EndCall(id, 0, "far end hung up"); err != nil {
		t.Fatal(err)
	}
	ws2 := h.mustDial(s.channelPath)
	ws2.next("callEnd", id)
	st := h.g.Stats()
	if st.NotificationsDropped != 0 || st.Notifications != 3 {
		t.Errorf("stats = %+v, want 3 notifications, none dropped", st)
	}
	ws.checkIDs()
	ws2.checkIDs()
}

// TestNotificationsDroppedAreCounted overflows the queue of a subscription
// that never opens its websocket: what does not fit is counted and logged.
func TestNotificationsDroppedAreCounted(t *testing.T) {
	logs := make(logRecords, 256)
	h := newHarness(t, func(c *Config) {
		c.RingingDelay, c.AnswerDelay, c.Ringing = 0, 0, false
		c.NewAnswerer = func() (Answerer, error) { return stubAnswerer{}, nil }
		c.Logger = slog.New(logs)
	})
	s := h.subscribe("callee@example.com", "")
	for range outboxSize + 2 {
		h.start(s, "sip:callee@example.com", "sip:caller@example.com", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", nil)
	}
	waitLog(t, logs, "WARN notifications dropped", 2)
	h.waitStats("answers queued or dropped", func(st Stats) bool { return st.CallsAnswered == outboxSize+2 })
	if st := h.g.Stats(); st.NotificationsDropped != 2 || st.Notifications != 0 {
		t.Errorf("stats = %+v, want 2 dropped, none sent", st)
	}
	h.do(http.MethodDelete, s.path, nil).expect(t, "unsubscribe", http.StatusOK, "")
	waitLog(t, logs, "WARN notifications dropped: subscription removed", 1)
	if st := h.g.Stats(); st.NotificationsDropped != outboxSize+2 {
		t.Errorf("dropped = %d after unsubscribe, want %d", st.NotificationsDropped, outboxSize+2)
	}
	if got := testutil.ToFloat64(h.g.metrics.dropped); got != outboxSize+2 {
		t.Errorf("loadgen_gateway_notifications_dropped_total = %v, want %d", got, outboxSize+2)
	}
}
