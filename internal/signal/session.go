package signal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Credentials identify one call.
//
// Regular mode: PathUser is the callee exactly as the application has it
// (not normalised, §3.2); To and From are the callee and caller, normalised
// with NormalizeSIP by StartCall. Token mode: PathUser is the accountToken,
// From the fromToken and To the toToken, all sent untouched.
type Credentials struct {
	// PathUser is the {U} path segment of every REST URL.
	PathUser string
	// From is the caller (regular) or the fromToken (token mode).
	From string
	// To is the callee (regular) or the toToken (token mode).
	To string
}

// RegularCredentials returns the credentials of a regular anonymous call
// from callee to caller addresses as the application would pass them.
func RegularCredentials(callee, caller string) Credentials {
	return Credentials{PathUser: callee, From: caller, To: callee}
}

// TokenCredentials returns the credentials of a token-based call.
func TokenCredentials(accountToken, fromToken, toToken string) Credentials {
	return Credentials{PathUser: accountToken, From: fromToken, To: toToken}
}

// CustomParameter is one custom SIP header ({name, value} on the wire).
type CustomParameter struct {
	// Name is the SIP header name, e.g. "X-Test-Start".
	Name string `json:"name"`
	// Value is the header value.
	Value string `json:"value"`
}

// CallOptions are the per-call choices of callStart (§6.2).
type CallOptions struct {
	// DisplayName (regular mode only) makes from "DisplayName<sip:…>".
	DisplayName string
	// CustomParameters are sent with callStart and repeated on every
	// startCallUpdate/respondCallUpdate until SendCustomHeaders replaces
	// them (§9.1).
	CustomParameters []CustomParameter
	// EarlyMedia adds supported:["earlymedia"].
	EarlyMedia bool
}

// TURNCredentials are subscriptionParams.turnCredentials (§4.2).
type TURNCredentials struct {
	// Username is the TURN user name.
	Username string `json:"username"`
	// Password is the TURN password.
	Password string `json:"password"`
}

// SubscribeInfo is what the gateway granted in the subscription answer
// (§4.2), updated by successful refreshes.
type SubscribeInfo struct {
	// Path is the subscription resource path (refresh and unsubscribe).
	Path string
	// NotificationChannel is the websocket path.
	NotificationChannel string
	// ChannelID is notifyChannelId, the text after "/websocket/".
	ChannelID string
	// Expires is subscriptionParams.expires in seconds, 0 if absent.
	Expires int
	// Service is subscriptionParams.service.
	Service []string
	// TURN is subscriptionParams.turnCredentials, nil if absent.
	TURN *TURNCredentials
}

// SessionStats counts what happened on a Session so far.
type SessionStats struct {
	// PingsSent counts keep-alive frames written.
	PingsSent int64
	// FramesReceived counts websocket frames read.
	FramesReceived int64
	// Notifications counts notifications delivered (synthetic included).
	Notifications int64
	// Duplicates counts notifications dropped by eventId de-duplication.
	Duplicates int64
	// IgnoredFrames counts frames that are not JSON notifications
	// (non-JSON, binary, no notificationMessage or eventType).
	IgnoredFrames int64
	// AuditsOK and AuditsFailed count audit loop results.
	AuditsOK, AuditsFailed int64
	// Refreshes and RefreshFailures count subscription refreshes.
	Refreshes, RefreshFailures int64
}

// Session is one call: one subscription, one notification websocket and at
// most one call session. Methods are safe for concurrent use; Close must be
// called for every Session, whatever happened.
type Session struct {
	c         *Client
	creds     Credentials
	subURL    string // restBase + subscription path, no query
	wsURL     string
	channelID string

	life       context.Context // canceled by Close
	lifeCancel context.CancelFunc
	wg         sync.WaitGroup

	mu           sync.Mutex
	info         SubscribeInfo
	closed       bool
	wsStarted    bool
	conn         *websocket.Conn
	callStarted  bool
	callEnded    bool
	unsubscribed bool
	sessionID    string
	params       []CustomParameter
	auditCancel  context.CancelFunc
	auditDone    chan struct{}
	refreshErr   error
	wsErr        error
	wsCause      error // first write-side failure, reported by the reader

	refreshCancel context.CancelFunc
	refreshDone   chan struct{}

	out       chan Notification
	outMu     sync.RWMutex
	outClosed bool
	done      chan struct{}
	closeOut  sync.Once
	closeOnce sync.Once

	pings, frames, delivered, dups, ignored      atomic.Int64
	auditsOK, auditsFailed, refreshes, refreshNo atomic.Int64
}

