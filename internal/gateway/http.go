package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/loadgen/loadgen/internal/token"
)

// Error body shapes (§4.3, §6.3).
const (
	shapeCall      = "callControlResponse"
	shapeSubscribe = "subscribeResponse"
	shapeAuth      = "authorizationResponse"
)

// SPiDR status codes used in error bodies (§4.3).
const (
	codeBadBody        = 5
	codeInternal       = 26
	codeNoService      = 35
	codeInvalidValue   = 37
	codeNoSubscription = 39
	codeNoSession      = 42
	codeBadToken       = 46
	codeRetry          = 49
	codeBadRealm       = 64
	codeTokenExpired   = 65
	codeBadRequest     = 1004
)

// apiError is one protocol error response.
type apiError struct {
	status int
	shape  string
	code   int
	reason string
}

// badChannel answers a callStart whose notifyChannelId is not one of the path user's.
var badChannel = apiError{http.StatusBadRequest, shapeCall, codeInvalidValue, "Invalid value: notifyChannelId"}

// notFoundSession is the audit answer that ends a call on the client (§8).
var notFoundSession = apiError{http.StatusNotFound, shapeCall, codeNoSession, "Resource does not exist"}

// forbiddenTypes are callMeRequest types of registered users that anonymous calls cannot use (§9.5).
var forbiddenTypes = map[string]bool{
	"answer": true, "reject": true, "ignore": true, "forward": true, "ringing": true,
	"transfer": true, "directTransfer": true, "consultativeTransfer": true, "join": true,
}

// Wire types.
type (
	envelope struct {
		Message notification `json:"notificationMessage"`
	}
	notification struct {
		EventType     string        `json:"eventType"`
		SessionParams sessionParams `json:"sessionParams"`
		CallParams    *callParams   `json:"callNotificationParams,omitempty"`
		EventID       string        `json:"eventId"`
	}
	sessionParams struct {
		SessionData string `json:"sessionData"`
		SDP         string `json:"sdp,omitempty"`
		StatusCode  *int   `json:"statusCode,omitempty"`
		ReasonText  string `json:"reasonText,omitempty"`
	}
	callParams struct {
		RemoteName          string `json:"remoteName"`
		RemoteDisplayNumber string `json:"remoteDisplayNumber"`
	}
	subscribeRequest struct {
		Expires          *int     `json:"expires"`
		Service          []string `json:"service"`
		NotificationType string   `json:"notificationType"`
	}
	customParameter struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	callMeRequest struct {
		Type             string            `json:"type"`
		To               string            `json:"to"`
		From             string            `json:"from"`
		SDP              string            `json:"sdp"`
		Supported        []string          `json:"supported"`
		CustomParameters []customParameter `json:"customParameters"`
		NotifyChannelID  string            `json:"notifyChannelId"`
	}
	turnCredentials struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	subscriptionParams struct {
		NotificationChannel string           `json:"notificationChannel"`
		Service             []string         `json:"service"`
		Expires             int              `json:"expires"`
		NotificationType    string           `json:"notificationType"`
		TurnCredentials     *turnCredentials `json:"turnCredentials,omitempty"`
	}
	subscribeResponse struct {
		StatusCode         int                 `json:"statusCode"`
		Expires            int                 `json:"expires,omitempty"`
		Subscription       string              `json:"subscription,omitempty"`
		SubscriptionParams *subscriptionParams `json:"subscriptionParams,omitempty"`
	}
	callMeResponse struct {
		StatusCode  int    `json:"statusCode"`
		SessionData string `json:"sessionData,omitempty"`
	}
)

// setCORS adds the CORS headers of §3.5 to every response.
func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	allow := "Content-Type, Accept, X-Cpaas-Agent"
	if r.Method == http.MethodOptions {
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			allow = req
		}
	}
	h.Set("Access-Control-Allow-Headers", allow)
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
}

