package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/signal"
	"github.com/loadgen/loadgen/internal/testrig"
	"github.com/loadgen/loadgen/internal/token"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every single wait in these tests; reaching it fails.
const waitLimit = 10 * time.Second

// pollEvery is the period of the loops that poll for a state.
const pollEvery = 25 * time.Millisecond

// Test identities and keys.
const (
	account = "caller@e2e.example.com"
	callee  = "callee@e2e.example.com"
	realm16 = "aes128.e2e.example.com" // realm with a 16-character key
	realm32 = "aes256.e2e.example.com" // realm with a 32-character key
	key16   = "E2eKey16chars..!"
	key32   = "E2eKey32chars-for-AES256-CBC-mac"
)

// flavour is one way of placing calls: a signalling mode and, in token
// mode, the realm whose key mints the tokens.
type flavour struct {
	name  string
	mode  signal.Mode
	realm string
	key   string
	video bool // the caller offers video too
}

// flavours are the modes every call sequence is placed in.
var flavours = []flavour{
	{name: "regular", mode: signal.ModeRegular, video: true},
	{name: "token-aes128", mode: signal.ModeToken, realm: realm16, key: key16},
	{name: "token-aes256", mode: signal.ModeToken, realm: realm32, key: key32, video: true},
}

// creds returns fresh credentials for one call of f.
func (f flavour) creds() (signal.Credentials, error) {
	if f.mode == signal.ModeRegular {
		return signal.RegularCredentials(callee, account), nil
	}
	set, err := mintSet(f.key, f.realm, time.Now())
	if err != nil {
		return signal.Credentials{}, err
	}
	return signal.TokenCredentials(set.AccountToken, set.FromToken, set.ToToken), nil
}

// mintSet mints the tokens of one call with key at ts.
func mintSet(key, realm string, ts time.Time) (token.Set, error) {
	iv, err := token.RandomIV()
	if err != nil {
		return token.Set{}, err
	}
	return token.MintSet(key, realm, account, callee, ts, iv)
}

// exchange is one HTTP request the gateway received.
type exchange struct {
	Method, Path, Query string
	Body                []byte
}

// recorder is an http.Handler in front of the gateway that remembers every
// request (websocket upgrades included: the ResponseWriter is passed on
// untouched, so hijacking works).
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []exchange
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ex := exchange{Method: req.Method, Path: req.URL.EscapedPath(), Query: req.URL.RawQuery}
	if req.Body != nil && req.Method != http.MethodGet {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err == nil {
			ex.Body = body
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, ex)
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

// requests returns the requests whose method is method ("" for any) and
// whose path contains part.
func (r *recorder) requests(method, part string) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, ex := range r.reqs {
		if (method == "" || ex.Method == method) && strings.Contains(ex.Path, part) {
			out = append(out, ex)
		}
	}
	return out
}

// env is one gateway (regular or token mode, both realms) behind a
// loopback HTTP server (testrig), answering with real pion peers, and one
// signalling client for it.
type env struct {
	t      *testing.T
	f      flavour
	rig    *testrig.Rig
	gw     *gateway.Gateway
	srv    *httptest.Server
	rec    *recorder
	client *signal.Client
	// clientMedia makes the callers, gatewayMedia the gateway's answerers
	// (two engines, as two processes would have).
	clientMedia, gatewayMedia *media.Engine
	answerers                 testrig.Answerers
}

// newEngine builds a loopback media engine with short ICE timers.
func newEngine(t *testing.T) *media.Engine {
	t.Helper()
	cfg := testrig.LoopbackEngineConfig()
	cfg.GatherTimeout = 2 * time.Second
	cfg.Pacers = 1
	return testrig.NewEngine(t, cfg)
}

// callerEngineEnv names the caller engine the e2e tests use:
// LOADGEN_TEST_MEDIA_ENGINE=transport runs every test on the transport
// (CI runs the suite both ways); anything else, the lean pion peer.
const callerEngineEnv = "LOADGEN_TEST_MEDIA_ENGINE"

// newCallerEngine builds the callers' engine: newEngine's, on the
// transport when callerEngineEnv says so.
func newCallerEngine(t *testing.T) *media.Engine {
	t.Helper()
	cfg := testrig.LoopbackEngineConfig()
	cfg.GatherTimeout = 2 * time.Second
	cfg.Pacers = 1
	cfg.Transport = onTransport()
	return testrig.NewEngine(t, cfg)
}

// onTransport says whether the callers run on the transport.
func onTransport() bool { return os.Getenv(callerEngineEnv) == "transport" }

