package iceagent

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// State is the agent's connectivity state.
type State int

// The agent's states, in the order it moves through them.
const (
	// StateNew: created, checks not started.
	StateNew State = iota
	// StateChecking: Start was called; checks are under way.
	StateChecking
	// StateConnected: a pair was nominated and is selected.
	StateConnected
	// StateFailed: no pair succeeded in time, or consent was lost (Err says which).
	StateFailed
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateNew:
		return "new"
	case StateChecking:
		return "checking"
	case StateConnected:
		return "connected"
	case StateFailed:
		return "failed"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

var (
	// ErrFailedTimeout: no pair was selected within Config.FailedTimeout of Start.
	ErrFailedTimeout = errors.New("ice: no candidate pair selected before the failed timeout")
	// ErrConsentLost: no consent check was answered for Config.ConsentTimeout (RFC 7675 §5.1).
	ErrConsentLost = errors.New("ice: consent lost")
	// ErrConfig is wrapped by New's errors.
	ErrConfig = errors.New("invalid ICE agent configuration")
)

// Defaults of Config's timing knobs.
const (
	DefaultTa               = 50 * time.Millisecond
	DefaultRTO              = 100 * time.Millisecond
	DefaultMaxRTO           = 1600 * time.Millisecond
	DefaultMaxTransmissions = 7
	DefaultFailedTimeout    = 10 * time.Second
	DefaultConsentInterval  = 5 * time.Second
	DefaultConsentTimeout   = 30 * time.Second
)

// Config configures an Agent. Zero timing knobs take their defaults.
type Config struct {
	// Controlling: this agent is the controlling one (the offerer); false
	// makes it controlled (an answerer).
	Controlling bool
	// LocalUfrag and LocalPwd are this side's ICE credentials (required).
	LocalUfrag, LocalPwd string
	// RemoteUfrag and RemotePwd may be left empty and given later to SetRemote.
	RemoteUfrag, RemotePwd string
	// Tiebreaker for role conflicts (RFC 8445 §7.3.1.1); 0 draws one from Rand.
	Tiebreaker uint64

	// Ta is the pacing between new checks (default 50 ms).
	Ta time.Duration
	// RTO is the first retransmission timeout (default 100 ms); it doubles
	// up to MaxRTO (default 1.6 s).
	RTO, MaxRTO time.Duration
	// MaxTransmissions bounds the transmissions of one check (default 7).
	MaxTransmissions int
	// FailedTimeout: the agent fails when no pair is selected this long
	// after Start (default 10 s).
	FailedTimeout time.Duration
	// ConsentInterval is the mean interval between consent checks once
	// connected (default 5 s); each interval is drawn uniformly from
	// 0.8–1.2 × ConsentInterval (RFC 7675 §5.1).
	ConsentInterval time.Duration
	// ConsentTimeout: consent is lost when no check was answered for this
	// long (default 30 s).
	ConsentTimeout time.Duration

	// Rand draws tiebreakers, transaction ids and consent intervals; nil
	// seeds a ChaCha8 source from crypto/rand at New. The agent owns it.
	Rand *rand.Rand
}

func (c *Config) setDefaults() {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.Ta, DefaultTa)
	setDur(&c.RTO, DefaultRTO)
	setDur(&c.MaxRTO, DefaultMaxRTO)
	setDur(&c.FailedTimeout, DefaultFailedTimeout)
	setDur(&c.ConsentInterval, DefaultConsentInterval)
	setDur(&c.ConsentTimeout, DefaultConsentTimeout)
	if c.MaxTransmissions <= 0 {
		c.MaxTransmissions = DefaultMaxTransmissions
	}
}

// Outgoing is one packet to send. Buf belongs to the agent and stays valid
// until the next call into the agent that is not given it back in out:
// send (or copy) it before then. A caller may batch, passing the same out
// to several calls (into one agent or many) and sending the lot at the end:
// an agent whose earlier packets are still in out keeps them intact.
type Outgoing struct {
	// To is the destination.
	To netip.AddrPort
	// Buf is the STUN message.
	Buf []byte
}

