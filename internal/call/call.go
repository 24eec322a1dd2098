package call

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/signal"
	"github.com/loadgen/loadgen/internal/token"
)

// CredentialsFunc returns the credentials of call n, made at now (token mode
// mints fresh tokens with that timestamp).
type CredentialsFunc func(n uint64, now time.Time) (signal.Credentials, error)

// RegularCredentials returns regular-mode credentials from caller and
// callee templates ({n} is the call index).
func RegularCredentials(caller, callee string) CredentialsFunc {
	return func(n uint64, _ time.Time) (signal.Credentials, error) {
		return signal.RegularCredentials(scenario.Expand(callee, n), scenario.Expand(caller, n)), nil
	}
}

// TokenCredentials returns token-mode credentials: for every call, fresh
// account, from and to tokens minted with key for realm, the account and
// callee templates expanded, the call's timestamp and a random IV.
func TokenCredentials(key, realm, account, callee string) CredentialsFunc {
	return func(n uint64, now time.Time) (signal.Credentials, error) {
		iv, err := token.RandomIV()
		if err != nil {
			return signal.Credentials{}, fmt.Errorf("call: token iv: %w", err)
		}
		set, err := token.MintSet(key, realm, scenario.Expand(account, n), scenario.Expand(callee, n), now, iv)
		if err != nil {
			return signal.Credentials{}, fmt.Errorf("call: mint tokens: %w", err)
		}
		return signal.TokenCredentials(set.AccountToken, set.FromToken, set.ToToken), nil
	}
}

