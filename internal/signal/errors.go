package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Step names the protocol step an Error comes from.
type Step string

// The steps of a call, in the order they normally happen.
const (
	// StepSubscribe is the subscription POST (§4).
	StepSubscribe Step = "subscribe"
	// StepWebsocket is the notification websocket: its handshake, or its
	// loss later (§5).
	StepWebsocket Step = "websocket"
	// StepCallStart is the callMe POST with the offer (§6).
	StepCallStart Step = "callStart"
	// StepAudit is an audit PUT (§8).
	StepAudit Step = "audit"
	// StepUpdate is a startCallUpdate PUT: hold/unhold (§9.1).
	StepUpdate Step = "update"
	// StepRespond is a respondCallUpdate PUT: answer to a re-offer (§9.2).
	StepRespond Step = "respond"
	// StepCustomHeaders is a sendCustomHeaders PUT (§9.3).
	StepCustomHeaders Step = "customHeaders"
	// StepEndCall is the DELETE of the call session (§10.1).
	StepEndCall Step = "endCall"
	// StepUnsubscribe is the DELETE of the subscription (§10.2).
	StepUnsubscribe Step = "unsubscribe"
	// StepRefresh is a subscription refresh PUT (§12).
	StepRefresh Step = "refresh"
	// StepSDPFetch is the GET of an SDP announced with sdpFormat "url"
	// (§5.4); its errors land in Notification.SDPError.
	StepSDPFetch Step = "sdpFetch"
)

// ErrorKind classifies why a step failed.
type ErrorKind int

// The error kinds.
const (
	// KindHTTPStatus: the gateway answered with a non-2xx status.
	KindHTTPStatus ErrorKind = iota + 1
	// KindBadResponse: a 2xx answer that breaks the protocol (empty or
	// non-JSON body, a required member missing, a body over MaxBodyBytes).
	KindBadResponse
	// KindTokenRejected: 401, 403, or a SPiDR status code that means bad
	// credentials (4, 27, 46, 61, 64, 65).
	KindTokenRejected
	// KindTransport: the connection failed (refused, reset, TLS, DNS).
	KindTransport
	// KindTimeout: no (complete) answer in time.
	KindTimeout
	// KindWebsocketDropped: the notification websocket ended without
	// Close being called.
	KindWebsocketDropped
	// KindCanceled: the caller's context was canceled.
	KindCanceled
	// KindUsage: the method was called with invalid arguments or in the
	// wrong state (e.g. EndCall before StartCall); nothing was sent.
	KindUsage
)

// String returns a short lower-case name, e.g. "token rejected".
func (k ErrorKind) String() string {
	switch k {
	case KindHTTPStatus:
		return "http status"
	case KindBadResponse:
		return "bad response"
	case KindTokenRejected:
		return "token rejected"
	case KindTransport:
		return "transport"
	case KindTimeout:
		return "timeout"
	case KindWebsocketDropped:
		return "websocket dropped"
	case KindCanceled:
		return "canceled"
	case KindUsage:
		return "usage"
	default:
		return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Error is the error every Session and Client method returns. Use errors.As
// to get it and branch on Kind, Step or Code.
type Error struct {
	// Step is the protocol step that failed.
	Step Step
	// HTTPStatus is the HTTP status of the answer, 0 if there was none.
	HTTPStatus int
	// Code is the SPiDR statusCode found in the error body, 0 if none.
	Code int
	// Kind says why the step failed.
	Kind ErrorKind
	// Err is the underlying cause or a description of the bad answer.
	Err error

	callControl bool // Code came from callControlResponse (§3.6, §8)
}

// Error returns e.g. "signal: subscribe: token rejected: HTTP 403,
// statusCode 46: gateway said "Invalid CallMe token"".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("signal: ")
	b.WriteString(string(e.Step))
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
		if e.Code != 0 {
			fmt.Fprintf(&b, ", statusCode %d", e.Code)
		}
	} else if e.Code != 0 {
		fmt.Fprintf(&b, ": statusCode %d", e.Code)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// isTokenCode reports whether a SPiDR status code means the credentials
// were refused (§3.6, §4.3): 4 bad credentials, 27 authorisation failure,
// 46 invalid CallMe token, 61 credentials issue, 64 invalid realm, 65 token
// expired.
func isTokenCode(code int) bool {
	switch code {
	case 4, 27, 46, 61, 64, 65:
		return true
	}
	return false
}

func usageError(step Step, format string, args ...any) *Error {
	return &Error{Step: step, Kind: KindUsage, Err: fmt.Errorf(format, args...)}
}

func badResponse(step Step, status int, format string, args ...any) *Error {
	return &Error{Step: step, HTTPStatus: status, Kind: KindBadResponse, Err: fmt.Errorf(format, args...)}
}

// transportError classifies an error from the HTTP client, the body read or
// the websocket dialer. parent is the caller's context (not the per-request
// timeout context).
func transportError(step Step, parent context.Context, timeout time.Duration, err error) *Error {
	e := &Error{Step: step, Kind: KindTransport, Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && parent.Err() != nil:
		e.Kind = KindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Kind = KindTimeout
		if parent.Err() == nil {
			e.Err = fmt.Errorf("no answer within %v: %w", timeout, err)
		}
	}
	return e
}

// flexInt decodes a JSON number or numeric string; anything else is 0.
type flexInt int

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*f = flexInt(x)
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err == nil {
			*f = flexInt(n)
		}
	}
	return nil
}