type pairState int

const (
	pairWaiting pairState = iota
	pairInProgress
	pairSucceeded
	pairFailed
)

// pair is a candidate pair: the one local candidate and a remote address.
type pair struct {
	remote     netip.AddrPort
	remotePrio uint32
	prio       uint64
	state      pairState
	triggered  bool // in the triggered-check queue
	// nominateOnSuccess (controlled role): a USE-CANDIDATE request arrived
	// before the pair succeeded; select it when its check succeeds.
	nominateOnSuccess bool
}

type txKind int

const (
	txCheck txKind = iota
	txNominate
	txConsent
)

// transaction is an outstanding Binding request of ours.
type transaction struct {
	active bool
	kind   txKind
	id     [stun.TransactionIDSize]byte
	p      *pair
	count  int           // transmissions so far
	rto    time.Duration // wait after the latest transmission
	next   time.Time     // when to retransmit (or time out)
	raw    []byte        // the encoded request, retransmitted as is
}

// Agent is one call's ICE agent (see the package doc). It is not safe for
// concurrent use: its owner serialises every call (holds a lock).
type Agent struct {
	cfg   Config
	rnd   *rand.Rand
	local netip.AddrPort
	tie   uint64

	controlling bool
	localKey    []byte // LocalPwd, the key for requests to us and our responses
	remoteKey   []byte // RemotePwd, the key for our requests and their responses
	userIn      []byte // "localUfrag:remoteUfrag" (or "localUfrag:" while the remote is unknown)
	userOut     []byte // "remoteUfrag:localUfrag"
	remoteKnown bool

	state       State
	err         error
	started     bool
	checkingAt  time.Time
	connectedAt time.Time
	selected    *pair
	nominating  *pair // controlling: the pair whose USE-CANDIDATE check is out

	pairs     []*pair // sorted by priority, highest first
	triggered []*pair // triggered-check queue (FIFO)
	txs       []transaction
	nextCheck time.Time

	consentNext time.Time // next consent check
	consentLast time.Time // latest consent (a success response on the selected pair)

	in      stun.Message // decoding buffer
	msg     stun.Message // encoding buffer
	arena   []byte       // Outgoing bufs since the last reset
	emitted []*byte      // the first byte of each of them
}

// Priorities (RFC 8445 §5.1.2.1) of our host candidate and of the
// peer-reflexive candidate that a check's PRIORITY carries (component 1,
// local preference 65535).
const (
	hostPriority = 126<<24 | 65535<<8 | 255
	prflxPrio    = 110<<24 | 65535<<8 | 255
)

// New returns an agent for the local address (the shared socket's, a host
// candidate).
func New(cfg Config, local netip.AddrPort) (*Agent, error) {
	if cfg.LocalUfrag == "" || cfg.LocalPwd == "" {
		return nil, fmt.Errorf("new ICE agent: %w: local ufrag and password are required", ErrConfig)
	}
	if !local.IsValid() {
		return nil, fmt.Errorf("new ICE agent: %w: local address %v", ErrConfig, local)
	}
	cfg.setDefaults()
	rnd := cfg.Rand
	if rnd == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			return nil, fmt.Errorf("new ICE agent: seed the random source: %w", err)
		}
		rnd = rand.New(rand.NewChaCha8(seed))
	}
	a := &Agent{
		cfg:         cfg,
		rnd:         rnd,
		local:       netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		tie:         cfg.Tiebreaker,
		controlling: cfg.Controlling,
		localKey:    []byte(cfg.LocalPwd),
	}
	for a.tie == 0 {
		a.tie = rnd.Uint64()
	}
	a.setCredentials(cfg.RemoteUfrag, cfg.RemotePwd)
	return a, nil
}