// Wire bodies. Field order is the SDK's key order (§4.1, §6.2, §8, §9, §12).

type subscribeBody struct {
	SubscribeRequest subscribeRequest `json:"subscribeRequest"`
}

type subscribeRequest struct {
	Expires          int      `json:"expires,omitempty"` // omitted on a refresh when the grant had none
	Service          []string `json:"service"`
	Localization     string   `json:"localization"`
	UseTurn          bool     `json:"useTurn"`
	NotificationType string   `json:"notificationType"`
	Supported        []string `json:"supported,omitempty"`   // initial POST only
	ForceLogOut      string   `json:"forceLogOut,omitempty"` // initial POST only
}

type callMeBody struct {
	CallMeRequest callMeRequest `json:"callMeRequest"`
}

type callMeRequest struct {
	Type             string            `json:"type"`
	To               string            `json:"to,omitempty"`
	SDP              string            `json:"sdp,omitempty"`
	Supported        []string          `json:"supported,omitempty"`
	CustomParameters []CustomParameter `json:"customParameters,omitempty"`
	From             string            `json:"from,omitempty"`
	NotifyChannelID  string            `json:"notifyChannelId,omitempty"`
}

type subscribeAnswer struct {
	SubscribeResponse *struct {
		StatusCode         *flexInt `json:"statusCode"`
		Subscription       string   `json:"subscription"`
		SubscriptionParams *struct {
			NotificationChannel string           `json:"notificationChannel"`
			Service             json.RawMessage  `json:"service"`
			Expires             flexInt          `json:"expires"`
			TurnCredentials     *TURNCredentials `json:"turnCredentials"`
		} `json:"subscriptionParams"`
	} `json:"subscribeResponse"`
}

// Subscribe sends the subscription POST with the exact §4.1 body and checks
// the answer (§4.2): a subscription path, a notificationChannel path with
// "/websocket/{CH}", and "callMe" among the services. It starts the
// automatic refresh timer (§12). The returned Session must be closed.
func (c *Client) Subscribe(ctx context.Context, creds Credentials) (*Session, error) {
	if creds.PathUser == "" {
		return nil, usageError(StepSubscribe, "empty path user")
	}
	body := subscribeBody{subscribeRequest{
		Expires:          c.cfg.Expires,
		Service:          []string{"callMe"},
		Localization:     "English_US",
		UseTurn:          true,
		NotificationType: "WebSocket",
		Supported:        []string{"RingingFeedback"},
		ForceLogOut:      "false",
	}}
	resp, err := c.do(ctx, restRequest{
		step:    StepSubscribe,
		method:  http.MethodPost,
		url:     c.restURL(anonymousPath(creds.PathUser) + "/subscription"),
		body:    body,
		timeout: c.cfg.RequestTimeout,
	})
	if err != nil {
		return nil, err
	}
	info, err := parseSubscribe(StepSubscribe, resp, true)
	if err != nil {
		return nil, err
	}
	s := &Session{
		c:         c,
		creds:     creds,
		subURL:    c.restBase + info.Path,
		wsURL:     c.wsBase + info.NotificationChannel,
		channelID: info.ChannelID,
		info:      info,
		out:       make(chan Notification, c.cfg.NotificationBuffer),
		done:      make(chan struct{}),
	}
	if _, err := url.Parse(s.subURL); err != nil {
		return nil, badResponse(StepSubscribe, resp.status, "subscription path %q: %v", info.Path, err)
	}
	if _, err := url.Parse(s.wsURL); err != nil {
		return nil, badResponse(StepSubscribe, resp.status, "notificationChannel %q: %v", info.NotificationChannel, err)
	}
	s.life, s.lifeCancel = context.WithCancel(context.Background())
	rctx, rcancel := context.WithCancel(s.life)
	s.refreshCancel = rcancel
	s.refreshDone = make(chan struct{})
	s.wg.Add(1)
	go s.refreshLoop(rctx)
	return s, nil
}

