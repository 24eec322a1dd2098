// Package gateway is the built-in Kandy-compatible stand-in gateway: the
// server side of the anonymous-call ("callMe") protocol described in
// shared/protocol/kandy-anonymous-call.md (§15.2 and everything it refers to).
//
// It serves subscriptions, notification websockets, callStart, audits,
// renegotiations, custom headers and both DELETEs over one http.Handler, with
// CORS for browser clients, and answers each call with a real WebRTC peer
// supplied through NewAnswerer. Token mode validates every token (§13).
//
// Error responses are JSON with CORS headers; subscription and websocket
// routes use the subscribeResponse envelope (§4.3), call routes the
// callControlResponse envelope (§3.6), so clients read the status code:
//
//	malformed JSON, empty or missing body    400 statusCode 5
//	missing to/from/sdp/notifyChannelId/type 400 statusCode 5
//	startCallUpdate/respondCallUpdate no sdp 400 statusCode 5
//	unknown request type, bad sdp or expires 400 statusCode 37
//	notifyChannelId unknown or another user  400 statusCode 37
//	subscription without the callMe service  403 statusCode 35
//	transfer, join, answer, reject, …        403 statusCode 1004
//	unknown subscription or channel          404 statusCode 39
//	unknown or ended call session            404 {"callControlResponse":{"statusCode":42,"reason":"Resource does not exist"}}
//	unknown path or API version              404 statusCode 1004
//	wrong method (GET callSessions included) 405 statusCode 1004, with Allow
//	body over MaxBodyBytes                   413 statusCode 5
//	renegotiation queue full                 500 statusCode 49
//	after Shutdown                           503 statusCode 503
//	fault injection with RejectHTTP          RejectStatus, statusCode RejectStatus
//
// Token mode (§13.4): a missing or unknown tokenrealm gives 403 statusCode 64,
// an undecodable token, a bad MAC or a fromToken of another user than the
// accountToken 403 statusCode 46, a token older than TokenValidity or newer
// than TokenSkew 403 statusCode 65; in the authorizationResponse envelope on
// subscription routes, callControlResponse on call routes.
//
// A call drawn for rejection (RejectRatio) with RejectCallEnd gets 200, ringing
// and then callEnd with RejectStatus (486 "Busy Here" by default).
//
// Order: nothing a request causes reaches the client before that request's
// response, which is flushed before: callStart's ringing, sessionProgress and
// answer, a re-offer's answer (no sooner than ReofferDelay after the PUT's
// response, as the reference SDK needs for hold and unhold), and the close of
// an unsubscribed websocket.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Sentinel errors of the remote actions.
var (
	// ErrUnknownSession reports a session id the gateway does not hold.
	ErrUnknownSession = errors.New("gateway: unknown call session")
	// ErrNoReofferer reports a remote hold on a call whose Answerer cannot re-offer.
	ErrNoReofferer = errors.New("gateway: answerer does not implement Reofferer")
	// ErrClosed reports use of a gateway after Shutdown.
	ErrClosed = errors.New("gateway: closed")
	// ErrInvalidConfig is wrapped by every error that reports a bad Config or
	// ServerConfig (as opposed to a failure to listen or to start the media
	// engine), so that a command can tell usage errors apart.
	ErrInvalidConfig = errors.New("gateway: invalid config")
)

// Stats is a snapshot of the gateway's state, for tests and logs.
type Stats struct {
	// Subscriptions, Sessions and Sockets are the ones currently open.
	Subscriptions, Sessions, Sockets int
	// Answerers is the number of Answerers created and not yet closed.
	Answerers int
	// SubscriptionsTotal counts subscriptions ever created.
	SubscriptionsTotal uint64
	// CallsStarted counts accepted callStart requests (rejected calls included).
	CallsStarted uint64
	// CallsAnswered counts calls whose answer was sent.
	CallsAnswered uint64
	// CallsRejected counts calls refused by fault injection.
	CallsRejected uint64
	// CallsFailed counts calls that failed in the gateway (answerer errors).
	CallsFailed uint64
	// CallsExpired counts calls ended because audits stopped.
	CallsExpired uint64
	// Notifications counts notifications handed to a websocket (queued
	// ones when their socket attaches).
	Notifications uint64
	// Pings counts client keep-alive frames ({"message_type":"ping"}),
	// taken as liveness and never answered.
	Pings uint64
	// NotificationsDropped counts notifications never handed to a websocket
	// (the subscription's queue full, or the subscription removed first) and
	// those a closing websocket had not written; each drop is logged.
	NotificationsDropped uint64
}

// Gateway is the stand-in gateway. Create it with New, serve it as an
// http.Handler, and stop it with Shutdown.
type Gateway struct {
	cfg      Config
	upgrader websocket.Upgrader
	mux      *http.ServeMux // routes, built once by New
	metrics  *metrics

	ctx    context.Context // canceled by Shutdown; parent of every session
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the gateway starts

	randMu sync.Mutex // guards cfg.Rand

	mu       sync.Mutex
	closed   bool
	subs     map[string]*subscription // by subscription id
	channels map[string]*subscription // by notification channel id
	sessions map[string]*session      // by session id
	sockets  map[*socket]struct{}
	stats    Stats
}

