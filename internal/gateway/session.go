package gateway

import (
	"context"
	"time"
)

// subscription is one anonymous subscription; its fields are guarded by Gateway.mu.
type subscription struct {
	id, channel string
	user        string // path user {U}, percent-decoded
	expires     int    // granted lifetime, seconds
	expiresAt   time.Time
	sock        *socket
	// pending holds notifications (frames) made while no websocket is
	// attached, for instance between the 101 and the attach, or during a
	// reconnect; the next socket sends them first. At most outboxSize.
	pending  [][]byte
	sessions map[string]*session
}

// opKind is the kind of work handed to a session goroutine.
type opKind int

const (
	opReoffer     opKind = iota // client startCallUpdate: answer its offer
	opRemoteHold                // Gateway.RemoteHold: send our re-offer
	opApplyAnswer               // client respondCallUpdate: apply its answer
)

// op is one piece of work for a session goroutine.
type op struct {
	kind   opKind
	sdp    string
	hold   bool
	result chan error // opRemoteHold only; buffered
	reply  *reply     // opReoffer and opApplyAnswer: the PUT's response
}

// reply marks the moment a request's response has been written and flushed.
// A notification caused by a request waits for its reply, so that a client
// never sees the notification before the response (the reference SDK marks a
// hold "pending" only once the PUT's 200 is in: an earlier answer breaks unhold).
type reply struct {
	done chan struct{}
	at   time.Time // set before done is closed
}

// newReply returns a reply not yet sent.
func newReply() *reply { return &reply{done: make(chan struct{})} }

// sent records that the response has been written at now.
func (r *reply) sent(now time.Time) {
	r.at = now
	close(r.done)
}

