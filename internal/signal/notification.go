package signal

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// EventType is notificationMessage.eventType (§7), or EventAuditFailed.
type EventType string

// The event types an outgoing anonymous call can receive (§7).
const (
	// EventRinging: the callee is being alerted (§7.1).
	EventRinging EventType = "ringing"
	// EventSessionProgress: early media, SDP is a provisional answer (§7.2).
	EventSessionProgress EventType = "sessionProgress"
	// EventRespondCallUpdate: SDP is the answer to callStart or to a
	// startCallUpdate (§7.3); StatusCode 49 without SDP is glare.
	EventRespondCallUpdate EventType = "respondCallUpdate"
	// EventStartCallUpdate: a remote re-offer to answer with
	// RespondCallUpdate (§7.5).
	EventStartCallUpdate EventType = "startCallUpdate"
	// EventCallEnd: the remote side ended the call (§7.4).
	EventCallEnd EventType = "callEnd"
	// EventCallCancel: the call was cancelled before the answer (§7.6).
	EventCallCancel EventType = "callCancel"
	// EventSessionComplete: transfer/join completion (§7.6).
	EventSessionComplete EventType = "sessionComplete"
	// EventSessionFail: transfer/join failure (§7.6).
	EventSessionFail EventType = "sessionFail"
	// EventAuditFailed is synthetic: the audit loop got status 42 in
	// callControlResponse (§8). The call is over on the gateway; do not
	// EndCall, do Unsubscribe. StatusCode is 42, Err the audit error.
	EventAuditFailed EventType = "loadgen:auditFailed"
)

// Notification is one notification from the websocket (§5.4), already
// de-duplicated by eventId (§5.5). Notifications for any sessionData are
// delivered; the caller compares SessionData with its session id.
type Notification struct {
	// Type is eventType.
	Type EventType
	// EventID is eventId ("" when missing).
	EventID string
	// SessionData is sessionParams.sessionData, the call session id.
	SessionData string
	// SDP is sessionParams.sdp, decoded when sdpFormat is "compressed"
	// (base64 of zlib) or fetched when it is "url".
	SDP string
	// SDPFormat is sessionParams.sdpFormat as received ("" for plain).
	SDPFormat string
	// StatusCode is sessionParams.statusCode, or else the top-level
	// notificationMessage.statusCode (e.g. 49 for glare).
	StatusCode int
	// ReasonText is sessionParams.reasonText.
	ReasonText string
	// RetryAfter is sessionParams.retryAfter.
	RetryAfter int
	// RemoteName and RemoteDisplayNumber are callNotificationParams.
	RemoteName, RemoteDisplayNumber string
	// CustomParameters is notificationMessage.customParameters.
	CustomParameters []CustomParameter
	// Received is the instant the frame was read (Config.Now).
	Received time.Time
	// Raw is the whole frame (nil for EventAuditFailed).
	Raw json.RawMessage
	// Err is set when the SDP could not be decoded or fetched (SDP is then
	// empty), and for EventAuditFailed (the audit's *Error).
	Err error
}

// wireNotification is notificationMessage on the wire.
type wireNotification struct {
	EventType     string          `json:"eventType"`
	EventID       json.RawMessage `json:"eventId"`
	SessionParams struct {
		SessionData string  `json:"sessionData"`
		SDP         string  `json:"sdp"`
		StatusCode  flexInt `json:"statusCode"`
		ReasonText  string  `json:"reasonText"`
		RetryAfter  flexInt `json:"retryAfter"`
		SDPFormat   string  `json:"sdpFormat"`
	} `json:"sessionParams"`
	CallNotificationParams struct {
		RemoteName          string `json:"remoteName"`
		RemoteDisplayNumber string `json:"remoteDisplayNumber"`
	} `json:"callNotificationParams"`
	CustomParameters []CustomParameter `json:"customParameters"`
	StatusCode       flexInt           `json:"statusCode"`
}

// eventKey is a de-duplication key; a missing eventId is one value of its
// own (JavaScript's undefined), distinct from "".
type eventKey struct {
	id      string
	missing bool
}