// newEnv starts a gateway for f with short delays; gwMut and clMut (both
// optional) adjust the gateway and client configurations.
func newEnv(t *testing.T, f flavour, gwMut func(*gateway.Config), clMut func(*signal.Config)) *env {
	t.Helper()
	e := &env{t: t, f: f}
	e.gatewayMedia = newEngine(t)
	e.clientMedia = newCallerEngine(t)
	e.rig = testrig.New(t, testrig.Options{
		Engine: e.gatewayMedia,
		Gateway: func(cfg *gateway.Config) {
			cfg.RingingDelay = 2 * time.Millisecond
			cfg.AnswerDelay = 5 * time.Millisecond
			if f.mode == signal.ModeToken {
				cfg.Mode = gateway.ModeToken
				cfg.Realms = map[string]string{realm16: key16, realm32: key32}
				cfg.TokenValidity = time.Minute
				cfg.TokenSkew = time.Minute
			}
			if gwMut != nil {
				gwMut(cfg)
			}
		},
		Wrap: func(next http.Handler) http.Handler {
			e.rec = &recorder{next: next}
			return e.rec
		},
		OnAnswerer: e.answerers.Add,
	})
	e.gw, e.srv = e.rig.Gateway, e.rig.Server
	e.client = e.newClient(f.realm, clMut)
	return e
}

// newClient builds a signalling client of e's mode with realm (token
// mode), closed at the end of the test.
func (e *env) newClient(realm string, mut func(*signal.Config)) *signal.Client {
	e.t.Helper()
	cfg := signal.Config{
		BaseURL:        e.srv.URL,
		Mode:           e.f.mode,
		Realm:          realm,
		RequestTimeout: 5 * time.Second,
		AuditTimeout:   2 * time.Second,
	}
	if mut != nil {
		mut(&cfg)
	}
	return e.rig.NewClient(cfg)
}

// ctx returns a context bounded by waitLimit, canceled at the end of the test.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	e.t.Cleanup(cancel)
	return ctx
}

// answerer waits until the gateway has made exactly n answerers and
// returns the last one.
func (e *env) answerer(ctx context.Context, n int) (*media.Peer, error) {
	for {
		all := e.answerers.All()
		got := len(all)
		var last *media.Peer
		if got > 0 {
			last = all[got-1]
		}
		if got > n {
			return nil, fmt.Errorf("gateway made %d answerers, want %d", got, n)
		}
		if got == n {
			return last, nil
		}
		if err := pause(ctx); err != nil {
			return nil, fmt.Errorf("waiting for answerer %d (have %d): %w", n, got, err)
		}
	}
}

// allAnswerers returns every answerer the gateway made so far.
func (e *env) allAnswerers() []*media.Peer {
	return e.answerers.All()
}

// waitIdle polls until the gateway holds no subscription, session, socket
// or answerer, and returns its final stats.
func (e *env) waitIdle(ctx context.Context) (gateway.Stats, error) {
	for {
		st := e.gw.Stats()
		if st.Subscriptions == 0 && st.Sessions == 0 && st.Sockets == 0 && st.Answerers == 0 {
			return st, nil
		}
		if err := pause(ctx); err != nil {
			return st, fmt.Errorf("gateway not idle: %+v: %w", st, err)
		}
	}
}