// await waits until r is sent or s ends, and reports whether s is still alive.
func (s *session) await(r *reply) bool {
	select {
	case <-r.done:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// session is one call. Immutable after creation except lastAudit (Gateway.mu).
// All Answerer use happens in the session's own goroutine (runSession).
type session struct {
	id         string
	sub        *subscription
	offer      string
	earlyMedia bool
	reject     bool   // drawn for a callEnd rejection
	remote     string // remoteDisplayNumber
	lastAudit  time.Time
	ctx        context.Context
	cancel     context.CancelFunc
	started    *reply // the callStart response
	ops        chan op
}

// endReason is why a call ended: a closed set, used in logs and as the
// reason label of loadgen_gateway_calls_ended_total.
type endReason string

const (
	endLocal               endReason = "client_delete"        // DELETE of the session
	endRemote              endReason = "remote_end"           // Gateway.EndCall
	endRejected            endReason = "rejected"             // fault injection, RejectCallEnd
	endFailed              endReason = "failed"               // the gateway's media failed
	endAuditTimeout        endReason = "audit_timeout"        // audits stopped
	endUnsubscribed        endReason = "unsubscribed"         // DELETE of its subscription
	endSubscriptionExpired endReason = "subscription_expired" // its subscription expired
	endShutdown            endReason = "shutdown"             // Gateway.Shutdown
)

// failStep is the gateway-side step that failed a call: a closed set, used in
// logs, the callEnd reason text and as the reason label of
// loadgen_gateway_calls_failed_total.
type failStep string

const (
	failCreateAnswerer failStep = "create_answerer"
	failAnswer         failStep = "answer"
	failAnswerReoffer  failStep = "answer_reoffer"
)

// text is the step as the callEnd reason text names it.
func (f failStep) text() string {
	switch f {
	case failCreateAnswerer:
		return "create answerer"
	case failAnswerReoffer:
		return "answer re-offer"
	default:
		return string(f)
	}
}

// opQueue is the capacity of a session's op queue.
const opQueue = 16

// callParams returns the callNotificationParams of s.
func (g *Gateway) callParams(s *session) *callParams {
	return &callParams{RemoteName: g.cfg.RemoteName, RemoteDisplayNumber: s.remote}
}

// event builds a notification of type t for s.
func (g *Gateway) event(s *session, t, sdp string) notification {
	return notification{
		EventType:     t,
		SessionParams: sessionParams{SessionData: s.id, SDP: sdp},
		CallParams:    g.callParams(s),
	}
}

// callEnd builds a callEnd notification for s.
func (g *Gateway) callEnd(s *session, status int, reason string) notification {
	n := g.event(s, "callEnd", "")
	n.SessionParams.StatusCode = &status
	n.SessionParams.ReasonText = reason
	return n
}

// wait sleeps d unless s ends first; it reports whether s is still alive.
func wait(s *session, d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// rejectReason is the callEnd reasonText for a SIP-like status.
func rejectReason(status int) string {
	switch status {
	case 486:
		return "Busy Here"
	case 480:
		return "Temporarily Unavailable"
	case 603:
		return "Decline"
	case 487:
		return "Request Terminated"
	default:
		return "Call rejected"
	}
}

// runSession drives one call: ringing, the answer, then renegotiations, until
// the session is ended. It owns and closes the call's Answerer.
func (g *Gateway) runSession(s *session) {
	defer g.wg.Done()
	if !s.await(s.started) {
		return
	}
	if !wait(s, g.cfg.RingingDelay) {
		return
	}
	if g.cfg.Ringing {
		g.notify(s, g.event(s, "ringing", ""))
	}
	if s.reject {
		if g.endSession(s, endRejected, true, g.cfg.RejectStatus, rejectReason(g.cfg.RejectStatus)) {
			g.count(func(st *Stats) { st.CallsRejected++ })
		}
		return
	}
	ans, err := g.cfg.NewAnswerer()
	if err != nil {
		g.fail(s, failCreateAnswerer, err)
		return
	}
	g.count(func(st *Stats) { st.Answerers++ })
	defer func() {
		if err := ans.Close(); err != nil {
			g.cfg.Logger.Warn("close answerer", "session", s.id, "err", err)
		}
		g.count(func(st *Stats) { st.Answerers-- })
	}()
	if !g.answerCall(s, ans) {
		return
	}
	pendingReoffer := false
	for {
		select {
		case <-s.ctx.Done():
			return
		case o := <-s.ops:
			if !g.runOp(s, ans, o, &pendingReoffer) {
				return
			}
		}
	}
}

// answerCall answers the call's offer: sessionProgress with early media,
// then respondCallUpdate no sooner than AnswerDelay after the callStart
// response. It reports whether the call goes on.
func (g *Gateway) answerCall(s *session, ans Answerer) bool {
	answer, err := ans.Answer(s.ctx, s.offer)
	if err != nil {
		if s.ctx.Err() == nil {
			g.fail(s, failAnswer, err)
		}
		return false
	}
	if s.earlyMedia && !g.notify(s, g.event(s, "sessionProgress", answer)) {
		return false
	}
	if !wait(s, g.cfg.AnswerDelay-time.Since(s.started.at)) {
		return false
	}
	if !g.notify(s, g.event(s, "respondCallUpdate", answer)) {
		return false
	}
	g.count(func(st *Stats) { st.CallsAnswered++ })
	g.metrics.answered.Inc()
	g.cfg.Logger.Debug("call answered", "session", s.id)
	return true
}

// runOp performs one renegotiation step; pending tracks a remote re-offer
// awaiting the client's answer. It reports whether the call goes on.
func (g *Gateway) runOp(s *session, ans Answerer, o op, pending *bool) bool {
	switch o.kind {
	case opReoffer:
		sdp, err := ans.Answer(s.ctx, o.sdp)
		if err != nil {
			if s.ctx.Err() == nil {
				g.fail(s, failAnswerReoffer, err)
			}
			return false
		}
		// The answer goes out only after the PUT's response, and no sooner
		// than ReofferDelay after it (a real gateway relays the far end's answer).
		if !s.await(o.reply) || !wait(s, g.cfg.ReofferDelay-time.Since(o.reply.at)) {
			return false
		}
		g.notify(s, g.event(s, "respondCallUpdate", sdp))
	case opRemoteHold:
		rf, ok := ans.(Reofferer)
		if !ok {
			o.result <- ErrNoReofferer
			return true
		}
		offer, err := rf.Reoffer(s.ctx, o.hold)
		if err != nil {
			o.result <- err
			return true
		}
		*pending = g.notify(s, g.event(s, "startCallUpdate", offer))
		o.result <- nil
	case opApplyAnswer:
		rf, ok := ans.(Reofferer)
		if !ok || !*pending {
			g.cfg.Logger.Debug("respondCallUpdate without a pending re-offer", "session", s.id)
			return true
		}
		*pending = false
		if err := rf.ApplyAnswer(o.sdp); err != nil {
			g.cfg.Logger.Warn("apply client answer", "session", s.id, "err", err)
		}
	}
	return true
}

// fail ends s with callEnd 488 after a gateway-side media failure.
func (g *Gateway) fail(s *session, step failStep, err error) {
	g.cfg.Logger.Warn("call failed", "session", s.id, "step", string(step), "err", err)
	if g.endSession(s, endFailed, true, 488, "Not Acceptable Here: "+step.text()+" failed") {
		g.count(func(st *Stats) { st.CallsFailed++ })
		g.metrics.failed.WithLabelValues(string(step)).Inc()
	}
}

// count updates the statistics under g.mu.
func (g *Gateway) count(f func(*Stats)) {
	g.mu.Lock()
	f(&g.stats)
	g.mu.Unlock()
}