// parseNotification decodes a frame. ok is false for frames that are not
// notifications (non-JSON, no notificationMessage, no eventType).
func parseNotification(frame []byte, received time.Time) (n Notification, key eventKey, ok bool) {
	var env struct {
		NotificationMessage *wireNotification `json:"notificationMessage"`
	}
	if err := json.Unmarshal(frame, &env); err != nil || env.NotificationMessage == nil {
		return Notification{}, eventKey{}, false
	}
	w := env.NotificationMessage
	if w.EventType == "" {
		return Notification{}, eventKey{}, false
	}
	switch id := bytes.TrimSpace(w.EventID); {
	case len(id) == 0 || string(id) == "null":
		key.missing = true
	case json.Unmarshal(id, &key.id) == nil:
	default:
		key.id = string(id) // a number or other JSON value: its text
	}
	n = Notification{
		Type:                EventType(w.EventType),
		EventID:             key.id,
		SessionData:         w.SessionParams.SessionData,
		SDP:                 w.SessionParams.SDP,
		SDPFormat:           w.SessionParams.SDPFormat,
		StatusCode:          int(w.SessionParams.StatusCode),
		ReasonText:          w.SessionParams.ReasonText,
		RetryAfter:          int(w.SessionParams.RetryAfter),
		RemoteName:          w.CallNotificationParams.RemoteName,
		RemoteDisplayNumber: w.CallNotificationParams.RemoteDisplayNumber,
		CustomParameters:    w.CustomParameters,
		Received:            received,
		Raw:                 json.RawMessage(bytes.Clone(frame)),
	}
	if n.StatusCode == 0 {
		n.StatusCode = int(w.StatusCode)
	}
	return n, key, true
}

// decodeCompressedSDP decodes sdpFormat "compressed": base64 of a zlib
// stream (§5.4).
func decodeCompressedSDP(s string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(s)); err != nil {
			return "", fmt.Errorf("compressed SDP: base64: %w", err)
		}
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("compressed SDP: zlib: %w", err)
	}
	// A zlib reader's Close only reports an error already returned by Read.
	defer func() { _ = zr.Close() }()
	out, err := io.ReadAll(io.LimitReader(zr, MaxBodyBytes+1))
	if err != nil {
		return "", fmt.Errorf("compressed SDP: zlib: %w", err)
	}
	if len(out) > MaxBodyBytes {
		return "", fmt.Errorf("compressed SDP: larger than %d bytes", MaxBodyBytes)
	}
	return string(out), nil
}

// fetchSDP resolves sdpFormat "url": GET {restBase}{path}, answer
// {"eventDataResponse":{"sdp":"..."}} (§5.4). As the document gives the
// URL, no tokenrealm query is added.
func (s *Session) fetchSDP(ctx context.Context, path string) (string, error) {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return "", badResponse(StepSDPFetch, 0, "sdp url %q is not a path", path)
	}
	resp, err := s.c.do(ctx, restRequest{
		step:    StepSDPFetch,
		method:  http.MethodGet,
		url:     s.c.restBase + path,
		timeout: s.c.cfg.RequestTimeout,
	})
	if err != nil {
		return "", err
	}
	var a struct {
		EventDataResponse *struct {
			SDP string `json:"sdp"`
		} `json:"eventDataResponse"`
	}
	if resp.body == nil || json.Unmarshal(resp.body, &a) != nil || a.EventDataResponse == nil || a.EventDataResponse.SDP == "" {
		return "", badResponse(StepSDPFetch, resp.status, "no eventDataResponse.sdp")
	}
	return a.EventDataResponse.SDP, nil
}

// resolveSDP applies sdpFormat to n.SDP.
func (s *Session) resolveSDP(ctx context.Context, n *Notification) {
	if n.SDP == "" {
		return
	}
	var err error
	switch n.SDPFormat {
	case "":
		return
	case "compressed":
		n.SDP, err = decodeCompressedSDP(n.SDP)
	case "url":
		n.SDP, err = s.fetchSDP(ctx, n.SDP)
	default:
		err = fmt.Errorf("unknown sdpFormat %q", n.SDPFormat)
	}
	if err != nil {
		n.SDP = ""
		n.Err = err
	}
}

// dedup remembers the last size eventIds of processed notifications (§5.5).
type dedup struct {
	ring []eventKey
	next int
	full bool
	seen map[eventKey]int
}

func newDedup(size int) *dedup {
	return &dedup{ring: make([]eventKey, size), seen: make(map[eventKey]int, size)}
}

// admit reports whether a notification with key k is new, and remembers
// it if so; duplicates are not remembered again.
func (d *dedup) admit(k eventKey) bool {
	if d.seen[k] > 0 {
		return false
	}
	if d.full {
		old := d.ring[d.next]
		if d.seen[old]--; d.seen[old] <= 0 {
			delete(d.seen, old)
		}
	}
	d.ring[d.next] = k
	d.seen[k]++
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
	return true
}
