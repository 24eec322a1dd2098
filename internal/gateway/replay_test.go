package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// trafficPath is the recorded SDK traffic, relative to this package directory
// (CI checks the shared directory out beside the clone).
var trafficPath = filepath.Join("..", "..", "..", "shared", "protocol", "recorded", "sdk-traffic.json")

type recorded struct {
	Scenarios []struct {
		Name    string `json:"name"`
		Traffic []struct {
			Kind     string            `json:"kind"`
			Event    string            `json:"event"`
			Dir      string            `json:"direction"`
			Method   string            `json:"method"`
			Path     string            `json:"path"`
			Query    string            `json:"query"`
			Headers  map[string]string `json:"headers"`
			Body     json.RawMessage   `json:"body"`
			Data     json.RawMessage   `json:"data"`
			Response *struct {
				Status  int               `json:"status"`
				Headers map[string]string `json:"headers"`
				Body    json.RawMessage   `json:"body"`
			} `json:"response"`
		} `json:"serverTraffic"`
	} `json:"scenarios"`
}

// TestReplayRecordedSDKTraffic replays every HTTP request and client websocket
// frame the reference SDK sent in every recorded scenario, with the ids the
// gateway hands out substituted for the recorded ones. Every request the
// recorded stand-in answered with 2xx must get 2xx here, with the same CORS
// headers and the same response envelope; OPTIONS preflights get 204.
func TestReplayRecordedSDKTraffic(t *testing.T) {
	data, err := os.ReadFile(trafficPath)
	if err != nil {
		t.Fatalf("recorded traffic %s is missing (the shared directory must sit beside the clone): %v", trafficPath, err)
	}
	var rec recorded
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("parse %s: %v", trafficPath, err)
	}
	if len(rec.Scenarios) == 0 {
		t.Fatal("no recorded scenarios")
	}
	total := 0
	for _, sc := range rec.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			h := newHarness(t, nil)
			if sc.Name == "token" {
				// The recorded SDK used tokens minted with the key of the
				// shared test vectors; validate them for real, at the
				// recorded time.
				recordedAt := time.Date(2026, 11, 24, 1, 58, 0, 0, time.UTC)
				h = newHarness(t, func(c *Config) {
					c.Mode = ModeToken
					c.Realms = map[string]string{"realm-test": "0123456789abcdef0123456789abcdef"}
					c.Now = func() time.Time { return recordedAt }
				})
			}
			ids := map[string]string{} // recorded id -> id from this gateway
			mapIDs := func(s string) string {
				for old, nu := range ids {
					s = strings.ReplaceAll(s, old, nu)
				}
				return s
			}
			var ws *wsClient
			for i, e := range sc.Traffic {
				switch {
				case e.Kind == "ws" && e.Event == "upgrade":
					ws = h.mustDial(mapIDs(e.Path))
				case e.Kind == "ws" && e.Dir == "in":
					if ws == nil {
						t.Fatalf("event %d: client frame before the websocket", i)
					}
					if err := ws.conn.WriteMessage(websocket.TextMessage, e.Data); err != nil {
						t.Fatalf("event %d: write frame: %v", i, err)
					}
				case e.Kind == "ws" && e.Event == "close":
					if ws != nil {
						ws.close()
					}
				case e.Kind == "http":
					if e.Response == nil || e.Response.Status < 200 || e.Response.Status > 299 {
						continue // the recorded stand-in refused it on purpose (error scenarios)
					}
					total++
					path := mapIDs(e.Path)
					if e.Query != "" {
						path += "?" + e.Query
					}
					var body any
					if len(e.Body) > 0 && string(e.Body) != "null" {
						body = mapIDs(string(e.Body))
					}
					hdr := []string{"Origin", e.Headers["origin"]}
					for _, k := range []string{"access-control-request-method", "access-control-request-headers"} {
						if v := e.Headers[k]; v != "" {
							hdr = append(hdr, k, v)
						}
					}
					r := h.do(e.Method, path, body, hdr...)
					what := e.Method + " " + e.Path
					if r.status != e.Response.Status && (r.status < 200 || r.status > 299) {
						t.Fatalf("event %d %s: status %d (%s), recorded %d", i, what, r.status, r.raw, e.Response.Status)
					}
					if e.Method == http.MethodOptions && r.status != http.StatusNoContent {
						t.Errorf("event %d %s: status %d, want 204", i, what, r.status)
					}
					for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Vary"} {
						if want, got := e.Response.Headers[k], r.header.Get(k); got != want {
							t.Errorf("event %d %s: %s = %q, recorded %q", i, what, k, got, want)
						}
					}
					var want map[string]any
					if err := json.Unmarshal(e.Response.Body, &want); err != nil || want == nil {
						continue
					}
					for k := range want {
						if r.body[k] == nil || dig(r.body, k, "statusCode") != dig(want, k, "statusCode") {
							t.Errorf("event %d %s: body %s, recorded envelope %s", i, what, r.raw, e.Response.Body)
						}
					}
					// Learn the ids this gateway handed out.
					if sub := str(want, "subscribeResponse", "subscription"); sub != "" && e.Method == http.MethodPost {
						ids[lastSeg(sub)] = lastSeg(str(r.body, "subscribeResponse", "subscription"))
						ids[lastSeg(str(want, "subscribeResponse", "subscriptionParams", "notificationChannel"))] =
							lastSeg(str(r.body, "subscribeResponse", "subscriptionParams", "notificationChannel"))
					}
					if sd := str(want, "callMeResponse", "sessionData"); sd != "" {
						ids[sd] = str(r.body, "callMeResponse", "sessionData")
					}
				}
			}
			if ws != nil {
				ws.checkIDs()
			}
		})
	}
	if total < 60 {
		t.Errorf("replayed only %d requests", total)
	}
}

func lastSeg(p string) string { return p[strings.LastIndex(p, "/")+1:] }
