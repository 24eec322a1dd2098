package signal

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkNotificationDecode measures decoding one respondCallUpdate frame
// (with an SDP of realistic size) and its de-duplication, the work the
// websocket reader does per notification.
func BenchmarkNotificationDecode(b *testing.B) {
	sdp := "v=0\r\no=- 453082388367000 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for i := 0; i < 40; i++ {
		sdp += "a=candidate:" + strconv.Itoa(i) + " 1 udp 2130706431 127.0.0.1 5000" + strconv.Itoa(i) + " typ host\r\n"
	}
	frame := []byte(`{"notificationMessage":{"eventType":"respondCallUpdate","sessionParams":{"sessionData":"8577658a-47c2-4aa4-b5c9-1c9e04a6ea15","sdp":` +
		strconv.Quote(sdp) + `},"callNotificationParams":{"remoteName":"Stub Callee","remoteDisplayNumber":"callee@example.com"},"eventId":"dcdce61f-dde5-42bf-962c-557ac6fcf8d1"}}`)
	d := newDedup(dedupWindow)
	now := time.Now()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		n, key, ok := parseNotification(frame, now)
		if !ok || n.Type != EventRespondCallUpdate {
			b.Fatalf("parseNotification = %+v, %v", n, ok)
		}
		d.admit(key)
	}
}
