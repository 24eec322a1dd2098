package signal

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzReceived is the receive instant given to parseNotification.
var fuzzReceived = time.Unix(1700000000, 0)

// recordedFrames returns every websocket frame of the recorded SDK traffic
// (both directions: the notifications it was sent and the pings it sent),
// or nil when the shared fixture is not checked out beside the clone.
func recordedFrames(f *testing.F) [][]byte {
	f.Helper()
	raw, err := os.ReadFile(fixturePath)
	if err != nil {
		f.Logf("no recorded seeds: %v", err)
		return nil
	}
	var fx struct {
		Scenarios []fixtureScenario `json:"scenarios"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		f.Fatalf("fixture: %v", err)
	}
	var out [][]byte
	for _, sc := range fx.Scenarios {
		for _, e := range sc.ServerTraffic {
			if e.Kind == "ws" && !isNull(e.Data) {
				out = append(out, e.Data)
			}
		}
	}
	return out
}

// compressedSeed is sdpFormat "compressed" (base64 of zlib) for seeds.
func compressedSeed(s string) string {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// FuzzParseNotification feeds arbitrary frames to the websocket
// notification decoder. Properties:
//   - parseNotification never panics and is total: it either rejects the
//     frame (ok false, zero Notification and key) or returns a typed
//     Notification with a non-empty Type, the frame as Raw (a copy), the
//     receive time, and an EventID that is the de-duplication key's id
//     ("" when the key is the missing one);
//   - a "compressed" SDP decodes to an SDP or an error, never both, and
//     never to more than MaxBodyBytes;
//   - the de-duplication window admits a frame once, and again only after
//     dedupWindow other ids have been admitted.
func FuzzParseNotification(f *testing.F) {
	for _, fr := range recordedFrames(f) {
		f.Add(fr)
	}
	for _, s := range []string{
		``,
		`null`,
		`{}`,
		`{"notificationMessage":null}`,
		`{"notificationMessage":{"eventType":""}}`,
		`{"notificationMessage":{"eventType":"callEnd","eventId":null,"sessionParams":{"statusCode":"486","reasonText":"Busy"}}}`,
		`{"notificationMessage":{"eventType":"respondCallUpdate","statusCode":49,"eventId":12345}}`,
		`{"notificationMessage":{"eventType":"ringing","eventId":{"a":[1,2]},"sessionParams":{"retryAfter":1e300}}}`,
		`{"notificationMessage":{"eventType":"callEnd","sessionParams":{"statusCode":-1e30}}}`,
		`{"notificationMessage":{"eventType":"respondCallUpdate","eventId":"e","sessionParams":{"sdpFormat":"compressed","sdp":"` + compressedSeed("v=0\r\n") + `"}}}`,
		`{"notificationMessage":{"eventType":"respondCallUpdate","sessionParams":{"sdpFormat":"compressed","sdp":"eJw="}}}`,
		`{"notificationMessage":{"eventType":"x","customParameters":[{"name":"X-A","value":"b"}]}}`,
		`{"notificationMessage":{"eventType":"x","customParameters":"nope"}}`,
		`{"message_type":"ping"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		n, key, ok := parseNotification(frame, fuzzReceived)
		if !ok {
			if n.Type != "" || n.Raw != nil || key != (eventKey{}) {
				t.Fatalf("rejected frame gave %+v, %+v; want zero values", n, key)
			}
			return
		}
		if n.Type == "" {
			t.Fatalf("accepted frame %q has no Type", frame)
		}
		if !bytes.Equal(n.Raw, frame) {
			t.Fatalf("Raw = %q, want the frame %q", n.Raw, frame)
		}
		if len(frame) > 0 && &n.Raw[0] == &frame[0] {
			t.Fatalf("Raw aliases the read buffer")
		}
		if !n.Received.Equal(fuzzReceived) {
			t.Fatalf("Received = %v, want %v", n.Received, fuzzReceived)
		}
		if n.EventID != key.id || key.missing && key.id != "" {
			t.Fatalf("EventID %q, key %+v: want the key's id", n.EventID, key)
		}
		if n.SDPFormat == "compressed" {
			sdp, err := decodeCompressedSDP(n.SDP)
			if err != nil && sdp != "" {
				t.Fatalf("decodeCompressedSDP = %q and error %v", sdp, err)
			}
			if len(sdp) > MaxBodyBytes {
				t.Fatalf("decodeCompressedSDP gave %d bytes, above %d", len(sdp), MaxBodyBytes)
			}
		}
		d := newDedup(dedupWindow)
		if !d.admit(key) {
			t.Fatalf("first admit(%+v) = false", key)
		}
		if d.admit(key) {
			t.Fatalf("second admit(%+v) = true", key)
		}
		for i := range dedupWindow - 1 {
			d.admit(eventKey{id: "other-" + strconv.Itoa(i)})
		}
		if d.admit(key) {
			t.Fatalf("admit(%+v) after %d others = true, want it still remembered", key, dedupWindow-1)
		}
		d.admit(eventKey{id: "one-more"})
		if !d.admit(key) {
			t.Fatalf("admit(%+v) after %d others = false, want it forgotten", key, dedupWindow)
		}
	})
}

