package signal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNormalizeSIP(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain address", "callee@example.com", "sip:callee@example.com"},
		{"already sip", "sip:callee@example.com", "sip:callee@example.com"},
		{"sips scheme dropped", "sips:callee@example.com", "sip:callee@example.com"},
		{"tel scheme", "tel:+15550100", "sip:+15550100"},
		{"spaces trimmed", "  caller@example.com \t", "sip:caller@example.com"},
		{"phone with separators", "+1 (555) 010-0000@example.com", "sip:+15550100000@example.com"},
		{"phone with dots", "555.010.0000@example.com", "sip:5550100000@example.com"},
		{"phone with star", "*67 555-0100@example.com", "sip:*675550100@example.com"},
		{"phone with hash", "#31#555@example.com", "sip:#31#555@example.com"},
		{"phone without domain", "+44 20 7946 0000", "sip:+442079460000"},
		{"inner plus is a separator", "+1+555+0100", "sip:+15550100"},
		{"not a phone: letters", "call-me.now@example.com", "sip:call-me.now@example.com"},
		{"not a phone: no digits", "(-)@example.com", "sip:(-)@example.com"},
		{"user only", "alice", "sip:alice"},
		{"last @ splits", "a@b@example.com", "sip:a@b@example.com"},
		{"@ at start", "@example.com", "sip:@example.com"},
		{"@ at end", "alice@", "sip:alice@"},
		{"scheme up to last colon", "sip:x:alice@example.com", "sip:alice@example.com"},
		{"display name", "Load Tester<sip:caller@example.com>", "Load Tester<sip:caller@example.com>"},
		{"display name, bare uri", "Load Tester<caller@example.com>", "Load Tester<sip:caller@example.com>"},
		{"display name, phone", "Desk<+1 555 0100@example.com>", "Desk<sip:+15550100@example.com>"},
		{"empty", "", ""},
		{"blank", "   ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NormalizeSIP(tc.in)
			if got != tc.want {
				t.Errorf("NormalizeSIP(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := NormalizeSIP(got); again != got {
				t.Errorf("NormalizeSIP not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestEscapeSegment(t *testing.T) {
	tests := []struct{ in, want string }{
		{"callee@example.com", "callee@example.com"},
		{"sip:callee@example.com", "sip:callee@example.com"},
		{"callee one@example.com", "callee%20one@example.com"},
		{"a/b?c#d%e", "a%2Fb%3Fc%23d%25e"},
		{"+1(555);x=y,z!$&'*~_.-", "+1(555);x=y,z!$&'*~_.-"},
		{"ü\"<>", "%C3%BC%22%3C%3E"},
		{"05A24A0Atn8DAwEUQ60stoWi", "05A24A0Atn8DAwEUQ60stoWi"},
	}
	for _, tc := range tests {
		if got := escapeSegment(tc.in); got != tc.want {
			t.Errorf("escapeSegment(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPathUserOnTheWire checks that {U} reaches the gateway as the SDK
// sends it: '@' and ':' literal, space and '/' encoded.
func TestPathUserOnTheWire(t *testing.T) {
	g := newGateway(t, nil)
	c := newTestClient(t, g, nil)
	for _, tc := range []struct{ user, want string }{
		{"sip:callee@example.com", "/rest/version/1/anonymous/sip:callee@example.com/subscription"},
		{"a b/c@example.com", "/rest/version/1/anonymous/a%20b%2Fc@example.com/subscription"},
	} {
		subscribe(t, c, RegularCredentials(tc.user, "caller@example.com"))
		if r := g.next("subscribe"); r.Path != tc.want {
			t.Errorf("user %q: path %q, want %q", tc.user, r.Path, tc.want)
		}
	}
}

func TestDedupWindow(t *testing.T) {
	id := func(s string) eventKey { return eventKey{id: s} }
	missing := eventKey{missing: true}
	tests := []struct {
		name string
		keys []eventKey
		want []bool
	}{
		{"unique", []eventKey{id("a"), id("b"), id("c")}, []bool{true, true, true}},
		{"repeat", []eventKey{id("a"), id("a"), id("b"), id("a")}, []bool{true, false, true, false}},
		{"missing counts as one value", []eventKey{missing, id("a"), missing, missing}, []bool{true, true, false, false}},
		{"empty string differs from missing", []eventKey{missing, id(""), id("")}, []bool{true, true, false}},
	}
	for _, tc := range tests {
		d := newDedup(dedupWindow)
		for i, k := range tc.keys {
			if got := d.admit(k); got != tc.want[i] {
				t.Errorf("%s: admit #%d (%+v) = %v, want %v", tc.name, i, k, got, tc.want[i])
			}
		}
	}

	// The window holds the last 100 processed ids: after 100 others, an id
	// is new again; after 99 others it is still a duplicate.
	d := newDedup(dedupWindow)
	d.admit(id("first"))
	for i := 0; i < 99; i++ {
		d.admit(id(fmt.Sprint(i)))
	}
	if d.admit(id("first")) {
		t.Error("id forgotten after 99 others")
	}
	d.admit(id("one more"))
	if !d.admit(id("first")) {
		t.Error("id still remembered after 100 others")
	}
}

func TestNewClientConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{BaseURL: "https://gw.example.com:443"}, ""},
		{"token", Config{BaseURL: "http://127.0.0.1:8089", Mode: ModeToken, Realm: "r"}, ""},
		{"no base", Config{}, "base URL: empty"},
		{"bad scheme", Config{BaseURL: "ftp://h:1"}, "scheme must be http or https"},
		{"path in base", Config{BaseURL: "http://h:1/rest"}, "scheme://host:port only"},
		{"no host", Config{BaseURL: "http://"}, "no host"},
		{"bad ws scheme", Config{BaseURL: "http://h:1", WSURL: "http://h:1"}, "scheme must be ws or wss"},
		{"token without realm", Config{BaseURL: "http://h:1", Mode: ModeToken}, "token mode needs a realm"},
		{"realm in regular mode", Config{BaseURL: "http://h:1", Realm: "r"}, "realm is only used in token mode"},
		{"unknown mode", Config{BaseURL: "http://h:1", Mode: 7}, "unknown mode 7"},
		{"negative expires", Config{BaseURL: "http://h:1", Expires: -1}, "expires must not be negative"},
		{"negative timeout", Config{BaseURL: "http://h:1", RequestTimeout: -time.Second}, "request timeout must not be negative"},
		{"negative buffer", Config{BaseURL: "http://h:1", NotificationBuffer: -1}, "notification buffer must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				defer c.Close()
				got := c.Config()
				if got.Expires != DefaultExpires || got.PingInterval != DefaultPingInterval || got.AuditInterval != DefaultAuditInterval ||
					got.AuditTimeout != DefaultAuditTimeout || got.RequestTimeout != DefaultRequestTimeout || got.RefreshFloor != DefaultRefreshFloor {
					t.Errorf("defaults not applied: %+v", got)
				}
				if c.agent != DefaultAgent || DefaultAgent != "callme-js-sdk/5.2.0 loadgen/dev" {
					t.Errorf("agent %q", c.agent)
				}
				if !strings.HasPrefix(c.wsBase, "ws") {
					t.Errorf("ws base %q", c.wsBase)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewClient error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	inner := errors.New(`gateway said "Invalid CallMe token"`)
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Step: StepSubscribe, HTTPStatus: 403, Code: 46, Kind: KindTokenRejected, Err: inner},
			`signal: subscribe: token rejected: HTTP 403, statusCode 46: gateway said "Invalid CallMe token"`},
		{&Error{Step: StepWebsocket, Kind: KindWebsocketDropped, Err: errors.New("EOF")}, "signal: websocket: websocket dropped: EOF"},
		{&Error{Step: StepAudit, Code: 42, Kind: KindHTTPStatus}, "signal: audit: http status: statusCode 42"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	wrapped := fmt.Errorf("call 7: %w", &Error{Step: StepCallStart, Kind: KindCanceled, Err: context.Canceled})
	var e *Error
	if !errors.As(wrapped, &e) || e.Step != StepCallStart || !errors.Is(wrapped, context.Canceled) {
		t.Error("errors.As/Is through a wrapped *Error failed")
	}
}

func TestStatusErrorParsing(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		wantCode    int
		wantKind    ErrorKind
		wantControl bool
		wantText    string
	}{
		{"callControlResponse wins", 404, `{"callControlResponse":{"statusCode":42},"callMeResponse":{"statusCode":9}}`, 42, KindHTTPStatus, true, ""},
		{"top-level needs reason", 500, `{"statusCode":46}`, 0, KindHTTPStatus, false, ""},
		{"top-level with reason", 500, `{"statusCode":46,"reason":"bad"}`, 46, KindTokenRejected, false, `"bad"`},
		{"subscribeResponse", 400, `{"subscribeResponse":{"statusCode":35,"reason":"Service not enabled"}}`, 35, KindHTTPStatus, false, "Service not enabled"},
		{"401 always token", 401, ``, 0, KindTokenRejected, false, "empty body"},
		{"retryAfter shown", 503, `{"subscribeResponse":{"statusCode":503,"retryAfter":1500}}`, 503, KindHTTPStatus, false, "retryAfter 1500"},
		{"code 4", 400, `{"authorizationResponse":{"statusCode":4}}`, 4, KindTokenRejected, false, ""},
		{"code 27", 400, `{"authorizationResponse":{"statusCode":27}}`, 27, KindTokenRejected, false, ""},
		{"code 61", 400, `{"authorizationResponse":{"statusCode":61}}`, 61, KindTokenRejected, false, ""},
		{"html", 502, `<html>bad gateway</html>`, 0, KindHTTPStatus, false, "non-JSON body"},
	}
	for _, tc := range tests {
		e := statusError(StepCallStart, tc.status, "application/json", []byte(tc.body))
		if e.Code != tc.wantCode || e.Kind != tc.wantKind || e.callControl != tc.wantControl || !strings.Contains(e.Error(), tc.wantText) {
			t.Errorf("%s: %v (control %v), want code %d kind %v control %v text %q", tc.name, e, e.callControl, tc.wantCode, tc.wantKind, tc.wantControl, tc.wantText)
		}
	}
}