// parseSubscribe checks a subscription (initial=true) or refresh answer.
func parseSubscribe(step Step, resp restResponse, initial bool) (SubscribeInfo, error) {
	var a subscribeAnswer
	if resp.body == nil {
		return SubscribeInfo{}, badResponse(step, resp.status, "no body")
	}
	if err := json.Unmarshal(resp.body, &a); err != nil {
		return SubscribeInfo{}, badResponse(step, resp.status, "subscribeResponse: %v", err)
	}
	r := a.SubscribeResponse
	if r == nil {
		return SubscribeInfo{}, badResponse(step, resp.status, "no subscribeResponse member")
	}
	if !initial && r.StatusCode != nil && *r.StatusCode != 0 && *r.StatusCode != 2 {
		return SubscribeInfo{}, &Error{Step: step, HTTPStatus: resp.status, Code: int(*r.StatusCode), Kind: KindBadResponse,
			Err: fmt.Errorf("subscribeResponse.statusCode %d (want 0 or 2)", int(*r.StatusCode))}
	}
	p := r.SubscriptionParams
	if p == nil {
		return SubscribeInfo{}, badResponse(step, resp.status, "no subscribeResponse.subscriptionParams")
	}
	var service []string
	if err := json.Unmarshal(p.Service, &service); err != nil || p.Service == nil || service == nil {
		return SubscribeInfo{}, badResponse(step, resp.status, "subscriptionParams.service is not an array: %s", snippet(p.Service))
	}
	info := SubscribeInfo{
		Path:                r.Subscription,
		NotificationChannel: p.NotificationChannel,
		Expires:             int(p.Expires),
		Service:             service,
		TURN:                p.TurnCredentials,
	}
	if !initial {
		return info, nil
	}
	if !slices.Contains(service, "callMe") {
		return SubscribeInfo{}, badResponse(step, resp.status, "subscriptionParams.service %q lacks \"callMe\"", service)
	}
	if !strings.HasPrefix(info.Path, "/") || strings.HasPrefix(info.Path, "//") {
		return SubscribeInfo{}, badResponse(step, resp.status, "subscribeResponse.subscription %q is not a path", info.Path)
	}
	ch := info.NotificationChannel
	i := strings.Index(ch, "/websocket/")
	if i < 0 {
		return SubscribeInfo{}, badResponse(step, resp.status, "notificationChannel %q has no /websocket/", ch)
	}
	if !strings.HasPrefix(ch, "/") || strings.HasPrefix(ch, "//") {
		return SubscribeInfo{}, badResponse(step, resp.status, "notificationChannel %q is not a path", ch)
	}
	info.ChannelID = ch[i+len("/websocket/"):]
	if info.ChannelID == "" {
		return SubscribeInfo{}, badResponse(step, resp.status, "notificationChannel %q has no channel id", ch)
	}
	return info, nil
}

// Subscription returns what the gateway granted (refreshes included).
func (s *Session) Subscription() SubscribeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := s.info
	info.Service = slices.Clone(info.Service)
	return info
}

// SessionID returns the call session id ({S}), "" before StartCall
// succeeded.
func (s *Session) SessionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionID
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats {
	return SessionStats{
		PingsSent:       s.pings.Load(),
		FramesReceived:  s.frames.Load(),
		Notifications:   s.delivered.Load(),
		Duplicates:      s.dups.Load(),
		IgnoredFrames:   s.ignored.Load(),
		AuditsOK:        s.auditsOK.Load(),
		AuditsFailed:    s.auditsFailed.Load(),
		Refreshes:       s.refreshes.Load(),
		RefreshFailures: s.refreshNo.Load(),
	}
}