// New validates cfg and returns a running Gateway; call Shutdown to stop it.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		cfg:      cfg,
		ctx:      ctx,
		cancel:   cancel,
		subs:     make(map[string]*subscription),
		channels: make(map[string]*subscription),
		sessions: make(map[string]*session),
		sockets:  make(map[*socket]struct{}),
	}
	g.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      func(*http.Request) bool { return true }, // browsers call from other origins
		Error:            g.upgradeError,
	}
	g.mux = g.routes()
	m, err := newMetrics(g, cfg.Registerer)
	if err != nil {
		cancel()
		return nil, err
	}
	g.metrics = m
	g.wg.Add(1)
	go g.janitor()
	return g, nil
}

// Stats returns a snapshot of the gateway's state.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats
	s.Subscriptions = len(g.subs)
	s.Sessions = len(g.sessions)
	s.Sockets = len(g.sockets)
	return s
}

// Shutdown stops the gateway: no notification is sent any more, every call's
// Answerer is closed, every websocket is closed with 1001 (going away), and
// Shutdown waits for all gateway goroutines or ctx. Later requests get 503.
// The caller still shuts down its http.Server.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	socks := make([]*socket, 0, len(g.sockets))
	for s := range g.sockets {
		socks = append(socks, s)
	}
	g.cfg.Logger.Info("gateway shutting down", "subscriptions", len(g.subs), "sessions", len(g.sessions), "websockets", len(g.sockets))
	for id, sess := range g.sessions {
		sess.cancel()
		delete(g.sessions, id)
		g.endedLocked(sess, endShutdown)
	}
	for id, sub := range g.subs {
		delete(g.subs, id)
		delete(g.channels, sub.channel)
	}
	g.mu.Unlock()
	g.cancel()
	for _, s := range socks {
		s.close(websocket.CloseGoingAway, "gateway shutting down")
	}
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}

// janitor expires subscriptions past their lifetime and calls no longer audited.
func (g *Gateway) janitor() {
	defer g.wg.Done()
	interval := time.Second
	if a := g.cfg.AuditTimeout / 4; a > 0 && a < interval {
		interval = max(a, 5*time.Millisecond)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
			g.sweep()
			if g.cfg.hooks != nil && g.cfg.hooks.afterSweep != nil {
				g.cfg.hooks.afterSweep()
			}
		}
	}
}

// sweep performs one janitor pass.
func (g *Gateway) sweep() {
	now := g.cfg.Now()
	var expiredSubs []*subscription
	var unaudited []*session
	g.mu.Lock()
	for _, sub := range g.subs {
		if now.After(sub.expiresAt) {
			expiredSubs = append(expiredSubs, sub)
		}
	}
	if g.cfg.AuditTimeout > 0 {
		for _, s := range g.sessions {
			if now.Sub(s.lastAudit) > g.cfg.AuditTimeout {
				unaudited = append(unaudited, s)
			}
		}
	}
	g.mu.Unlock()
	for _, s := range unaudited {
		if g.endSession(s, endAuditTimeout, true, 408, "Call ended: no audit received") {
			g.mu.Lock()
			g.stats.CallsExpired++
			g.mu.Unlock()
			g.cfg.Logger.Info("call expired: no audit", "session", s.id)
		}
	}
	for _, sub := range expiredSubs {
		g.cfg.Logger.Info("subscription expired", "subscription", sub.id)
		g.removeSubscription(sub, endSubscriptionExpired, websocket.CloseNormalClosure, "subscription expired")
	}
}

// removeSubscription drops sub, its sessions (no callEnd, ended for why) and
// closes its socket with code. It reports whether sub was still registered.
func (g *Gateway) removeSubscription(sub *subscription, why endReason, code int, reason string) bool {
	sock, ok := g.detachSubscription(sub, why)
	if sock != nil {
		sock.close(code, reason)
	}
	return ok
}

// detachSubscription drops sub and its sessions (no callEnd, ended for why)
// and returns its socket, still open, for the caller to close. It reports
// whether sub was still registered.
func (g *Gateway) detachSubscription(sub *subscription, why endReason) (*socket, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.subs[sub.id] != sub {
		return nil, false
	}
	delete(g.subs, sub.id)
	delete(g.channels, sub.channel)
	for id, s := range sub.sessions {
		delete(g.sessions, id)
		s.cancel()
		g.endedLocked(s, why)
	}
	if n := len(sub.pending); n > 0 && !g.closed {
		g.dropLocked(sub, n, "subscription removed before a websocket took them")
	}
	sub.pending = nil
	sock := sub.sock
	sub.sock = nil
	g.cfg.Logger.Debug("subscription removed", "subscription", sub.id, "why", string(why))
	return sock, true
}