// mustIdle is waitIdle failing the test.
func (e *env) mustIdle() gateway.Stats {
	e.t.Helper()
	st, err := e.waitIdle(e.ctx())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// pause waits one poll period unless ctx ends first.
func pause(ctx context.Context) error {
	t := time.NewTimer(pollEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call is one call in progress: the client session and the caller peer.
type call struct {
	e    *env
	sess *signal.Session
	peer media.CallPeer
	sid  string
}

// dial subscribes with creds and opens the notification websocket. The
// returned call must be closed.
func (e *env) dial(ctx context.Context, c *signal.Client, creds signal.Credentials) (*call, error) {
	sess, err := c.Subscribe(ctx, creds)
	if err != nil {
		return nil, err
	}
	cl := &call{e: e, sess: sess}
	if err := sess.OpenWebsocket(ctx); err != nil {
		cl.close()
		return nil, err
	}
	return cl, nil
}

// start makes the caller peer and sends callStart with its offer.
func (c *call) start(ctx context.Context, video bool, opts signal.CallOptions) error {
	p, err := c.e.clientMedia.NewCall(media.PeerOptions{Video: video})
	if err != nil {
		return err
	}
	c.peer = p
	offer, err := p.CreateOffer(ctx)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if c.sid, err = c.sess.StartCall(ctx, offer, opts); err != nil {
		return err
	}
	return nil
}

// expect returns the next notification, which must be of type want and
// for this call.
func (c *call) expect(ctx context.Context, want signal.EventType) (signal.Notification, error) {
	select {
	case n, ok := <-c.sess.Notifications():
		switch {
		case !ok && c.sess.Err() != nil:
			return n, fmt.Errorf("waiting for %s: notifications closed: %w", want, c.sess.Err())
		case !ok:
			return n, fmt.Errorf("waiting for %s: notifications closed (session closed)", want)
		case n.Type != want:
			return n, fmt.Errorf("got notification %s (status %d %q), want %s", n.Type, n.StatusCode, n.ReasonText, want)
		case n.SessionData != c.sid:
			return n, fmt.Errorf("%s for session %q, want %q", n.Type, n.SessionData, c.sid)
		case n.Err != nil && want != signal.EventAuditFailed:
			return n, fmt.Errorf("%s: %w", n.Type, n.Err)
		}
		return n, nil
	case <-ctx.Done():
		return signal.Notification{}, fmt.Errorf("waiting for %s: %w", want, ctx.Err())
	}
}

// answered waits for ringing and the answer (respondCallUpdate) and
// applies the answer to the caller peer.
func (c *call) answered(ctx context.Context) error {
	if _, err := c.expect(ctx, signal.EventRinging); err != nil {
		return err
	}
	n, err := c.expect(ctx, signal.EventRespondCallUpdate)
	if err != nil {
		return err
	}
	if n.SDP == "" {
		return errors.New("respondCallUpdate without SDP")
	}
	return c.peer.ApplyAnswer(n.SDP)
}

// connected waits until ICE and DTLS are up and media arrived at the caller.
func (c *call) connected(ctx context.Context) error {
	if err := c.peer.WaitConnected(ctx); err != nil {
		return fmt.Errorf("caller connected: %w", err)
	}
	if err := c.peer.WaitFirstMedia(ctx); err != nil {
		return fmt.Errorf("caller first media: %w", err)
	}
	return nil
}

// establish places a complete call with fresh credentials of e's flavour:
// subscribe, websocket, callStart, ringing, answer, ICE+DTLS, media both
// ways (the answerer is the gateway's n-th), one audit.
func (e *env) establish(ctx context.Context, n int, opts signal.CallOptions) (*call, *media.Peer, error) {
	creds, err := e.f.creds()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.dial(ctx, e.client, creds)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*call, *media.Peer, error) {
		c.close()
		return nil, nil, err
	}
	if err := c.start(ctx, e.f.video, opts); err != nil {
		return fail(err)
	}
	if err := c.answered(ctx); err != nil {
		return fail(err)
	}
	if err := c.connected(ctx); err != nil {
		return fail(err)
	}
	var a *media.Peer
	if n > 0 {
		if a, err = e.answerer(ctx, n); err != nil {
			return fail(err)
		}
		if err := a.WaitConnected(ctx); err != nil {
			return fail(fmt.Errorf("answerer connected: %w", err))
		}
		if err := a.WaitFirstMedia(ctx); err != nil {
			return fail(fmt.Errorf("answerer first media: %w", err))
		}
	}
	if err := c.sess.Audit(ctx); err != nil {
		return fail(fmt.Errorf("audit: %w", err))
	}
	return c, a, nil
}

// mustEstablish is establish for the env's first call, failing the test;
// the call is closed at the end of the test.
func (e *env) mustEstablish(opts signal.CallOptions) (*call, *media.Peer) {
	e.t.Helper()
	c, a, err := e.establish(e.ctx(), 1, opts)
	if err != nil {
		e.t.Fatalf("establish call: %v", err)
	}
	e.t.Cleanup(c.close)
	return c, a
}

// close closes the session and the caller peer (both idempotent).
func (c *call) close() {
	if c.sess != nil {
		c.sess.Close()
	}
	if c.peer != nil {
		c.peer.Close()
	}
}

// received returns the packets each peer has received so far.
func received(peers ...media.CallPeer) []uint64 {
	out := make([]uint64, len(peers))
	for i, p := range peers {
		out[i] = p.Stats().PacketsReceived
	}
	return out
}

// waitGrowth polls until every peer has received at least n more packets
// than it had at from.
func waitGrowth(ctx context.Context, from []uint64, n uint64, peers ...media.CallPeer) error {
	for {
		now := received(peers...)
		done := true
		for i := range peers {
			done = done && now[i] >= from[i]+n
		}
		if done {
			return nil
		}
		if err := pause(ctx); err != nil {
			return fmt.Errorf("media did not flow: received %v, want %d more than %v: %w", now, n, from, err)
		}
	}
}

// waitStill polls until no peer receives a packet during a whole
// stillFor window: media has stopped both ways.
func waitStill(ctx context.Context, peers ...media.CallPeer) error {
	const stillFor = 250 * time.Millisecond
	last := received(peers...)
	since := time.Now()
	for {
		if err := pause(ctx); err != nil {
			return fmt.Errorf("media still flowing on hold: received %v: %w", received(peers...), err)
		}
		now := received(peers...)
		changed := false
		for i := range now {
			changed = changed || now[i] != last[i]
		}
		if changed {
			last, since = now, time.Now()
		} else if time.Since(since) >= stillFor {
			return nil
		}
	}
}

// wantErr is the expected shape of a *signal.Error.
type wantErr struct {
	Step       signal.Step
	Kind       signal.ErrorKind
	HTTPStatus int
	Code       int
}

// checkErr reports whether err is a *signal.Error of exactly that shape.
func checkErr(err error, want wantErr) error {
	var se *signal.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("error %w (%T) is not a *signal.Error", err, err)
	}
	got := wantErr{Step: se.Step, Kind: se.Kind, HTTPStatus: se.HTTPStatus, Code: se.Code}
	if got != want {
		return fmt.Errorf("error %q: got step %q kind %q HTTP %d code %d, want step %q kind %q HTTP %d code %d",
			err.Error(), got.Step, got.Kind, got.HTTPStatus, got.Code, want.Step, want.Kind, want.HTTPStatus, want.Code)
	}
	return nil
}

// dirRE matches the direction attribute of an m-section.
var dirRE = regexp.MustCompile(`(?m)^a=(sendrecv|sendonly|recvonly|inactive)\r?$`)

// checkDirections checks that every m-section of sdp (audio, and video
// when video) is inactive for a hold, sendrecv otherwise.
func checkDirections(sdp string, hold, video bool) error {
	want, sections := "sendrecv", 1
	if hold {
		want = "inactive"
	}
	if video {
		sections = 2
	}
	got := dirRE.FindAllStringSubmatch(sdp, -1)
	if len(got) != sections || strings.Count(sdp, "\nm=") != sections {
		return fmt.Errorf("hold=%v: %d directions in %d m-sections, want %d:\n%s", hold, len(got), strings.Count(sdp, "\nm="), sections, sdp)
	}
	for _, m := range got {
		if m[1] != want {
			return fmt.Errorf("hold=%v: direction %s, want %s:\n%s", hold, m[1], want, sdp)
		}
	}
	return nil
}

// checkClosed checks how the websocket of a session that unsubscribed and
// closed ended: cleanly by Close (Err nil), or by the gateway's normal
// close (1000) that follows the DELETE of the subscription when that frame
// won the race (the gateway may close first, §5.6).
func checkClosed(t *testing.T, sess *signal.Session) {
	t.Helper()
	select {
	case <-sess.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	err := sess.Err()
	if err == nil {
		return
	}
	var ce *websocket.CloseError
	if checkErr(err, wantErr{Step: signal.StepWebsocket, Kind: signal.KindWebsocketDropped}) != nil ||
		!errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("websocket error after Unsubscribe and Close: %v, want nil or close 1000", err)
	}
}

// checkWire checks what the gateway received for the call sid: the path
// user and tokenrealm of every REST request, no query on the websocket,
// and a DELETE of the session exactly when localEnd.
func checkWire(t *testing.T, e *env, sid string, localEnd bool) {
	t.Helper()
	all := e.rec.requests("", "")
	if len(all) == 0 {
		t.Fatal("gateway received nothing")
	}
	for _, ex := range all {
		ws := strings.Contains(ex.Path, "/websocket/")
		switch {
		case ws && ex.Query != "":
			t.Errorf("websocket %s with query %q", ex.Path, ex.Query)
		case !ws && e.f.mode == signal.ModeToken && ex.Query != "tokenrealm="+url.QueryEscape(e.f.realm):
			t.Errorf("%s %s: query %q, want tokenrealm=%s", ex.Method, ex.Path, ex.Query, e.f.realm)
		case !ws && e.f.mode == signal.ModeRegular && ex.Query != "":
			t.Errorf("%s %s: query %q in regular mode", ex.Method, ex.Path, ex.Query)
		}
		if e.f.mode == signal.ModeRegular && !strings.HasPrefix(ex.Path, "/rest/version/1/anonymous/"+url.PathEscape(callee)+"/") {
			t.Errorf("%s %s: path user is not the callee", ex.Method, ex.Path)
		}
	}
	deletes := len(e.rec.requests(http.MethodDelete, "/callSessions/"+sid))
	if want := map[bool]int{true: 1, false: 0}[localEnd]; deletes != want {
		t.Errorf("%d DELETE callSessions/%s, want %d", deletes, sid, want)
	}
	if n := len(e.rec.requests(http.MethodDelete, "/subscription/")); n != 1 {
		t.Errorf("%d DELETE subscription, want 1", n)
	}
}