// FuzzNotificationRoundTrip builds a notification frame from arbitrary
// field values with encoding/json and decodes it. Properties: every field
// comes back as it was sent (a numeric statusCode, or one sent as a
// string, becomes StatusCode), and eventId survives both as a JSON string
// and as a JSON number.
func FuzzNotificationRoundTrip(f *testing.F) {
	f.Add("respondCallUpdate", "6e372ff8-b579-455d-a971-8008107227a4", "8577658a-47c2-4aa4-b5c9-1c9e04a6ea15", "v=0\r\n", "", 0, true, "Stub Callee")
	f.Add("callEnd", "", "s", "", "", 486, false, "")
	f.Add("respondCallUpdate", "1", "s", "", "", 49, true, "x\x00y")
	f.Add("ringing", "\u2028", "\"", "", "url", -7, false, "\\")
	f.Fuzz(func(t *testing.T, typ, id, session, sdp, format string, status int, statusAsString bool, name string) {
		for _, s := range []string{typ, id, session, sdp, format, name} {
			if !utf8.ValidString(s) {
				return // encoding/json replaces invalid UTF-8: not a round trip
			}
		}
		var code any = status
		if statusAsString {
			code = strconv.Itoa(status)
		}
		if status > 1<<53 || status < -(1<<53) {
			return // beyond float64's exact integers
		}
		msg := map[string]any{
			"eventType": typ,
			"eventId":   id,
			"sessionParams": map[string]any{
				"sessionData": session, "sdp": sdp, "sdpFormat": format, "statusCode": code,
			},
			"callNotificationParams": map[string]any{"remoteName": name},
		}
		frame, err := json.Marshal(map[string]any{"notificationMessage": msg})
		if err != nil {
			t.Fatal(err)
		}
		n, key, ok := parseNotification(frame, fuzzReceived)
		if ok != (typ != "") {
			t.Fatalf("parseNotification(%s) ok = %v, want %v", frame, ok, typ != "")
		}
		if !ok {
			return
		}
		want := Notification{
			Type: EventType(typ), EventID: id, SessionData: session, SDP: sdp, SDPFormat: format,
			StatusCode: status, RemoteName: name, Received: fuzzReceived, Raw: frame,
		}
		if !notificationsEqual(n, want) || key != (eventKey{id: id}) {
			t.Fatalf("parseNotification(%s) = %+v, key %+v; want %+v", frame, n, key, want)
		}
		if _, err := strconv.ParseUint(id, 10, 53); err == nil && !strings.HasPrefix(id, "0") {
			// The same id as a JSON number keeps its text.
			msg["eventId"] = json.Number(id)
			frame, _ := json.Marshal(map[string]any{"notificationMessage": msg})
			if n, _, _ := parseNotification(frame, fuzzReceived); n.EventID != id {
				t.Fatalf("numeric eventId %s decoded as %q", id, n.EventID)
			}
		}
	})
}

func notificationsEqual(a, b Notification) bool {
	return a.Type == b.Type && a.EventID == b.EventID && a.SessionData == b.SessionData &&
		a.SDP == b.SDP && a.SDPFormat == b.SDPFormat && a.StatusCode == b.StatusCode &&
		a.RemoteName == b.RemoteName && a.Received.Equal(b.Received) && bytes.Equal(a.Raw, b.Raw) &&
		a.Err == nil && a.CustomParameters == nil
}

// FuzzDedup drives the eventId de-duplication window with an arbitrary
// sequence of ids ("," separates them; "~" stands for a missing eventId)
// and an arbitrary window size, against a model: an id is admitted iff it
// is not among the last size admitted ids.
func FuzzDedup(f *testing.F) {
	f.Add(uint8(100), "a,b,a,c,~,~,,a")
	f.Add(uint8(1), "a,a,b,a,b,b")
	f.Add(uint8(2), "a,b,c,a,b,c,c,b,a")
	f.Add(uint8(0), "x,,~,x,")
	f.Fuzz(func(t *testing.T, size uint8, ids string) {
		window := int(size)%128 + 1
		d := newDedup(window)
		var admitted []eventKey
		for i, id := range strings.Split(ids, ",") {
			k := eventKey{id: id}
			if id == "~" {
				k = eventKey{missing: true}
			}
			recent := admitted[max(0, len(admitted)-window):]
			want := !slices.Contains(recent, k)
			if got := d.admit(k); got != want {
				t.Fatalf("window %d, id #%d %+v: admit = %v, want %v (recent %v)", window, i, k, got, want, recent)
			}
			if want {
				admitted = append(admitted, k)
			}
			if len(d.seen) > window {
				t.Fatalf("window %d remembers %d ids", window, len(d.seen))
			}
		}
	})
}