// Config configures the calls of a run.
type Config struct {
	// Signal is the run's shared signalling client.
	Signal *signal.Client
	// Media is the run's shared media engine.
	Media *media.Engine
	// Credentials makes each call's credentials.
	Credentials CredentialsFunc
	// Options are sent with every callStart (display name, custom headers).
	Options signal.CallOptions
	// Video adds a video stream to every call.
	Video bool
	// Hold is the hold time, sampled per call from a generator seeded with
	// (Seed, call index), so a run's hold times replay.
	Hold scenario.Hold
	// Seed seeds the hold-time draws.
	Seed uint64
	// HoldUnhold are mid-call holds, at offsets into the hold time; those
	// that would end after a call's hold time are skipped for that call.
	HoldUnhold []scenario.HoldUnhold
	// EndedBy says who ends the call after its hold time.
	EndedBy scenario.EndedBy
	// Timeouts bound the phases (see scenario's Default* constants).
	Timeouts scenario.Timeouts
	// CheckIntegrity fails a call whose received media is not the expected
	// stream (the engine's integrity verdict, MediaStats.IntegrityFailed:
	// only where the engine checked it); for gateways that play loadgen's
	// own media back, such as the embedded one.
	CheckIntegrity bool
	// OnUp, if set, is told every call's session id and sampled hold time
	// once its first media arrived, from the call's goroutine; with
	// EndedBy gateway, the embedded gateway uses it to end the call.
	OnUp func(sessionID string, hold time.Duration)
	// OnSetup, if set, is given the call's record as soon as its setup
	// completed (first media received), from the call's goroutine: the
	// run records the setup phases then (Recorder.RecordSetup) rather than
	// after the hold. The record Run returns is then marked SetupRecorded.
	OnSetup func(metrics.CallRecord)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Start says which call to place and when: the load engine's job.
type Start struct {
	// Index is the call's number in the run ({n} in the templates).
	Index uint64
	// Scheduled is when the load model meant the call to start.
	Scheduled time.Time
	// Started is when it actually started (Started-Scheduled is the
	// scheduling lag).
	Started time.Time
}

// Caller runs calls: its Run method places one call. One Caller serves a whole
// run; it is safe for concurrent use.
type Caller struct {
	cfg    Config
	states [StateDone + 1]atomic.Int64

	liveMu sync.Mutex
	live   map[media.CallPeer]struct{} // peers of calls still running
}

// NewCaller checks cfg and returns a Caller.
func NewCaller(cfg Config) (*Caller, error) {
	var errs []error
	if cfg.Signal == nil {
		errs = append(errs, errors.New("no signal client"))
	}
	if cfg.Media == nil {
		errs = append(errs, errors.New("no media engine"))
	}
	if cfg.Credentials == nil {
		errs = append(errs, errors.New("no credentials"))
	}
	t := cfg.Timeouts
	if t.Start <= 0 || t.Answer <= 0 || t.ICE <= 0 || t.DTLS <= 0 || t.Media <= 0 || t.End <= 0 {
		errs = append(errs, fmt.Errorf("every timeout must be > 0, got %+v", t))
	}
	switch cfg.EndedBy {
	case scenario.EndedByCaller, scenario.EndedByGateway:
	default:
		errs = append(errs, fmt.Errorf("ended by must be caller or gateway, got %q", cfg.EndedBy))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("call: caller: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Caller{cfg: cfg, live: make(map[media.CallPeer]struct{})}, nil
}

// CallStates reports how many calls are up now (media established and
// not yet ending, those on hold included) and how many of those are on
// hold: promexport.CollectorOptions.CallStates takes it as is.
func (c *Caller) CallStates() (up, onHold int) {
	onHold = c.InState(StateOnHold)
	return c.InState(StateUp) + onHold, onHold
}

// LiveMedia returns the media counters of the calls running now, per
// stream, summed over their peers' current statistics (each call from its
// peer's creation until its final statistics are read into its record).
// Added to the recorder's finished totals (Snapshot.Streams) it gives
// counters that move while calls are up: promexport's LiveMedia option
// takes it as is. A call's final statistics are at least its last live
// reading for every field but the downlink loss, which a late packet can
// lower; the exporter keeps its counters monotonic.
func (c *Caller) LiveMedia() [metrics.NumStreams]metrics.StreamTotals {
	c.liveMu.Lock()
	peers := make([]media.CallPeer, 0, len(c.live))
	for p := range c.live {
		peers = append(peers, p)
	}
	c.liveMu.Unlock()
	var out [metrics.NumStreams]metrics.StreamTotals
	for _, p := range peers {
		st := metrics.StreamTotalsOf(p.Stats())
		for k := range out {
			out[k].Add(st[k])
		}
	}
	return out
}

// track adds p to (or, with done, removes it from) the live peers.
func (c *Caller) track(p media.CallPeer, done bool) {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	if done {
		delete(c.live, p)
	} else {
		c.live[p] = struct{}{}
	}
}

// InState returns how many calls are in state s now (for the progress line:
// StateUp + StateOnHold are the calls up). Finished calls are not counted:
// InState(StateDone) is always 0.
func (c *Caller) InState(s State) int {
	if s < 0 || s > StateDone {
		return 0
	}
	return int(c.states[s].Load())
}

// errTimeout is the cause of a phase that ran out of time.
var errTimeout = errors.New("timed out")

// remoteEnd is why the gateway ended the call (callEnd, callCancel or a
// failed audit).
type remoteEnd struct {
	n signal.Notification
}

func (e *remoteEnd) Error() string {
	if e.n.Type == signal.EventAuditFailed {
		return fmt.Sprintf("audit failed: status %d: %v", e.n.StatusCode, e.n.Err)
	}
	return fmt.Sprintf("gateway sent %s: status %d %q", e.n.Type, e.n.StatusCode, e.n.ReasonText)
}

// attempt is one call's state while Run runs it.
type attempt struct {
	c     *Caller
	rec   metrics.CallRecord
	state State

	sess       *signal.Session
	peer       media.CallPeer
	notes      <-chan signal.Notification
	sessionID  string
	answer     *signal.Notification // latest respondCallUpdate not yet consumed
	remote     *remoteEnd           // set once the gateway ended the call
	subscribed bool
	started    bool          // callStart accepted: the call must be ended
	sigRTT     time.Duration // fastest REST exchange so far (see timed)
}

// timed runs one REST exchange and keeps the fastest one's duration: the
// call's signalling RTT estimate (an upper bound of the network RTT: one
// request and response, plus the gateway's processing), which the MOS uses
// when RTCP gave no RTT.
func (cl *attempt) timed(fn func() error) error {
	t0 := cl.now()
	err := fn()
	if d := cl.now().Sub(t0); err == nil && d > 0 && (cl.sigRTT == 0 || d < cl.sigRTT) {
		cl.sigRTT = d
	}
	return err
}

func (cl *attempt) set(s State) {
	cl.c.states[cl.state].Add(-1)
	cl.state = s
	cl.c.states[s].Add(1)
}

func (cl *attempt) now() time.Time { return cl.c.cfg.Now() }

// Run places one call and reports it. The call goes
// through subscribe, websocket, callStart (with the offer), ringing (if
// sent), the answer (applied: connect), ICE, DTLS and the first remote RTP
// packet, holds for its hold time (with the configured mid-call holds), and
// ends: loadgen's DELETE of the call session (or the gateway's callEnd with
// EndedBy gateway), then the DELETE of the subscription. Each phase has its
// timeout; the first failure classifies the call as failed in that phase with
// a reason. A failed hold or unhold re-offer is charged to the hold or
// unhold phase; other failures while the call is up (after the first media
// and before it starts to end: a remote end, media that fails the integrity
// check) are charged to the media phase. Whatever happens,
// including ctx being cancelled (the call is then aborted), the call is ended
// properly: the session DELETE and the unsubscribe each get timeouts.end on a
// context that ctx's cancellation does not cut short.
func (c *Caller) Run(ctx context.Context, st Start) metrics.CallRecord {
	cl := &attempt{c: c, rec: metrics.CallRecord{Index: st.Index, Scheduled: st.Scheduled, Started: st.Started, Video: c.cfg.Video}}
	cl.state = StateScheduled
	c.states[StateScheduled].Add(1)
	defer func() {
		// Done is not counted: InState reports calls still running.
		c.states[cl.state].Add(-1)
		cl.state = StateDone
	}()

	hold := c.cfg.Hold.Sample(rand.New(rand.NewPCG(c.cfg.Seed, st.Index)))
	phase, reason, err := cl.setup(ctx)
	if err == nil {
		if c.cfg.OnSetup != nil {
			c.cfg.OnSetup(cl.rec)
			cl.rec.SetupRecorded = true
		}
		phase, reason, err = cl.up(ctx, hold)
	}
	if err != nil {
		cl.fail(ctx, phase, reason, err)
	}
	cl.end(ctx)
	if cl.peer != nil {
		cl.rec.Media = cl.peer.Stats()
		cl.rec.Media.SignallingRTT = cl.sigRTT
		c.track(cl.peer, true) // after the final reading: it supersedes the live ones
		_ = cl.peer.Close()    // idempotent; its error would only repeat the call's
	}
	if cl.sess != nil {
		_ = cl.sess.Close()
	}
	if cl.rec.Outcome == metrics.OutcomeUnknown {
		cl.rec.Outcome = metrics.OutcomeSuccess
		// Only where the engine compared the payloads: a stream it could
		// not check (a foreign answerer's media) is not "wrong".
		if c.cfg.CheckIntegrity && cl.rec.Media.IntegrityFailed() {
			cl.fail(ctx, metrics.PhaseMedia, metrics.ReasonMediaIntegrity, errors.New("received media is not the stream sent"))
		}
	}
	return cl.rec
}

// fail records the first failure (later ones are consequences). A failure
// after ctx was cancelled is an abort.
func (cl *attempt) fail(ctx context.Context, phase metrics.Phase, reason metrics.Reason, err error) {
	if cl.rec.Outcome != metrics.OutcomeUnknown && cl.rec.Outcome != metrics.OutcomeSuccess {
		return
	}
	cl.rec.Outcome = metrics.OutcomeFailed
	if ctx.Err() != nil {
		cl.rec.Outcome, reason = metrics.OutcomeAborted, metrics.ReasonCanceled
	}
	cl.rec.FailedPhase, cl.rec.Reason = phase, reason
	cl.rec.FailedAt = cl.now()
	cl.rec.Status = statusOf(err)
	cl.rec.Error = phaseError(phase, err)
}

// statusOf is the gateway's status behind err: the status code of the
// notification that ended the call (callEnd, callCancel, a failed audit),
// or the HTTP status of a failed request (else its SPiDR statusCode); 0
// when err carries none. metrics.StatusLabel bounds it for labels.
func statusOf(err error) int {
	var re *remoteEnd
	if errors.As(err, &re) {
		if re.n.StatusCode != 0 {
			return re.n.StatusCode
		}
		err = re.n.Err // an audit's own *signal.Error
	}
	var se *signal.Error
	if errors.As(err, &se) {
		if se.HTTPStatus != 0 {
			return se.HTTPStatus
		}
		return se.Code
	}
	return 0
}

// reasonOf classifies an error from signal or media.
func reasonOf(err error) metrics.Reason {
	var se *signal.Error
	var re *remoteEnd
	switch {
	case errors.As(err, &re):
		if re.n.Type == signal.EventAuditFailed {
			return metrics.ReasonAuditFailed
		}
		return metrics.ReasonRemoteEnded
	case errors.As(err, &se):
		switch se.Kind {
		case signal.KindHTTPStatus:
			return metrics.ReasonHTTPStatus
		case signal.KindBadResponse:
			return metrics.ReasonBadResponse
		case signal.KindTokenRejected:
			return metrics.ReasonTokenRejected
		case signal.KindTransport:
			return metrics.ReasonTransport
		case signal.KindTimeout:
			return metrics.ReasonTimeout
		case signal.KindWebsocketDropped:
			return metrics.ReasonWebsocketDrop
		case signal.KindCanceled:
			return metrics.ReasonCanceled
		default:
			return metrics.ReasonLocal
		}
	case errors.Is(err, errTimeout), errors.Is(err, context.DeadlineExceeded):
		return metrics.ReasonTimeout
	case errors.Is(err, context.Canceled):
		return metrics.ReasonCanceled
	case errors.Is(err, media.ErrICEFailed):
		return metrics.ReasonICEFailed
	case errors.Is(err, media.ErrDTLSFailed):
		return metrics.ReasonDTLSFailed
	case errors.Is(err, media.ErrBadSDP):
		return metrics.ReasonBadSDP
	default:
		return metrics.ReasonLocal
	}
}

// step runs fn under the phase's timeout and records the phase's instant.
func (cl *attempt) step(ctx context.Context, d time.Duration, phase metrics.Phase, fn func(context.Context) error) (metrics.Phase, metrics.Reason, error) {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := fn(sctx); err != nil {
		return phase, reasonOf(err), err
	}
	cl.rec.Instants[phase] = cl.now()
	return phase, metrics.ReasonNone, nil
}

// setup takes the call from nothing to the first remote media: the
// signalling (subscription, websocket, call start), the answer, the media
// connection (ICE, DTLS) and the first remote media, in that order.
func (cl *attempt) setup(ctx context.Context) (metrics.Phase, metrics.Reason, error) {
	creds, err := cl.c.cfg.Credentials(cl.rec.Index, cl.now())
	if err != nil {
		return metrics.PhaseSubscribe, metrics.ReasonLocal, err
	}
	if ph, r, err := cl.startCall(ctx, creds); err != nil {
		return ph, r, err
	}
	if ph, r, err := cl.applyAnswer(ctx); err != nil {
		return ph, r, err
	}
	if ph, r, err := cl.connectMedia(ctx); err != nil {
		return ph, r, err
	}
	return cl.firstMedia(ctx)
}

// startCall subscribes, opens the websocket and starts the call with the
// caller's offer.
func (cl *attempt) startCall(ctx context.Context, creds signal.Credentials) (metrics.Phase, metrics.Reason, error) {
	cfg := cl.c.cfg
	t := cfg.Timeouts
	cl.set(StateSubscribing)
	if ph, r, err := cl.step(ctx, t.Start, metrics.PhaseSubscribe, func(ctx context.Context) error {
		var s *signal.Session
		err := cl.timed(func() (err error) { s, err = cfg.Signal.Subscribe(ctx, creds); return err })
		if err == nil {
			cl.sess, cl.subscribed = s, true
		}
		return err
	}); err != nil {
		return ph, r, err
	}
	cl.set(StateConnectingWebsocket)
	if ph, r, err := cl.step(ctx, t.Start, metrics.PhaseWebsocket, cl.sess.OpenWebsocket); err != nil {
		return ph, r, err
	}
	cl.notes = cl.sess.Notifications()

	cl.set(StateStarting)
	return cl.step(ctx, t.Start, metrics.PhaseStart, func(ctx context.Context) error {
		p, err := cfg.Media.NewCall(media.PeerOptions{Video: cfg.Video})
		if err != nil {
			return fmt.Errorf("new peer: %w", err)
		}
		cl.peer = p
		cl.c.track(p, false)
		offer, err := p.CreateOffer(ctx)
		if err != nil {
			return fmt.Errorf("create offer: %w", err)
		}
		var id string
		err = cl.timed(func() (err error) { id, err = cl.sess.StartCall(ctx, offer, cfg.Options); return err })
		if err != nil {
			return err
		}
		cl.sessionID, cl.started = id, true
		return nil
	})
}

// applyAnswer waits for the answer (ringing is optional) and applies it.
func (cl *attempt) applyAnswer(ctx context.Context) (metrics.Phase, metrics.Reason, error) {
	cl.set(StateWaitingAnswer)
	if err := cl.wait(ctx, cl.c.cfg.Timeouts.Answer, nil, func() bool { return cl.answer != nil }); err != nil {
		return metrics.PhaseConnect, reasonOf(err), fmt.Errorf("waiting for the answer: %w", err)
	}
	ans := cl.answer
	cl.answer = nil
	if ans.Err != nil {
		return metrics.PhaseConnect, metrics.ReasonBadResponse, fmt.Errorf("answer: %w", ans.Err)
	}
	if err := cl.peer.ApplyAnswer(ans.SDP); err != nil {
		return metrics.PhaseConnect, metrics.ReasonBadSDP, fmt.Errorf("apply answer: %w", err)
	}
	cl.rec.Instants[metrics.PhaseConnect] = cl.now()
	return metrics.PhaseConnect, metrics.ReasonNone, nil
}

// connectMedia waits for ICE, then DTLS: one wait bounded by both
// timeouts; each phase is then checked against its own.
func (cl *attempt) connectMedia(ctx context.Context) (metrics.Phase, metrics.Reason, error) {
	t := cl.c.cfg.Timeouts
	cl.set(StateConnectingMedia)
	connected := cl.rec.Instants[metrics.PhaseConnect]
	err := cl.wait(ctx, t.ICE+t.DTLS, cl.peer.WaitConnected, nil)
	ev := cl.peer.Events()
	if !ev.ICEConnected.IsZero() {
		cl.rec.Instants[metrics.PhaseICE] = ev.ICEConnected
	}
	if !ev.DTLSConnected.IsZero() {
		cl.rec.Instants[metrics.PhaseDTLS] = ev.DTLSConnected
	}
	iceLate := ev.ICEConnected.IsZero() || ev.ICEConnected.Sub(connected) > t.ICE
	switch {
	case err != nil && errors.Is(err, media.ErrDTLSFailed):
		return metrics.PhaseDTLS, metrics.ReasonDTLSFailed, err
	case err != nil && (errors.Is(err, media.ErrICEFailed) || ev.ICEConnected.IsZero()):
		return metrics.PhaseICE, reasonOf(err), err
	case err != nil:
		return metrics.PhaseDTLS, reasonOf(err), err
	case iceLate:
		return metrics.PhaseICE, metrics.ReasonTimeout, fmt.Errorf("ICE took %s, over %s", ev.ICEConnected.Sub(connected), t.ICE)
	case ev.DTLSConnected.Sub(ev.ICEConnected) > t.DTLS:
		return metrics.PhaseDTLS, metrics.ReasonTimeout, fmt.Errorf("DTLS took %s, over %s", ev.DTLSConnected.Sub(ev.ICEConnected), t.DTLS)
	}
	return metrics.PhaseDTLS, metrics.ReasonNone, nil
}

// firstMedia waits for the first remote media and records its instant.
func (cl *attempt) firstMedia(ctx context.Context) (metrics.Phase, metrics.Reason, error) {
	cl.set(StateWaitingMedia)
	if err := cl.wait(ctx, cl.c.cfg.Timeouts.Media, cl.peer.WaitFirstMedia, nil); err != nil {
		r := reasonOf(err)
		if r == metrics.ReasonTimeout {
			r = metrics.ReasonNoMedia
		}
		return metrics.PhaseMedia, r, err
	}
	first := cl.peer.Events().FirstRTPReceived
	if first.IsZero() {
		first = cl.now()
	}
	cl.rec.Instants[metrics.PhaseMedia] = first
	return 0, metrics.ReasonNone, nil
}

// up holds the call for hold, with the mid-call holds, then waits for the
// gateway's callEnd if the gateway ends calls.
func (cl *attempt) up(ctx context.Context, hold time.Duration) (metrics.Phase, metrics.Reason, error) {
	cfg := cl.c.cfg
	cl.set(StateUp)
	if cfg.OnUp != nil {
		cfg.OnUp(cl.sessionID, hold)
	}
	begin := cl.now()
	until := func(off time.Duration) error {
		err := cl.wait(ctx, off-cl.now().Sub(begin), nil, nil)
		if errors.Is(err, errTimeout) {
			return nil // the time was up: that is the point
		}
		return err
	}
	for _, h := range cfg.HoldUnhold {
		if h.At+h.Duration > hold {
			continue
		}
		if err := until(h.At); err != nil {
			return metrics.PhaseMedia, reasonOf(err), err
		}
		if err := cl.renegotiate(ctx, true); err != nil {
			return metrics.PhaseHold, reasonOf(err), fmt.Errorf("hold: %w", err)
		}
		cl.set(StateOnHold)
		if err := until(h.At + h.Duration); err != nil {
			return metrics.PhaseMedia, reasonOf(err), err
		}
		if err := cl.renegotiate(ctx, false); err != nil {
			return metrics.PhaseUnhold, reasonOf(err), fmt.Errorf("unhold: %w", err)
		}
		cl.set(StateUp)
	}
	if cfg.EndedBy != scenario.EndedByGateway {
		if err := until(hold); err != nil {
			return metrics.PhaseMedia, reasonOf(err), err
		}
		return 0, metrics.ReasonNone, nil
	}
	// The gateway ends the call: the hold time is when it is expected to,
	// and timeouts.end bounds the wait past it. Its callEnd is the expected
	// end whenever it comes (its timer and ours race at the hold time);
	// the end began at the hold time, or at the callEnd if that was sooner.
	planned := begin.Add(hold)
	err := until(hold + cfg.Timeouts.End)
	cl.set(StateEnding)
	var re *remoteEnd
	switch {
	case errors.As(err, &re) && re.n.Type == signal.EventCallEnd:
		cl.rec.EndBegan = planned
		if re.n.Received.Before(planned) {
			cl.rec.EndBegan = re.n.Received
		}
		cl.rec.Instants[metrics.PhaseEnd] = re.n.Received
		return 0, metrics.ReasonNone, nil
	case err == nil:
		cl.rec.EndBegan = planned
		return metrics.PhaseEnd, metrics.ReasonTimeout, errors.New("the gateway did not end the call")
	case cl.now().Before(planned):
		return metrics.PhaseMedia, reasonOf(err), err
	default:
		return metrics.PhaseEnd, reasonOf(err), err
	}
}

// renegotiate puts the call on hold or takes it off: offer, PUT, answer.
// Each re-offer is recorded in rec.Reoffers (phase hold or unhold), timed
// from the request (before the offer is made) to the answer applied.
func (cl *attempt) renegotiate(ctx context.Context, hold bool) error {
	ro := metrics.Reoffer{Phase: metrics.PhaseUnhold, Requested: cl.now()}
	if hold {
		ro.Phase = metrics.PhaseHold
	}
	err := cl.reoffer(ctx, hold)
	if err == nil {
		ro.Applied = cl.now()
		cl.rec.Instants[ro.Phase] = ro.Applied
	}
	cl.rec.Reoffers = append(cl.rec.Reoffers, ro)
	return err
}

// reoffer makes the hold or unhold offer, sends it and applies the answer.
func (cl *attempt) reoffer(ctx context.Context, hold bool) error {
	t := cl.c.cfg.Timeouts
	sctx, cancel := context.WithTimeout(ctx, t.Start)
	defer cancel()
	offer, err := cl.peer.HoldOffer(sctx, hold)
	if err != nil {
		return err
	}
	cl.answer = nil
	if err := cl.timed(func() error { return cl.sess.StartCallUpdate(sctx, offer) }); err != nil {
		return err
	}
	if err := cl.wait(ctx, t.Answer, nil, func() bool { return cl.answer != nil }); err != nil {
		return err
	}
	ans := cl.answer
	cl.answer = nil
	if ans.Err != nil {
		return ans.Err
	}
	return cl.peer.ApplyAnswer(ans.SDP)
}

// wait handles notifications until done reports true, fn (run in its own
// goroutine, under the wait's deadline) returns, d passes (errTimeout), the
// gateway ends the call (*remoteEnd), the websocket drops, or ctx ends. It
// returns only after fn's goroutine has.
func (cl *attempt) wait(ctx context.Context, d time.Duration, fn func(context.Context) error, done func() bool) error {
	if done != nil && done() {
		return nil
	}
	if cl.remote != nil {
		return cl.remote
	}
	wctx, cancel := context.WithTimeout(ctx, max(d, 0))
	defer cancel()
	var result chan error
	if fn != nil {
		result = make(chan error, 1)
		go func() { result <- fn(wctx) }()
	}
	finish := func(err error) error {
		cancel()
		if result != nil {
			// fn was cancelled: err decides; this waits for fn's end only.
			<-result //nolint:errcheck // the receive awaits the goroutine; its error is superseded by err
		}
		return err
	}
	for {
		select {
		case err := <-result:
			result = nil
			if err != nil && ctx.Err() == nil && wctx.Err() != nil {
				err = fmt.Errorf("%w after %s: %w", errTimeout, d, err)
			}
			return finish(err)
		case <-wctx.Done():
			if ctx.Err() != nil {
				return finish(ctx.Err())
			}
			return finish(errTimeout)
		case n, ok := <-cl.notes:
			if !ok {
				cl.notes = nil
				err := cl.sess.Err()
				if err == nil {
					err = errors.New("websocket closed")
				}
				return finish(err)
			}
			if err := cl.handle(ctx, n); err != nil {
				return finish(err)
			}
			if done != nil && done() {
				return finish(nil)
			}
		}
	}
}

// handle applies one notification; it returns an error when the call is
// over on the gateway's side.
func (cl *attempt) handle(ctx context.Context, n signal.Notification) error {
	if n.SessionData != "" && cl.sessionID != "" && n.SessionData != cl.sessionID {
		return nil // another call's: not ours to act on
	}
	switch n.Type {
	case signal.EventRinging:
		if cl.rec.Instants[metrics.PhaseRinging].IsZero() {
			cl.rec.Instants[metrics.PhaseRinging] = n.Received
		}
		if cl.state == StateWaitingAnswer {
			cl.set(StateRinging)
		}
	case signal.EventRespondCallUpdate:
		if n.SDP != "" || n.Err != nil {
			cl.answer = &n
		}
	case signal.EventStartCallUpdate:
		// A remote hold or unhold: answer it.
		sctx, cancel := context.WithTimeout(ctx, cl.c.cfg.Timeouts.Start)
		defer cancel()
		ans, err := cl.peer.Answer(sctx, n.SDP)
		if err != nil {
			return fmt.Errorf("answer remote re-offer: %w", err)
		}
		if err := cl.sess.RespondCallUpdate(sctx, ans); err != nil {
			return err
		}
	case signal.EventCallEnd, signal.EventCallCancel, signal.EventAuditFailed:
		cl.remote = &remoteEnd{n: n}
		return cl.remote
	case signal.EventSessionProgress, signal.EventSessionComplete, signal.EventSessionFail:
		// Early media and transfer/join results: this call flow uses none.
	}
	return nil
}

// end ends the call properly whatever happened: DELETE of the call session
// (unless the gateway ended it), DELETE of the subscription. Each request
// gets timeouts.end, on a context ctx's cancellation does not cut short.
func (cl *attempt) end(ctx context.Context) {
	t := cl.c.cfg.Timeouts
	base := context.WithoutCancel(ctx)
	if cl.started && cl.remote == nil {
		cl.set(StateEnding)
		if cl.rec.EndBegan.IsZero() {
			cl.rec.EndBegan = cl.now()
		}
		ectx, cancel := context.WithTimeout(base, t.End)
		err := cl.sess.EndCall(ectx)
		cancel()
		if err != nil {
			cl.rec.HangupError = fmt.Sprintf("end the call session: %v", err)
			cl.fail(ctx, metrics.PhaseEnd, reasonOf(err), err)
		} else if cl.rec.Instants[metrics.PhaseEnd].IsZero() {
			cl.rec.Instants[metrics.PhaseEnd] = cl.now()
		}
	}
	if cl.subscribed {
		cl.set(StateUnsubscribing)
		ectx, cancel := context.WithTimeout(base, t.End)
		err := cl.sess.Unsubscribe(ectx)
		cancel()
		if err != nil {
			if cl.rec.HangupError == "" {
				cl.rec.HangupError = fmt.Sprintf("unsubscribe: %v", err)
			}
			cl.fail(ctx, metrics.PhaseEnd, reasonOf(err), fmt.Errorf("unsubscribe: %w", err))
		}
	}
}

// NewConfig fills a Config from a validated scenario: the
// credentials of its mode (key is token mode's key, read by the caller from
// the environment variable the scenario names), video, hold, mid-call holds,
// who ends calls, timeouts and the seed. The caller adds Signal, Media,
// CheckIntegrity, OnUp and Now.
func NewConfig(s *scenario.Scenario, key string) Config {
	cfg := Config{
		Options:    signal.CallOptions{DisplayName: s.Call.DisplayName},
		Video:      s.Call.Video,
		Hold:       s.Call.Hold,
		Seed:       s.Load.Seed,
		HoldUnhold: s.Call.HoldUnhold,
		EndedBy:    s.Call.EndedBy,
		Timeouts:   s.Call.Timeouts,
	}
	if s.Mode == scenario.ModeToken && s.Token != nil {
		cfg.Credentials = TokenCredentials(key, s.Token.Realm, s.Token.Account, s.Call.Callee)
	} else {
		cfg.Credentials = RegularCredentials(s.Call.Caller, s.Call.Callee)
	}
	return cfg
}

// phaseError is a failed call's message, naming each step once: a
// signalling error already names its step ("signal: subscribe: ..."), so
// when that step is the phase the message reads "subscribe: transport: ...",
// not "subscribe: signal: subscribe: ...".
func phaseError(phase metrics.Phase, err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "signal: "+phase.String()+": "); ok {
		return phase.String() + ": " + rest
	}
	return phase.String() + ": " + strings.TrimPrefix(msg, "signal: ")
}