// writeJSON writes v with status and flushes it to the client, so that the
// client can have the response before any notification the request causes
// (those wait until writeJSON returns).
func (g *Gateway) writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		g.cfg.Logger.Error("marshal response", "err", err)
		status, data = http.StatusInternalServerError, []byte(`{"callControlResponse":{"statusCode":26,"reason":"Internal server error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data))) // kept when flushed early
	w.WriteHeader(status)
	if _, err := w.Write(data); err != nil {
		g.cfg.Logger.Debug("write response", "err", err)
	}
	if g.cfg.hooks != nil && g.cfg.hooks.beforeFlush != nil {
		g.cfg.hooks.beforeFlush()
	}
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		g.cfg.Logger.Debug("flush response", "err", err)
	}
}

// writeError writes e as {shape:{statusCode,reason}}.
func (g *Gateway) writeError(w http.ResponseWriter, e apiError) {
	g.writeJSON(w, e.status, map[string]any{e.shape: map[string]any{"statusCode": e.code, "reason": e.reason}})
}

// upgradeError answers a failed websocket handshake with JSON.
func (g *Gateway) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	g.writeError(w, apiError{status, shapeSubscribe, codeBadBody, "Websocket handshake failed: " + reason.Error()})
}

// methodNotAllowed answers a known resource used with the wrong method.
func (g *Gateway) methodNotAllowed(w http.ResponseWriter, shape string, allow ...string) {
	w.Header().Set("Allow", strings.Join(append(allow, http.MethodOptions), ", "))
	g.writeError(w, apiError{http.StatusMethodNotAllowed, shape, codeBadRequest, "Method not allowed"})
}

// notAllowed is a handler answering 405 for a resource that takes only allow.
func (g *Gateway) notAllowed(shape string, allow ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { g.methodNotAllowed(w, shape, allow...) }
}

// replyError is a handler answering e.
func (g *Gateway) replyError(e apiError) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { g.writeError(w, e) }
}

// unknownResource answers a path the gateway does not serve.
var unknownResource = apiError{http.StatusNotFound, shapeCall, codeBadRequest, "Unknown resource"}

// routes builds the gateway's router on Go 1.22 ServeMux patterns. Each
// resource has its method patterns plus a method-less pattern of the same
// path that answers 405 with the protocol's JSON body and Allow header (the
// ServeMux's own 405 and 404 are plain text); "/" answers every other path
// with 404. The {user} wildcard is the percent-decoded path user.
func (g *Gateway) routes() *http.ServeMux {
	const (
		base     = "/rest/version/1/anonymous/{user}"
		sub      = base + "/subscription"
		subID    = sub + "/{id}"
		channel  = base + "/websocket/{channel}"
		callMe   = base + "/callMe"
		session  = callMe + "/callSessions/{session}"
		sessions = session + "/{rest...}"
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+sub, g.subscribe)
	mux.HandleFunc(sub, g.notAllowed(shapeSubscribe, http.MethodPost))
	mux.HandleFunc("PUT "+subID, g.refresh)
	mux.HandleFunc("DELETE "+subID, g.unsubscribe)
	mux.HandleFunc(subID, g.notAllowed(shapeSubscribe, http.MethodPut, http.MethodDelete))
	mux.HandleFunc("GET "+channel, g.serveWebsocket)
	mux.HandleFunc("HEAD "+channel, g.notAllowed(shapeSubscribe, http.MethodGet)) // "GET" patterns match HEAD too
	mux.HandleFunc(channel, g.notAllowed(shapeSubscribe, http.MethodGet))
	mux.HandleFunc("POST "+callMe, g.callStart)
	mux.HandleFunc(callMe, g.notAllowed(shapeCall, http.MethodPost))
	mux.HandleFunc("PUT "+session, g.updateSession)
	mux.HandleFunc("DELETE "+session, g.deleteSession)
	// GET (session query) is not available to anonymous calls (§9.5).
	mux.HandleFunc(session, g.notAllowed(shapeCall, http.MethodPut, http.MethodDelete))
	// transfer, join and other sub-resources of registered-user calls
	mux.HandleFunc(sessions, g.replyError(apiError{http.StatusForbidden, shapeCall, codeBadRequest, "Operation not available to anonymous calls"}))
	mux.HandleFunc("/", g.replyError(unknownResource))
	return mux
}

// ServeHTTP serves the REST and websocket resources under
// /rest/version/1/anonymous/{U}/, answering every request (OPTIONS preflights
// included) with CORS headers. It is safe for concurrent use.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		g.writeError(w, apiError{http.StatusServiceUnavailable, shapeCall, http.StatusServiceUnavailable, "Gateway shutting down"})
		return
	}
	if p := r.URL.EscapedPath(); p != cleanPath(p) {
		// The ServeMux would redirect; no resource has such a path.
		g.writeError(w, unknownResource)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// cleanPath is the canonical form of an escaped path, as the ServeMux
// computes it: rooted, without empty, "." or ".." segments, trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// readBody reads the request body within MaxBodyBytes.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, shape string) ([]byte, *apiError) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{http.StatusRequestEntityTooLarge, shape, codeBadBody, "Request body too large"}
		}
		return nil, &apiError{http.StatusBadRequest, shape, codeBadBody, "Unreadable request body"}
	}
	return data, nil
}

// decodeBody reads and parses the JSON request body into v.
func (g *Gateway) decodeBody(w http.ResponseWriter, r *http.Request, shape string, v any) *apiError {
	data, e := g.readBody(w, r, shape)
	if e != nil {
		return e
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &apiError{http.StatusBadRequest, shape, codeBadBody, "Invalid or missing request body"}
	}
	return nil
}

// tokenUser decodes tok with the realm's key. With checkAge the token's
// timestamp must lie within TokenValidity in the past and TokenSkew in the future.
func (g *Gateway) tokenUser(realm, tok string, checkAge bool, shape string) (string, *apiError) {
	key, ok := g.cfg.Realms[realm]
	if !ok {
		return "", &apiError{http.StatusForbidden, shape, codeBadRealm, "Invalid CallMe realm"}
	}
	user, ts, err := token.Decode(key, tok)
	if err != nil {
		return "", &apiError{http.StatusForbidden, shape, codeBadToken, "Invalid CallMe token"}
	}
	if checkAge {
		now := g.cfg.Now()
		if now.Sub(ts) > g.cfg.TokenValidity {
			return "", &apiError{http.StatusForbidden, shape, codeTokenExpired, "CallMe token expired"}
		}
		if ts.Sub(now) > g.cfg.TokenSkew {
			return "", &apiError{http.StatusForbidden, shape, codeTokenExpired, "CallMe token not yet valid"}
		}
	}
	return user, nil
}

// authorize checks, in token mode, the tokenrealm query and the path user's
// accountToken; it returns the account user (empty in regular mode).
func (g *Gateway) authorize(r *http.Request, user string, checkAge bool, shape string) (string, *apiError) {
	if g.cfg.Mode != ModeToken {
		return "", nil
	}
	return g.tokenUser(r.URL.Query().Get("tokenrealm"), user, checkAge, shape)
}

// stripSIP removes a "sip:" scheme.
func stripSIP(s string) string { return strings.TrimPrefix(s, "sip:") }

// displayAddress turns a SIP "to" value ("Name<sip:u@d>" or "sip:u@d") into "u@d".
func displayAddress(to string) string {
	if i := strings.LastIndex(to, "<"); i >= 0 {
		to = strings.TrimSuffix(to[i+1:], ">")
	}
	return stripSIP(strings.TrimSpace(to))
}

// readSubscribeRequest decodes and checks the subscribeRequest body of a
// subscription POST or refresh PUT and returns the expiry to grant; on a
// problem it has answered the request and reports false.
func (g *Gateway) readSubscribeRequest(w http.ResponseWriter, r *http.Request) (int, bool) {
	var body struct {
		Req *subscribeRequest `json:"subscribeRequest"`
	}
	if e := g.decodeBody(w, r, shapeSubscribe, &body); e != nil {
		g.writeError(w, *e)
		return 0, false
	}
	expires, e := g.checkSubscribeRequest(body.Req)
	if e != nil {
		g.writeError(w, *e)
		return 0, false
	}
	return expires, true
}

// subscribe serves POST {U}/subscription (§4).
func (g *Gateway) subscribe(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	if _, e := g.authorize(r, user, true, shapeAuth); e != nil {
		g.writeError(w, *e)
		return
	}
	expires, ok := g.readSubscribeRequest(w, r)
	if !ok {
		return
	}
	subID, err1 := g.newID()
	channel, err2 := g.newID()
	if err := errors.Join(err1, err2); err != nil {
		g.writeError(w, apiError{http.StatusInternalServerError, shapeSubscribe, codeInternal, "Internal server error"})
		return
	}
	sub := &subscription{
		id: subID, channel: channel, user: user,
		expires:  expires,
		sessions: make(map[string]*session),
	}
	sub.expiresAt = g.cfg.Now().Add(time.Duration(expires) * time.Second)
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.writeError(w, apiError{http.StatusServiceUnavailable, shapeSubscribe, http.StatusServiceUnavailable, "Gateway shutting down"})
		return
	}
	g.subs[sub.id] = sub
	g.channels[sub.channel] = sub
	g.stats.SubscriptionsTotal++
	g.mu.Unlock()
	g.cfg.Logger.Debug("subscription created", "subscription", sub.id, "user", user, "expires", expires)
	g.writeJSON(w, http.StatusOK, map[string]any{shapeSubscribe: g.subscribeBody(sub)})
}

// checkSubscribeRequest validates a subscribeRequest and returns the lifetime to grant.
func (g *Gateway) checkSubscribeRequest(req *subscribeRequest) (int, *apiError) {
	if req == nil {
		return 0, &apiError{http.StatusBadRequest, shapeSubscribe, codeBadBody, "Missing subscribeRequest"}
	}
	hasCallMe := false
	for _, s := range req.Service {
		hasCallMe = hasCallMe || s == "callMe"
	}
	if !hasCallMe {
		return 0, &apiError{http.StatusForbidden, shapeSubscribe, codeNoService, "Service not enabled"}
	}
	if req.NotificationType != "" && req.NotificationType != "WebSocket" {
		return 0, &apiError{http.StatusBadRequest, shapeSubscribe, codeInvalidValue, "Invalid value: notificationType"}
	}
	expires := g.cfg.SubscriptionExpires
	if req.Expires != nil {
		if *req.Expires <= 0 {
			return 0, &apiError{http.StatusBadRequest, shapeSubscribe, codeInvalidValue, "Invalid value: expires"}
		}
		expires = min(expires, *req.Expires)
	}
	return expires, nil
}

// subscribeBody is the §4.2 success body of sub.
func (g *Gateway) subscribeBody(sub *subscription) subscribeResponse {
	base := "/rest/version/1/anonymous/" + url.PathEscape(sub.user)
	p := &subscriptionParams{
		NotificationChannel: base + "/websocket/" + sub.channel,
		Service:             []string{"callMe"},
		Expires:             sub.expires,
		NotificationType:    "WebSocket",
	}
	if g.cfg.TURNUsername != "" || g.cfg.TURNPassword != "" {
		p.TurnCredentials = &turnCredentials{Username: g.cfg.TURNUsername, Password: g.cfg.TURNPassword}
	}
	return subscribeResponse{
		Expires:            sub.expires,
		Subscription:       base + "/subscription/" + sub.id,
		SubscriptionParams: p,
	}
}

// lookupSubscription returns user's subscription id, or nil.
func (g *Gateway) lookupSubscription(user, id string) *subscription {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sub := g.subs[id]; sub != nil && sub.user == user {
		return sub
	}
	return nil
}

// refresh serves PUT {subscription} (§12).
func (g *Gateway) refresh(w http.ResponseWriter, r *http.Request) {
	user, id := r.PathValue("user"), r.PathValue("id")
	if _, e := g.authorize(r, user, false, shapeAuth); e != nil {
		g.writeError(w, *e)
		return
	}
	sub := g.lookupSubscription(user, id)
	if sub == nil {
		g.writeError(w, apiError{http.StatusNotFound, shapeSubscribe, codeNoSubscription, "Subscription does not exist"})
		return
	}
	expires, ok := g.readSubscribeRequest(w, r)
	if !ok {
		return
	}
	g.mu.Lock()
	sub.expires = expires
	sub.expiresAt = g.cfg.Now().Add(time.Duration(expires) * time.Second)
	resp := g.subscribeBody(sub)
	g.mu.Unlock()
	g.writeJSON(w, http.StatusOK, map[string]any{shapeSubscribe: resp})
}

// unsubscribe serves DELETE {subscription} (§10.2): its calls end without
// callEnd and its websocket is closed with 1000.
func (g *Gateway) unsubscribe(w http.ResponseWriter, r *http.Request) {
	user, id := r.PathValue("user"), r.PathValue("id")
	if _, e := g.authorize(r, user, false, shapeAuth); e != nil {
		g.writeError(w, *e)
		return
	}
	sub := g.lookupSubscription(user, id)
	if sub == nil {
		g.writeError(w, apiError{http.StatusNotFound, shapeSubscribe, codeNoSubscription, "Subscription does not exist"})
		return
	}
	sock, ok := g.detachSubscription(sub, endUnsubscribed)
	if !ok {
		g.writeError(w, apiError{http.StatusNotFound, shapeSubscribe, codeNoSubscription, "Subscription does not exist"})
		return
	}
	g.writeJSON(w, http.StatusOK, map[string]any{shapeSubscribe: subscribeResponse{}})
	if sock != nil { // closed after the response, like every effect a client sees
		sock.close(websocket.CloseNormalClosure, "unsubscribed")
	}
}

// requestType classifies a callMeRequest type that is not the expected one.
func requestTypeError(t string) apiError {
	switch {
	case t == "":
		return apiError{http.StatusBadRequest, shapeCall, codeBadBody, "Missing callMeRequest.type"}
	case forbiddenTypes[t]:
		return apiError{http.StatusForbidden, shapeCall, codeBadRequest, "Operation " + t + " is not available to anonymous calls"}
	default:
		return apiError{http.StatusBadRequest, shapeCall, codeInvalidValue, "Invalid value: type"}
	}
}

// callStart serves POST {U}/callMe (§6).
func (g *Gateway) callStart(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	req, remote, e := g.readCallStart(w, r, user)
	if e != nil {
		g.writeError(w, *e)
		return
	}
	g.mu.Lock()
	sub := g.channels[req.NotifyChannelID]
	g.mu.Unlock()
	if sub == nil || sub.user != user {
		g.writeError(w, badChannel)
		return
	}
	reject, err := g.drawReject()
	if err != nil {
		g.writeError(w, internalError)
		return
	}
	if reject && g.cfg.RejectMode == RejectHTTP {
		g.count(func(st *Stats) { st.CallsRejected++ })
		g.cfg.Logger.Debug("call rejected with HTTP", "status", g.cfg.RejectStatus)
		g.writeError(w, apiError{g.cfg.RejectStatus, shapeCall, g.cfg.RejectStatus, "Call rejected"})
		return
	}
	s, e := g.addSession(sub, req, remote, reject)
	if e != nil {
		g.writeError(w, *e)
		return
	}
	g.writeJSON(w, http.StatusOK, map[string]any{"callMeResponse": callMeResponse{SessionData: s.id}})
	s.started.sent(time.Now())
}

// internalError answers a request the gateway could not serve (no random id).
var internalError = apiError{http.StatusInternalServerError, shapeCall, codeInternal, "Internal server error"}

// readCallStart authorizes, reads and checks a callStart request and returns
// it with the remoteDisplayNumber to send in notifications.
func (g *Gateway) readCallStart(w http.ResponseWriter, r *http.Request, user string) (*callMeRequest, string, *apiError) {
	account, e := g.authorize(r, user, true, shapeCall)
	if e != nil {
		return nil, "", e
	}
	var body struct {
		Req *callMeRequest `json:"callMeRequest"`
	}
	if e := g.decodeBody(w, r, shapeCall, &body); e != nil {
		return nil, "", e
	}
	req := body.Req
	if e := checkCallStart(req); e != nil {
		return nil, "", e
	}
	remote, caller := displayAddress(req.To), displayAddress(req.From)
	if g.cfg.Mode == ModeToken {
		if remote, caller, e = g.tokenParties(r, req, account); e != nil {
			return nil, "", e
		}
	}
	// §5.4: a display number without a domain gets the caller's domain glued
	// on by the client without a separator, so always send user@domain.
	if i := strings.LastIndex(caller, "@"); !strings.Contains(remote, "@") && i >= 0 {
		remote += caller[i:]
	}
	return req, remote, nil
}

// checkCallStart checks the fields of a callStart request.
func checkCallStart(req *callMeRequest) *apiError {
	if req == nil {
		return &apiError{http.StatusBadRequest, shapeCall, codeBadBody, "Missing callMeRequest"}
	}
	if req.Type != "callStart" {
		e := requestTypeError(req.Type)
		return &e
	}
	for _, f := range []struct{ name, v string }{{"to", req.To}, {"from", req.From}, {"sdp", req.SDP}, {"notifyChannelId", req.NotifyChannelID}} {
		if strings.TrimSpace(f.v) == "" {
			return &apiError{http.StatusBadRequest, shapeCall, codeBadBody, "Missing callMeRequest." + f.name}
		}
	}
	if !strings.HasPrefix(req.SDP, "v=0") || !strings.Contains(req.SDP, "m=") {
		return &apiError{http.StatusBadRequest, shapeCall, codeInvalidValue, "Invalid value: sdp"}
	}
	return nil
}

// tokenParties decodes the toToken and fromToken of a token-mode callStart
// (§13) and returns the callee and caller addresses they carry.
func (g *Gateway) tokenParties(r *http.Request, req *callMeRequest, account string) (remote, caller string, _ *apiError) {
	realm := r.URL.Query().Get("tokenrealm")
	from, e := g.tokenUser(realm, req.From, true, shapeCall)
	if e != nil {
		return "", "", e
	}
	to, e := g.tokenUser(realm, req.To, true, shapeCall)
	if e != nil {
		return "", "", e
	}
	if stripSIP(from) != stripSIP(account) {
		return "", "", &apiError{http.StatusForbidden, shapeCall, codeBadToken, "Invalid CallMe token: fromToken does not match accountToken"}
	}
	return displayAddress(to), displayAddress(from), nil
}

// addSession registers a new call of sub and starts its goroutine, which
// waits for s.started (sent once the callStart response is written).
func (g *Gateway) addSession(sub *subscription, req *callMeRequest, remote string, reject bool) (*session, *apiError) {
	id, err := g.newID()
	if err != nil {
		return nil, &internalError
	}
	earlyMedia := false
	for _, s := range req.Supported {
		earlyMedia = earlyMedia || s == "earlymedia"
	}
	ctx, cancel := context.WithCancel(g.ctx)
	s := &session{
		id: id, offer: req.SDP, earlyMedia: earlyMedia, reject: reject, remote: remote,
		ctx: ctx, cancel: cancel,
		started: newReply(),
		ops:     make(chan op, opQueue),
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		cancel()
		return nil, &apiError{http.StatusServiceUnavailable, shapeCall, http.StatusServiceUnavailable, "Gateway shutting down"}
	case g.subs[sub.id] != sub: // unsubscribed meanwhile
		cancel()
		return nil, &badChannel
	}
	s.sub = sub
	s.lastAudit = g.cfg.Now()
	sub.sessions[id] = s
	g.sessions[id] = s
	g.stats.CallsStarted++
	g.wg.Add(1)
	go g.runSession(s)
	g.cfg.Logger.Debug("call started", "session", id, "subscription", sub.id, "reject", reject)
	return s, nil
}

// lookupSession returns user's session id, or nil.
func (g *Gateway) lookupSession(user, id string) *session {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sessions[id]; s != nil && s.sub.user == user {
		return s
	}
	return nil
}

// updateSession serves PUT {U}/callMe/callSessions/{S}: audit,
// startCallUpdate, respondCallUpdate and sendCustomHeaders (§8, §9).
func (g *Gateway) updateSession(w http.ResponseWriter, r *http.Request) {
	user, id := r.PathValue("user"), r.PathValue("session")
	if _, e := g.authorize(r, user, false, shapeCall); e != nil {
		g.writeError(w, *e)
		return
	}
	s := g.lookupSession(user, id)
	if s == nil {
		g.writeError(w, notFoundSession)
		return
	}
	var body struct {
		Req *callMeRequest `json:"callMeRequest"`
	}
	if e := g.decodeBody(w, r, shapeCall, &body); e != nil {
		g.writeError(w, *e)
		return
	}
	if body.Req == nil {
		g.writeError(w, apiError{http.StatusBadRequest, shapeCall, codeBadBody, "Missing callMeRequest"})
		return
	}
	g.mu.Lock()
	s.lastAudit = g.cfg.Now()
	g.mu.Unlock()
	switch t := body.Req.Type; t {
	case "audit", "sendCustomHeaders":
	case "startCallUpdate", "respondCallUpdate":
		if body.Req.SDP == "" {
			g.writeError(w, apiError{http.StatusBadRequest, shapeCall, codeBadBody, "Missing callMeRequest.sdp"})
			return
		}
		o := op{kind: opReoffer, sdp: body.Req.SDP, reply: newReply()}
		if t == "respondCallUpdate" {
			o.kind = opApplyAnswer
		}
		select {
		case s.ops <- o:
		default:
			g.writeError(w, apiError{http.StatusInternalServerError, shapeCall, codeRetry, "Operation failed, retry"})
			return
		}
		defer func() { o.reply.sent(time.Now()) }() // after the response below
	default:
		g.writeError(w, requestTypeError(t))
		return
	}
	g.writeJSON(w, http.StatusOK, map[string]any{"callMeResponse": callMeResponse{}})
}

// deleteSession serves DELETE {U}/callMe/callSessions/{S} (§10.1): the call
// ends without a callEnd notification.
func (g *Gateway) deleteSession(w http.ResponseWriter, r *http.Request) {
	user, id := r.PathValue("user"), r.PathValue("session")
	if _, e := g.authorize(r, user, false, shapeCall); e != nil {
		g.writeError(w, *e)
		return
	}
	s := g.lookupSession(user, id)
	if s == nil || !g.endSession(s, endLocal, false, 0, "") {
		g.writeError(w, notFoundSession)
		return
	}
	g.writeJSON(w, http.StatusOK, map[string]any{"callMeResponse": callMeResponse{}})
}