func (a *Agent) setCredentials(ufrag, pwd string) {
	a.remoteKnown = ufrag != "" && pwd != ""
	a.remoteKey = []byte(pwd)
	a.userIn = []byte(a.cfg.LocalUfrag + ":" + ufrag)
	a.userOut = []byte(ufrag + ":" + a.cfg.LocalUfrag)
}

// SetRemote gives the remote credentials and candidates (from the remote
// description, which may arrive after New). Candidates that are not Usable
// or not of the local address's family are ignored; peer-reflexive
// candidates learnt so far are kept. Call Poll afterwards: new checks may
// be due.
func (a *Agent) SetRemote(ufrag, pwd string, cands []Candidate) {
	a.setCredentials(ufrag, pwd)
	for _, c := range cands {
		if !c.Usable() || c.Addr.Addr().Is4() != a.local.Addr().Is4() {
			continue
		}
		if p := a.findPair(c.Addr); p != nil {
			p.remotePrio = max(p.remotePrio, c.Priority)
			p.prio = a.pairPriority(p.remotePrio)
			continue
		}
		a.addPair(c.Addr, c.Priority)
	}
	a.sortPairs()
}

// Start begins the checks at now (state Checking). The controlled role
// checks too (RFC 8445 §6.1.4). Checks need the remote credentials: until
// SetRemote gives them, none is sent.
func (a *Agent) Start(now time.Time) {
	if a.started || a.state != StateNew {
		return
	}
	a.started = true
	a.state = StateChecking
	a.checkingAt = now
	a.nextCheck = now
}

// State returns the agent's state.
func (a *Agent) State() State { return a.state }

// Err returns why the agent failed (ErrFailedTimeout or ErrConsentLost), or nil.
func (a *Agent) Err() error { return a.err }

// Selected returns the selected pair's remote address once connected.
func (a *Agent) Selected() (netip.AddrPort, bool) {
	if a.selected == nil || a.state != StateConnected {
		return netip.AddrPort{}, false
	}
	return a.selected.remote, true
}

// Controlling reports the agent's current role (a role conflict may have
// switched it).
func (a *Agent) Controlling() bool { return a.controlling }

// CheckingAt returns when Start was called (zero before).
func (a *Agent) CheckingAt() time.Time { return a.checkingAt }

// ConnectedAt returns when the agent became connected (zero before).
func (a *Agent) ConnectedAt() time.Time { return a.connectedAt }

func (a *Agent) pairPriority(remote uint32) uint64 {
	g, d := uint64(hostPriority), uint64(remote)
	if !a.controlling {
		g, d = d, g
	}
	var b uint64
	if g > d {
		b = 1
	}
	return 1<<32*min(g, d) + 2*max(g, d) + b
}

func (a *Agent) findPair(remote netip.AddrPort) *pair {
	for _, p := range a.pairs {
		if p.remote == remote {
			return p
		}
	}
	return nil
}

func (a *Agent) addPair(remote netip.AddrPort, prio uint32) *pair {
	p := &pair{remote: remote, remotePrio: prio, prio: a.pairPriority(prio)}
	a.pairs = append(a.pairs, p)
	return p
}

func (a *Agent) sortPairs() {
	slices.SortStableFunc(a.pairs, func(x, y *pair) int {
		switch {
		case x.prio > y.prio:
			return -1
		case x.prio < y.prio:
			return 1
		default:
			return 0
		}
	})
}

func (a *Agent) setRole(controlling bool) {
	a.controlling = controlling
	a.nominating = nil
	for _, p := range a.pairs {
		p.prio = a.pairPriority(p.remotePrio)
	}
	a.sortPairs()
}

func (a *Agent) fail(err error) {
	a.state = StateFailed
	a.err = err
	a.triggered = a.triggered[:0]
	for i := range a.txs {
		a.txs[i].active = false
	}
}