type statusBody struct {
	StatusCode *flexInt `json:"statusCode"`
	Reason     string   `json:"reason"`
	ReasonText string   `json:"reasonText"`
	RetryAfter *flexInt `json:"retryAfter"`
}

func (s *statusBody) reason() string {
	if s.Reason != "" {
		return s.Reason
	}
	return s.ReasonText
}

type errorBody struct {
	CallControlResponse   *statusBody `json:"callControlResponse"`
	AuthorizationResponse *statusBody `json:"authorizationResponse"`
	SubscribeResponse     *statusBody `json:"subscribeResponse"`
	CallMeResponse        *statusBody `json:"callMeResponse"`
	statusBody
	Message string `json:"message"`
}

// statusError turns a non-2xx answer into an *Error: the SPiDR code is
// taken from callControlResponse, then a top-level {statusCode, reason},
// then authorizationResponse, subscribeResponse and callMeResponse (§3.6,
// §4.3, §6.3).
func statusError(step Step, status int, contentType string, body []byte) *Error {
	e := &Error{Step: step, HTTPStatus: status, Kind: KindHTTPStatus}
	var desc string
	var eb errorBody
	switch {
	case len(body) == 0:
		desc = "empty body"
	case json.Unmarshal(body, &eb) != nil:
		desc = fmt.Sprintf("non-JSON body (Content-Type %q): %s", contentType, snippet(body))
	default:
		var sb *statusBody
		switch {
		case eb.CallControlResponse != nil && eb.CallControlResponse.StatusCode != nil:
			sb = eb.CallControlResponse
			e.callControl = true
		case eb.StatusCode != nil && eb.Reason != "":
			sb = &eb.statusBody
		case eb.AuthorizationResponse != nil && eb.AuthorizationResponse.StatusCode != nil:
			sb = eb.AuthorizationResponse
		case eb.SubscribeResponse != nil && eb.SubscribeResponse.StatusCode != nil:
			sb = eb.SubscribeResponse
		case eb.CallMeResponse != nil && eb.CallMeResponse.StatusCode != nil:
			sb = eb.CallMeResponse
		}
		if sb != nil {
			e.Code = int(*sb.StatusCode)
			desc = sb.reason()
			if sb.RetryAfter != nil {
				desc = strings.TrimSpace(fmt.Sprintf("%s (retryAfter %d)", desc, int(*sb.RetryAfter)))
			}
		}
		if desc == "" {
			desc = eb.Message
		}
		if desc == "" {
			desc = "body " + snippet(body)
		} else {
			desc = fmt.Sprintf("gateway said %q", desc)
		}
	}
	if status == 401 || status == 403 || isTokenCode(e.Code) {
		e.Kind = KindTokenRejected
	}
	e.Err = errors.New(desc)
	return e
}

// snippet returns at most 80 bytes of b, valid UTF-8, quoted.
func snippet(b []byte) string {
	const max = 80
	cut := false
	if len(b) > max {
		b = b[:max]
		cut = true
	}
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	s := strconv.Quote(string(b))
	if cut {
		s += "..."
	}
	return s
}