// StartCall sends the callMe POST (callStart, §6.2) with the offer and
// returns the call session id. Regular mode normalises to/from with
// NormalizeSIP and applies opts.DisplayName; token mode sends the tokens
// untouched and refuses a display name. On success it starts the audit
// loop (§8): the first audit at once, then every AuditInterval after the
// previous one started; AuditRetry after an error, AuditTimeoutRetry after a
// timeout; a status 42 in callControlResponse delivers a Notification of
// type EventAuditFailed and stops the loop. One call per Session.
func (s *Session) StartCall(ctx context.Context, offerSDP string, opts CallOptions) (string, error) {
	to, from, err := s.addresses(opts)
	if err != nil {
		return "", err
	}
	if offerSDP == "" {
		return "", usageError(StepCallStart, "empty offer SDP")
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return "", usageError(StepCallStart, "session closed")
	case s.unsubscribed:
		s.mu.Unlock()
		return "", usageError(StepCallStart, "unsubscribed")
	case s.callStarted:
		s.mu.Unlock()
		return "", usageError(StepCallStart, "a call was already started on this session")
	}
	s.callStarted = true
	s.mu.Unlock()

	req := callMeRequest{
		Type:             "callStart",
		To:               to,
		SDP:              offerSDP,
		CustomParameters: opts.CustomParameters,
		From:             from,
		NotifyChannelID:  s.channelID,
	}
	if opts.EarlyMedia {
		req.Supported = []string{"earlymedia"}
	}
	resp, err := s.c.do(ctx, restRequest{
		step:    StepCallStart,
		method:  http.MethodPost,
		url:     s.c.restURL(anonymousPath(s.creds.PathUser) + "/callMe"),
		body:    callMeBody{req},
		timeout: s.c.cfg.RequestTimeout,
	})
	if err != nil {
		return "", err
	}
	var a struct {
		CallMeResponse *struct {
			SessionData json.RawMessage `json:"sessionData"`
		} `json:"callMeResponse"`
	}
	var sid string
	switch {
	case resp.body == nil:
		return "", badResponse(StepCallStart, resp.status, "no body, so no callMeResponse.sessionData")
	case json.Unmarshal(resp.body, &a) != nil || a.CallMeResponse == nil:
		return "", badResponse(StepCallStart, resp.status, "no callMeResponse member: %s", snippet(resp.body))
	case json.Unmarshal(a.CallMeResponse.SessionData, &sid) != nil || sid == "":
		return "", badResponse(StepCallStart, resp.status, "no callMeResponse.sessionData: %s", snippet(resp.body))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessionID = sid
	s.params = slices.Clone(opts.CustomParameters)
	if !s.closed && !s.callEnded && !s.unsubscribed {
		actx, cancel := context.WithCancel(s.life)
		s.auditCancel = cancel
		s.auditDone = make(chan struct{})
		s.wg.Add(1)
		go s.auditLoop(actx, sid, s.auditDone)
	}
	return sid, nil
}

// addresses returns callMeRequest.to and .from for the mode (§6.2).
func (s *Session) addresses(opts CallOptions) (to, from string, err error) {
	if s.c.cfg.Mode == ModeToken {
		if opts.DisplayName != "" {
			return "", "", usageError(StepCallStart, "token mode sends no display name")
		}
		to, from = s.creds.To, s.creds.From
	} else {
		to, from = NormalizeSIP(s.creds.To), NormalizeSIP(s.creds.From)
		if opts.DisplayName != "" && from != "" {
			if _, uri, ok := splitDisplayName(from); ok {
				from = uri
			}
			from = opts.DisplayName + "<" + from + ">"
		}
	}
	if to == "" {
		return "", "", usageError(StepCallStart, "empty callee (to)")
	}
	if from == "" {
		return "", "", usageError(StepCallStart, "empty caller (from)")
	}
	return to, from, nil
}

// callID returns the session id for a mid-call request of step.
func (s *Session) callID(step Step) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.sessionID == "":
		return "", usageError(step, "no call started")
	case s.callEnded:
		return "", usageError(step, "call already ended")
	}
	return s.sessionID, nil
}

// sessionURL is .../callMe/callSessions/{S} with the realm query.
func (s *Session) sessionURL(sid string) string {
	return s.c.restURL(anonymousPath(s.creds.PathUser) + "/callMe/callSessions/" + escapeSegment(sid))
}

// put sends a callSessions PUT.
func (s *Session) put(ctx context.Context, step Step, sid string, req callMeRequest) error {
	t := s.c.cfg.RequestTimeout
	if step == StepAudit {
		t = s.c.cfg.AuditTimeout
	}
	_, err := s.c.do(ctx, restRequest{
		step:    step,
		method:  http.MethodPut,
		url:     s.sessionURL(sid),
		body:    callMeBody{req},
		timeout: t,
	})
	return err
}

// StartCallUpdate sends a client renegotiation (hold/unhold, §9.1):
// PUT {type:"startCallUpdate", sdp, customParameters}. The answer arrives
// as a respondCallUpdate notification.
func (s *Session) StartCallUpdate(ctx context.Context, sdp string) error {
	return s.sdpPut(ctx, StepUpdate, "startCallUpdate", sdp)
}