// Deadline returns the next instant the agent wants Poll to be called, or
// the zero time when nothing is scheduled. Check it after Handle and
// SetRemote: they may queue checks.
func (a *Agent) Deadline() time.Time {
	var t time.Time
	earliest := func(u time.Time) {
		if !u.IsZero() && (t.IsZero() || u.Before(t)) {
			t = u
		}
	}
	switch a.state {
	case StateChecking:
		earliest(a.checkingAt.Add(a.cfg.FailedTimeout))
		if a.hasCheckDue() {
			earliest(a.nextCheck)
		}
	case StateConnected:
		earliest(a.consentNext)
		earliest(a.consentLast.Add(a.cfg.ConsentTimeout))
	case StateNew, StateFailed:
		return time.Time{}
	}
	for i := range a.txs {
		if a.txs[i].active && a.txs[i].kind != txConsent {
			earliest(a.txs[i].next)
		}
	}
	return t
}

// hasCheckDue reports whether a new check is waiting for a pacing slot.
func (a *Agent) hasCheckDue() bool {
	if !a.remoteKnown || a.state != StateChecking {
		return false
	}
	if len(a.triggered) > 0 {
		return true
	}
	return a.nominating == nil && a.nextOrdinary() != nil
}

// succeededPair returns the highest-priority pair that succeeded, or nil.
func (a *Agent) succeededPair() *pair {
	for _, p := range a.pairs {
		if p.state == pairSucceeded {
			return p
		}
	}
	return nil
}

func (a *Agent) nextOrdinary() *pair {
	for _, p := range a.pairs {
		if p.state == pairWaiting {
			return p
		}
	}
	return nil
}

// Poll sends what is due at now (new checks, retransmissions, consent
// checks), applies the timeouts, and returns out with the packets appended
// and the next instant it wants to be polled (zero: nothing scheduled).
// The packets' Bufs are valid until the next call into the agent.
func (a *Agent) Poll(now time.Time, out []Outgoing) ([]Outgoing, time.Time) {
	a.resetArena(out)
	switch a.state {
	case StateChecking:
		if !now.Before(a.checkingAt.Add(a.cfg.FailedTimeout)) {
			a.fail(ErrFailedTimeout)
			return out, time.Time{}
		}
		out = a.retransmit(now, out)
		if p := a.succeededPair(); p != nil && a.controlling && a.nominating == nil {
			// A nomination failed, or a role switch made us controlling
			// after pairs succeeded: nominate the best succeeded pair.
			a.nominating = p
			out = a.sendRequest(now, out, p, txNominate)
		}
		if a.state == StateChecking && a.hasCheckDue() && !now.Before(a.nextCheck) {
			out = a.sendNextCheck(now, out)
		}
	case StateConnected:
		if !now.Before(a.consentLast.Add(a.cfg.ConsentTimeout)) {
			a.fail(ErrConsentLost)
			return out, time.Time{}
		}
		out = a.retransmit(now, out)
		if !now.Before(a.consentNext) {
			out = a.sendRequest(now, out, a.selected, txConsent)
			a.scheduleConsent(now)
		}
	case StateNew, StateFailed:
	}
	return out, a.Deadline()
}

func (a *Agent) scheduleConsent(now time.Time) {
	f := 0.8 + 0.4*a.rnd.Float64()
	a.consentNext = now.Add(time.Duration(f * float64(a.cfg.ConsentInterval)))
}

// sendNextCheck sends the next triggered check, or else the next ordinary
// one, and takes the pacing slot.
func (a *Agent) sendNextCheck(now time.Time, out []Outgoing) []Outgoing {
	var p *pair
	for p == nil && len(a.triggered) > 0 {
		p = a.triggered[0]
		a.triggered = a.triggered[1:]
		p.triggered = false
		if p.state == pairInProgress {
			p = nil
		}
	}
	if p == nil {
		if a.nominating != nil {
			return out
		}
		if p = a.nextOrdinary(); p == nil {
			return out
		}
	}
	a.nextCheck = now.Add(a.cfg.Ta)
	p.state = pairInProgress
	return a.sendRequest(now, out, p, txCheck)
}

