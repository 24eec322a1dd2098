package iceagent

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

// Handle processes one incoming STUN packet from from at now and returns
// out with the responses and triggered checks appended (their Bufs are
// valid until the next call into the agent). Check Deadline afterwards: it
// may have queued a check for the next pacing slot.
//
// Binding requests are answered when their USERNAME is
// "localUfrag:remoteUfrag" (any remote ufrag while it is unknown) and their
// MESSAGE-INTEGRITY checks with the local password; a request with another
// USERNAME is dropped (it is not for this agent), one whose integrity fails
// or that lacks it gets 401 Unauthorized (RFC 5389 §10.1.2). Responses are
// matched to our transactions by id and must pass MESSAGE-INTEGRITY with the
// remote password and come from the pair's remote address; anything else,
// indications included, is ignored. A valid request to an agent that knows
// the remote credentials but was not started starts it (Start(now)). A failed agent ignores everything.
func (a *Agent) Handle(now time.Time, from netip.AddrPort, pkt []byte, out []Outgoing) []Outgoing {
	a.resetArena(out)
	if a.state == StateFailed || !IsSTUN(pkt) {
		return out
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	m := &a.in
	// Spare capacity past the message: MESSAGE-INTEGRITY's check computes
	// its HMAC there instead of allocating.
	m.Raw = slices.Grow(m.Raw[:0], len(pkt)+sha1.Size)
	m.Raw = append(m.Raw, pkt...)
	if err := m.Decode(); err != nil || m.Type.Method != stun.MethodBinding {
		return out
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(m) != nil {
		return out
	}
	switch m.Type.Class {
	case stun.ClassRequest:
		return a.handleRequest(now, from, out)
	case stun.ClassSuccessResponse, stun.ClassErrorResponse:
		return a.handleResponse(now, from, out)
	case stun.ClassIndication:
	}
	return out
}

func (a *Agent) handleRequest(now time.Time, from netip.AddrPort, out []Outgoing) []Outgoing {
	m := &a.in
	user, err := m.Get(stun.AttrUsername)
	if err != nil || !a.userMatches(user) {
		return out
	}
	if stun.MessageIntegrity(a.localKey).Check(m) != nil {
		return a.emitError(out, from, stun.CodeUnauthorized, false)
	}
	if conflict, answer487 := a.roleConflict(); conflict && answer487 {
		return a.emitError(out, from, stun.CodeRoleConflict, true)
	}
	useCandidate := ice.UseCandidate().IsSet(m)
	var prio ice.PriorityAttr
	_ = prio.GetFrom(m)
	out = a.emitSuccess(out, from)

	p := a.findPair(from)
	if p == nil {
		if !from.Addr().IsValid() || from.Addr().Is4() != a.local.Addr().Is4() {
			return out
		}
		p = a.addPair(from, uint32(prio)) // a peer-reflexive remote candidate (§7.3.1.3)
		a.sortPairs()
	}
	if a.state == StateConnected {
		return out
	}
	if a.state == StateNew && a.remoteKnown {
		a.Start(now) // the remote is checking: so do we (the triggered check below)
	}
	if useCandidate && !a.controlling {
		if p.state == pairSucceeded {
			a.connect(now, p)
			return out
		}
		p.nominateOnSuccess = true
	}
	return a.trigger(now, out, p)
}

// userMatches checks a request's USERNAME: "localUfrag:remoteUfrag", or
// "localUfrag:" and anything while the remote ufrag is unknown.
func (a *Agent) userMatches(user []byte) bool {
	if a.remoteKnown {
		return bytes.Equal(user, a.userIn)
	}
	return len(user) > len(a.userIn) && bytes.HasPrefix(user, a.userIn)
}

// roleConflict applies RFC 8445 §7.3.1.1 to the request in a.in: it
// reports a conflict, and whether to answer it with 487 (otherwise the
// agent switched its role and goes on).
func (a *Agent) roleConflict() (conflict, answer487 bool) {
	attr := stun.AttrICEControlled
	if a.controlling {
		attr = stun.AttrICEControlling
	}
	v, err := a.in.Get(attr)
	if err != nil || len(v) != 8 {
		return false, false
	}
	theirs := binary.BigEndian.Uint64(v)
	if (a.tie >= theirs) == a.controlling {
		return true, true
	}
	a.setRole(!a.controlling)
	return true, false
}

// trigger queues a triggered check on p (RFC 8445 §7.3.1.4, simplified:
// a pair in progress or succeeded is left alone) and sends it at once when
// the pacing slot is free.
func (a *Agent) trigger(now time.Time, out []Outgoing, p *pair) []Outgoing {
	if p.state == pairInProgress || p.triggered || (p.state == pairSucceeded && !p.nominateOnSuccess) {
		return out
	}
	if p.state == pairSucceeded { // nominated before the success we saw: select now
		a.connect(now, p)
		return out
	}
	p.state = pairWaiting
	p.triggered = true
	a.triggered = append(a.triggered, p)
	if a.state == StateChecking && a.remoteKnown && !now.Before(a.nextCheck) {
		out = a.sendNextCheck(now, out)
	}
	return out
}

func (a *Agent) handleResponse(now time.Time, from netip.AddrPort, out []Outgoing) []Outgoing {
	m := &a.in
	tx := a.findTx(m.TransactionID)
	if tx == nil || tx.p.remote != from {
		return out
	}
	if stun.MessageIntegrity(a.remoteKey).Check(m) != nil {
		return out
	}
	tx.active = false
	if m.Type.Class == stun.ClassErrorResponse {
		return a.handleError(now, tx, out)
	}
	p := tx.p
	if a.state == StateConnected {
		if p == a.selected {
			a.consentLast = now
		}
		return out
	}
	p.state = pairSucceeded
	switch {
	case tx.kind == txNominate && a.controlling:
		a.connect(now, p)
	case !a.controlling && p.nominateOnSuccess:
		a.connect(now, p)
	case a.controlling && a.nominating == nil:
		a.nominating = p
		out = a.sendRequest(now, out, p, txNominate)
	}
	return out
}

// handleError handles an error response to tx: 487 switches the role
// (RFC 8445 §7.2.5.1) and retries the check; any other fails the pair.
func (a *Agent) handleError(now time.Time, tx *transaction, out []Outgoing) []Outgoing {
	var code stun.ErrorCodeAttribute
	if code.GetFrom(&a.in) == nil && code.Code == stun.CodeRoleConflict && tx.kind != txConsent {
		a.setRole(!a.controlling)
		tx.p.state = pairWaiting
		return a.trigger(now, out, tx.p)
	}
	a.checkFailed(tx)
	return out
}

func (a *Agent) findTx(id [stun.TransactionIDSize]byte) *transaction {
	for i := range a.txs {
		if a.txs[i].active && a.txs[i].id == id {
			return &a.txs[i]
		}
	}
	return nil
}

// connect selects p: state Connected, the checklist stops, consent starts.
func (a *Agent) connect(now time.Time, p *pair) {
	a.state = StateConnected
	a.selected = p
	a.connectedAt = now
	a.consentLast = now
	a.nominating = nil
	a.triggered = a.triggered[:0]
	for _, q := range a.pairs {
		q.triggered = false
	}
	for i := range a.txs {
		a.txs[i].active = false
	}
	a.scheduleConsent(now)
}

// emitSuccess answers the request in a.in from from with a Binding success.
func (a *Agent) emitSuccess(out []Outgoing, from netip.AddrPort) []Outgoing {
	m := &a.msg
	m.Reset()
	m.Type = stun.BindingSuccess
	m.TransactionID = a.in.TransactionID
	m.WriteHeader()
	var v [20]byte
	m.Add(stun.AttrXORMappedAddress, xorAddress(v[:0], from, &a.in.TransactionID))
	_ = stun.MessageIntegrity(a.localKey).AddTo(m)
	_ = stun.Fingerprint.AddTo(m)
	return a.emit(out, from, m.Raw)
}

// emitError answers the request in a.in with an error response; with
// integrity adds MESSAGE-INTEGRITY (local password).
func (a *Agent) emitError(out []Outgoing, to netip.AddrPort, code stun.ErrorCode, integrity bool) []Outgoing {
	m := &a.msg
	m.Reset()
	m.Type = stun.BindingError
	m.TransactionID = a.in.TransactionID
	m.WriteHeader()
	_ = code.AddTo(m)
	if integrity {
		_ = stun.MessageIntegrity(a.localKey).AddTo(m)
	}
	_ = stun.Fingerprint.AddTo(m)
	return a.emit(out, to, m.Raw)
}

// xorAddress appends the XOR-MAPPED-ADDRESS value of addr (RFC 5389 §15.2).
func xorAddress(b []byte, addr netip.AddrPort, id *[stun.TransactionIDSize]byte) []byte {
	var cookie [4]byte
	binary.BigEndian.PutUint32(cookie[:], stunMagicCookie)
	family := byte(1)
	if addr.Addr().Is6() {
		family = 2
	}
	b = append(b, 0, family)
	b = binary.BigEndian.AppendUint16(b, addr.Port()^uint16(stunMagicCookie>>16))
	if family == 1 {
		ip := addr.Addr().As4()
		for i := range ip {
			b = append(b, ip[i]^cookie[i])
		}
		return b
	}
	ip := addr.Addr().As16()
	for i := range ip {
		k := cookie[i%4]
		if i >= 4 {
			k = id[i-4]
		}
		b = append(b, ip[i]^k)
	}
	return b
}