// RespondCallUpdate answers a remote re-offer (a startCallUpdate
// notification, §9.2): PUT {type:"respondCallUpdate", sdp,
// customParameters}.
func (s *Session) RespondCallUpdate(ctx context.Context, sdp string) error {
	return s.sdpPut(ctx, StepRespond, "respondCallUpdate", sdp)
}

func (s *Session) sdpPut(ctx context.Context, step Step, typ, sdp string) error {
	sid, err := s.callID(step)
	if err != nil {
		return err
	}
	if sdp == "" {
		return usageError(step, "empty SDP")
	}
	s.mu.Lock()
	params := s.params
	s.mu.Unlock()
	return s.put(ctx, step, sid, callMeRequest{Type: typ, SDP: sdp, CustomParameters: params})
}

// SendCustomHeaders sends custom SIP headers mid-call (§9.3) and makes
// them the parameters repeated on later updates.
func (s *Session) SendCustomHeaders(ctx context.Context, params []CustomParameter) error {
	sid, err := s.callID(StepCustomHeaders)
	if err != nil {
		return err
	}
	if len(params) == 0 {
		return usageError(StepCustomHeaders, "no custom parameters")
	}
	params = slices.Clone(params)
	if err := s.put(ctx, StepCustomHeaders, sid, callMeRequest{Type: "sendCustomHeaders", CustomParameters: params}); err != nil {
		return err
	}
	s.mu.Lock()
	s.params = params
	s.mu.Unlock()
	return nil
}

// Audit sends one audit PUT (§8), bounded by AuditTimeout. The audit loop
// started by StartCall calls it periodically; calling it directly is for
// tests and diagnostics.
func (s *Session) Audit(ctx context.Context) error {
	sid, err := s.callID(StepAudit)
	if err != nil {
		return err
	}
	return s.audit(ctx, sid)
}

func (s *Session) audit(ctx context.Context, sid string) error {
	return s.put(ctx, StepAudit, sid, callMeRequest{Type: "audit"})
}

// EndCall ends the call locally (§10.1): it stops the audit loop, then
// sends DELETE callSessions/{S} (no body; any 2xx body is ignored). The
// call counts as ended even when the DELETE fails. Do not call it after a
// callEnd notification or an audit failure (§10.3).
func (s *Session) EndCall(ctx context.Context) error {
	sid, err := s.callID(StepEndCall)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.callEnded = true
	s.mu.Unlock()
	s.stopAudit()
	_, err = s.c.do(ctx, restRequest{
		step:       StepEndCall,
		method:     http.MethodDelete,
		url:        s.sessionURL(sid),
		timeout:    s.c.cfg.RequestTimeout,
		ignoreBody: true,
	})
	return err
}

// Unsubscribe stops the audit loop and the refresh timer and sends DELETE
// {subscription} (§10.2). Call it after every call that subscribed,
// whatever ended it, then Close.
func (s *Session) Unsubscribe(ctx context.Context) error {
	s.mu.Lock()
	if s.unsubscribed {
		s.mu.Unlock()
		return usageError(StepUnsubscribe, "already unsubscribed")
	}
	s.unsubscribed = true
	s.callEnded = s.callEnded || s.sessionID != ""
	s.mu.Unlock()
	s.stopAudit()
	s.stopRefresh()
	_, err := s.c.do(ctx, restRequest{
		step:    StepUnsubscribe,
		method:  http.MethodDelete,
		url:     s.c.restURL(s.Subscription().Path),
		timeout: s.c.cfg.RequestTimeout,
	})
	return err
}

// stopAudit cancels the audit loop, if any, and waits for it to exit.
func (s *Session) stopAudit() {
	s.mu.Lock()
	cancel, done := s.auditCancel, s.auditDone
	s.auditCancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// stopRefresh cancels the refresh timer and waits for it to exit.
func (s *Session) stopRefresh() {
	s.refreshCancel()
	<-s.refreshDone
}

// Close closes the websocket (a close frame with no status code, so the
// gateway sees 1005, §5.6), stops the audit loop, the pings and the refresh
// timer, and returns after every goroutine of the Session has exited. It
// sends no REST request: call EndCall/Unsubscribe first. Notifications is
// closed and Done is closed afterwards. Close is idempotent.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.lifeCancel()
		s.wg.Wait()
		s.finish(nil) // no-op if the reader already finished
	})
	return nil
}