// endSession removes s, which ended for why; with notify it first sends
// callEnd with status and reason. It reports whether s was still registered.
func (g *Gateway) endSession(s *session, why endReason, notify bool, status int, reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessions[s.id] != s {
		return false
	}
	if notify {
		g.notifyLocked(s.sub, g.callEnd(s, status, reason))
	}
	delete(g.sessions, s.id)
	delete(s.sub.sessions, s.id)
	s.cancel()
	g.endedLocked(s, why)
	return true
}

// endedLocked records the end of s; g.mu is held.
func (g *Gateway) endedLocked(s *session, why endReason) {
	g.metrics.ended.WithLabelValues(string(why)).Inc()
	g.cfg.Logger.Debug("call ended", "session", s.id, "why", string(why))
}

// EndCall ends a call from the far side: it sends callEnd with status and
// reason (sessionParams.statusCode / reasonText) and drops the session, whose
// later audits get status 42.
func (g *Gateway) EndCall(sessionID string, status int, reason string) error {
	g.mu.Lock()
	s := g.sessions[sessionID]
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if s == nil || !g.endSession(s, endRemote, true, status, reason) {
		return fmt.Errorf("gateway: end call %q: %w", sessionID, ErrUnknownSession)
	}
	return nil
}

// RemoteHold makes the far side hold (hold true) or resume the call: the
// call's Answerer (which must implement Reofferer) builds a re-offer, sent as
// a startCallUpdate notification; the client's respondCallUpdate PUT carries
// the answer, applied with Reofferer.ApplyAnswer. RemoteHold returns once the
// notification is queued. Requested before the call is answered, it runs
// right after the answer.
func (g *Gateway) RemoteHold(sessionID string, hold bool) error {
	g.mu.Lock()
	s := g.sessions[sessionID]
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if s == nil {
		return fmt.Errorf("gateway: remote hold %q: %w", sessionID, ErrUnknownSession)
	}
	res := make(chan error, 1)
	select {
	case s.ops <- op{kind: opRemoteHold, hold: hold, result: res}:
	case <-s.ctx.Done():
		return fmt.Errorf("gateway: remote hold %q: %w", sessionID, ErrUnknownSession)
	}
	select {
	case err := <-res:
		if err != nil {
			return fmt.Errorf("gateway: remote hold %q: %w", sessionID, err)
		}
		return nil
	case <-s.ctx.Done():
		return fmt.Errorf("gateway: remote hold %q: %w", sessionID, ErrUnknownSession)
	}
}

// newID returns a random UUID v4 drawn from cfg.Rand (crypto/rand by default).
func (g *Gateway) newID() (string, error) {
	var b [16]byte
	if err := g.readRand(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// readRand fills b from cfg.Rand under randMu.
func (g *Gateway) readRand(b []byte) error {
	g.randMu.Lock()
	defer g.randMu.Unlock()
	var err error
	if g.cfg.Rand != nil {
		_, err = io.ReadFull(g.cfg.Rand, b)
	} else {
		_, err = rand.Read(b)
	}
	if err != nil {
		return fmt.Errorf("gateway: random: %w", err)
	}
	return nil
}

// drawReject reports whether the next call is refused (RejectRatio).
func (g *Gateway) drawReject() (bool, error) {
	if g.cfg.RejectRatio <= 0 {
		return false, nil
	}
	if g.cfg.RejectRatio >= 1 {
		return true, nil
	}
	var b [8]byte
	if err := g.readRand(b[:]); err != nil {
		return false, err
	}
	u := float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
	return u < g.cfg.RejectRatio, nil
}

// notifyLocked sends one notification to sub's websocket or, with none
// attached (or one closing), queues it on sub until a socket attaches; g.mu
// is held. Nothing is sent after Shutdown.
func (g *Gateway) notifyLocked(sub *subscription, n notification) {
	if g.closed {
		return
	}
	id, err := g.newID()
	if err != nil {
		g.cfg.Logger.Error("notification id", "err", err)
		return
	}
	n.EventID = id
	data, err := json.Marshal(envelope{Message: n})
	if err != nil {
		g.cfg.Logger.Error("marshal notification", "err", err)
		return
	}
	if sub.sock != nil && sub.sock.send(data) {
		g.stats.Notifications++
		return
	}
	if len(sub.pending) >= outboxSize {
		g.dropLocked(sub, 1, "no websocket and the queue is full", "event", n.EventType)
		return
	}
	sub.pending = append(sub.pending, data)
	g.cfg.Logger.Debug("notification queued: no websocket attached", "subscription", sub.id, "event", n.EventType)
}

// dropLocked counts and logs n notifications of sub that will never be sent; g.mu is held.
func (g *Gateway) dropLocked(sub *subscription, n int, why string, attrs ...any) {
	g.stats.NotificationsDropped += uint64(n)
	g.metrics.dropped.Add(float64(n))
	g.cfg.Logger.Warn("notifications dropped: "+why, append([]any{"subscription", sub.id, "count", n}, attrs...)...)
}

// notify is notifyLocked taking g.mu; it drops notifications for sessions
// no longer registered (ended by DELETE, callEnd or Shutdown).
func (g *Gateway) notify(s *session, n notification) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessions[s.id] != s {
		return false
	}
	g.notifyLocked(s.sub, n)
	return true
}