// retransmit resends the requests whose RTO expired and ends those that
// were sent MaxTransmissions times.
func (a *Agent) retransmit(now time.Time, out []Outgoing) []Outgoing {
	for i := range a.txs {
		tx := &a.txs[i]
		if !tx.active || now.Before(tx.next) {
			continue
		}
		if tx.kind == txConsent { // not retransmitted; a late answer counts until then
			tx.active = false
			continue
		}
		if tx.count >= a.cfg.MaxTransmissions {
			tx.active = false
			a.checkFailed(tx)
			continue
		}
		tx.count++
		tx.rto = min(2*tx.rto, a.cfg.MaxRTO)
		tx.next = now.Add(tx.rto)
		out = a.emit(out, tx.p.remote, tx.raw)
	}
	return out
}

// checkFailed marks the pair of a failed check (timeout or error response).
func (a *Agent) checkFailed(tx *transaction) {
	switch tx.kind {
	case txCheck:
		tx.p.state = pairFailed
	case txNominate:
		tx.p.state = pairFailed
		if a.nominating == tx.p {
			a.nominating = nil
		}
	case txConsent:
	}
}

// sendRequest builds a Binding request of kind on p, records its
// transaction and appends it to out.
func (a *Agent) sendRequest(now time.Time, out []Outgoing, p *pair, kind txKind) []Outgoing {
	tx := a.newTx()
	tx.active, tx.kind, tx.p = true, kind, p
	tx.count, tx.rto = 1, a.cfg.RTO
	tx.next = now.Add(tx.rto)
	if kind == txConsent {
		tx.next = now.Add(a.cfg.ConsentTimeout)
	}
	binary.LittleEndian.PutUint64(tx.id[0:8], a.rnd.Uint64())
	binary.LittleEndian.PutUint32(tx.id[8:12], a.rnd.Uint32())

	m := &a.msg
	m.Reset()
	m.Type = stun.BindingRequest
	m.TransactionID = tx.id
	m.WriteHeader()
	m.Add(stun.AttrUsername, a.userOut)
	_ = ice.PriorityAttr(prflxPrio).AddTo(m)
	if a.controlling {
		_ = ice.AttrControlling(a.tie).AddTo(m)
	} else {
		_ = ice.AttrControlled(a.tie).AddTo(m)
	}
	if kind == txNominate {
		_ = ice.UseCandidate().AddTo(m)
	}
	_ = stun.MessageIntegrity(a.remoteKey).AddTo(m)
	_ = stun.Fingerprint.AddTo(m)
	tx.raw = append(tx.raw[:0], m.Raw...)
	return a.emit(out, p.remote, tx.raw)
}

// newTx returns a free transaction slot (its raw buffer reused).
func (a *Agent) newTx() *transaction {
	for i := range a.txs {
		if !a.txs[i].active {
			return &a.txs[i]
		}
	}
	a.txs = append(a.txs, transaction{})
	return &a.txs[len(a.txs)-1]
}

// emit copies b into the arena and appends it to out.
func (a *Agent) emit(out []Outgoing, to netip.AddrPort, b []byte) []Outgoing {
	start := len(a.arena)
	a.arena = append(a.arena, b...)
	buf := a.arena[start:len(a.arena):len(a.arena)]
	a.emitted = append(a.emitted, &buf[0])
	return append(out, Outgoing{To: to, Buf: buf})
}

// resetArena reuses the arena for a new call into the agent, unless out
// still holds packets of an earlier call (the caller batches before
// sending): then they stay valid and the arena grows until a call finds
// none of them in out.
func (a *Agent) resetArena(out []Outgoing) {
	for _, o := range out {
		if len(o.Buf) == 0 {
			continue
		}
		for _, p := range a.emitted {
			if &o.Buf[0] == p {
				return
			}
		}
	}
	a.arena = a.arena[:0]
	a.emitted = a.emitted[:0]
}
