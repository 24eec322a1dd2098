package iceagent

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
)

func TestConnect(t *testing.T) {
	dead := netip.MustParseAddrPort("10.0.0.9:9")
	tests := []struct {
		name string
		// startB: the controlled agent checks too (otherwise it only answers).
		startB bool
		// extra remote candidates of B given to A (unreachable).
		extra []Candidate
		// bothControlling: B is configured controlling too (a role conflict).
		bothControlling bool
	}{
		{name: "both check", startB: true},
		{name: "controlled only answers", startB: false},
		{name: "unreachable higher-priority candidate first", startB: true,
			extra: []Candidate{hostCand(dead, 2130706431+1000)}},
		{name: "role conflict", startB: true, bothControlling: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pairAB(t, nil)
			if tc.bothControlling {
				b.setRole(true)
			}
			if tc.extra != nil {
				a.SetRemote(b.cfg.LocalUfrag, b.cfg.LocalPwd, append(tc.extra, hostCand(addrB, 2130706431)))
			}
			n := newMemNet(t)
			n.agents[addrA], n.agents[addrB] = a, b
			a.Start(n.now)
			if tc.startB {
				b.Start(n.now)
			}
			if !n.runUntil(5*time.Second, func() bool {
				return a.State() == StateConnected && b.State() == StateConnected
			}) {
				t.Fatalf("states %v / %v, errors %v / %v", a.State(), b.State(), a.Err(), b.Err())
			}
			if got, ok := a.Selected(); !ok || got != addrB {
				t.Errorf("A selected %v %v, want %v", got, ok, addrB)
			}
			if got, ok := b.Selected(); !ok || got != addrA {
				t.Errorf("B selected %v %v, want %v", got, ok, addrA)
			}
			if a.Controlling() == b.Controlling() {
				t.Errorf("both agents controlling=%v", a.Controlling())
			}
			if a.ConnectedAt().Before(a.CheckingAt()) || a.CheckingAt() != t0 {
				t.Errorf("CheckingAt %v ConnectedAt %v", a.CheckingAt(), a.ConnectedAt())
			}
			nominations := 0
			for _, p := range append(n.requests(addrA), n.requests(addrB)...) {
				if ice.UseCandidate().IsSet(p.msg) {
					nominations++
				}
			}
			if nominations != 1 {
				t.Errorf("%d USE-CANDIDATE requests, want 1", nominations)
			}
		})
	}
}

// TestChecksPacedAtTa: new checks go out one per Ta, in priority order.
func TestChecksPacedAtTa(t *testing.T) {
	for _, ta := range []time.Duration{0, 20 * time.Millisecond} {
		cfg := testConfig(true, 3)
		cfg.Ta = ta
		a := mustNew(t, cfg, addrA)
		var cands []Candidate
		for i := range 5 {
			cands = append(cands, hostCand(netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), uint16(5000+i)), uint32(1000+i)))
		}
		a.SetRemote("ru", "rpwd-0123456789012345678901", cands)
		n := newMemNet(t)
		n.agents[addrA] = a
		a.Start(n.now)
		n.runUntil(time.Second, func() bool { return false })
		want := ta
		if want == 0 {
			want = DefaultTa
		}
		firsts := map[netip.AddrPort]time.Time{}
		var order []netip.AddrPort
		for _, p := range n.requests(addrA) {
			if _, ok := firsts[p.to]; !ok {
				firsts[p.to] = p.at
				order = append(order, p.to)
			}
		}
		if len(order) != 5 {
			t.Fatalf("Ta %v: checks to %d addresses, want 5", ta, len(order))
		}
		for i, to := range order {
			if to.Port() != uint16(5004-i) {
				t.Errorf("Ta %v: check %d to %v, want priority order", ta, i, to)
			}
			if got := firsts[to].Sub(t0); got != time.Duration(i)*want {
				t.Errorf("Ta %v: check %d at %v, want %v", ta, i, got, time.Duration(i)*want)
			}
		}
	}
}

// TestRetransmissions: a check nobody answers is sent at 0, 100, 300, 700,
// 1500, 3100 and 4700 ms (RTO doubling up to 1.6 s, 7 transmissions), the
// same transaction each time, and the agent fails at FailedTimeout.
func TestRetransmissions(t *testing.T) {
	tests := []struct {
		name    string
		rto     time.Duration
		max     int
		wantAt  []time.Duration
		timeout time.Duration
	}{
		{name: "defaults", wantAt: ms(0, 100, 300, 700, 1500, 3100, 4700), timeout: 10 * time.Second},
		{name: "rto 50, 3 transmissions", rto: 50 * time.Millisecond, max: 3, wantAt: ms(0, 50, 150), timeout: 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(true, 4)
			cfg.RTO, cfg.MaxTransmissions, cfg.FailedTimeout = tc.rto, tc.max, tc.timeout
			a := mustNew(t, cfg, addrA)
			a.SetRemote("ru", "rpwd-0123456789012345678901", []Candidate{hostCand(addrB, 100)})
			n := newMemNet(t)
			n.agents[addrA] = a
			a.Start(n.now)
			n.runUntil(time.Minute, func() bool { return a.State() == StateFailed })
			reqs := n.requests(addrA)
			if len(reqs) != len(tc.wantAt) {
				t.Fatalf("%d transmissions, want %d", len(reqs), len(tc.wantAt))
			}
			for i, p := range reqs {
				if got := p.at.Sub(t0); got != tc.wantAt[i] {
					t.Errorf("transmission %d at %v, want %v", i, got, tc.wantAt[i])
				}
				if p.msg.TransactionID != reqs[0].msg.TransactionID {
					t.Errorf("transmission %d has a new transaction id", i)
				}
			}
			if a.State() != StateFailed || !errors.Is(a.Err(), ErrFailedTimeout) {
				t.Fatalf("state %v err %v, want failed with ErrFailedTimeout", a.State(), a.Err())
			}
			if got := n.now.Sub(t0); got != tc.timeout {
				t.Errorf("failed at %v, want %v", got, tc.timeout)
			}
			if out, next := a.Poll(n.now.Add(time.Hour), nil); len(out) != 0 || !next.IsZero() {
				t.Errorf("a failed agent still sends %d packets, wants a poll at %v", len(out), next)
			}
		})
	}
}

func ms(v ...int) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x) * time.Millisecond
	}
	return d
}

// TestRetransmissionRecovers: the first two transmissions are lost; the
// third gets through and the agents connect.
func TestRetransmissionRecovers(t *testing.T) {
	a, b := pairAB(t, nil)
	n := newMemNet(t)
	n.agents[addrA], n.agents[addrB] = a, b
	lost := 0
	n.drop = func(p packet) bool {
		if p.from == addrA && p.msg.Type == stun.BindingRequest && lost < 2 {
			lost++
			return true
		}
		return false
	}
	a.Start(n.now)
	if !n.runUntil(5*time.Second, func() bool { return a.State() == StateConnected && b.State() == StateConnected }) {
		t.Fatalf("states %v / %v", a.State(), b.State())
	}
	if got := a.ConnectedAt().Sub(t0); got != 300*time.Millisecond {
		t.Errorf("connected at %v, want 300ms (the third transmission)", got)
	}
}

// TestConsent: consent checks every 4–6 s keep the pair; without answers
// consent is lost 30 s after the last one.
func TestConsent(t *testing.T) {
	a, b := pairAB(t, nil)
	n := newMemNet(t)
	n.agents[addrA], n.agents[addrB] = a, b
	a.Start(n.now)
	if !n.runUntil(5*time.Second, func() bool { return a.State() == StateConnected && b.State() == StateConnected }) {
		t.Fatalf("states %v / %v", a.State(), b.State())
	}
	connected := n.now
	n.log = nil
	n.runUntil(60*time.Second, func() bool { return n.now.Sub(connected) >= 60*time.Second })
	if a.State() != StateConnected || b.State() != StateConnected {
		t.Fatalf("after 60 s of answered consent checks: %v (%v) / %v (%v)", a.State(), a.Err(), b.State(), b.Err())
	}
	for _, from := range []netip.AddrPort{addrA, addrB} {
		reqs := n.requests(from)
		if len(reqs) < 10 || len(reqs) > 15 {
			t.Errorf("%v: %d consent checks in 60 s, want 10–15", from, len(reqs))
		}
		prev := connected
		for _, p := range reqs {
			if gap := p.at.Sub(prev); gap < 4*time.Second || gap > 6*time.Second {
				t.Errorf("%v: consent check after %v, want 4–6 s", from, gap)
			}
			if ice.UseCandidate().IsSet(p.msg) || stun.MessageIntegrity(n.agents[p.to].localKey).Check(p.msg) != nil {
				t.Errorf("%v: consent check with USE-CANDIDATE or bad integrity", from)
			}
			prev = p.at
		}
	}

	// B stops answering (its responses are lost): A loses consent 30 s
	// after the last answer, B (whose checks A still answers) does not.
	n.drop = func(p packet) bool { return p.from == addrB && p.msg.Type.Class == stun.ClassSuccessResponse }
	lastAnswer := a.consentLast
	n.runUntil(time.Minute, func() bool { return a.State() == StateFailed })
	if !errors.Is(a.Err(), ErrConsentLost) {
		t.Fatalf("A: state %v err %v, want ErrConsentLost", a.State(), a.Err())
	}
	if got := n.now.Sub(lastAnswer); got != DefaultConsentTimeout {
		t.Errorf("consent lost %v after the last answer, want %v", got, DefaultConsentTimeout)
	}
	if _, ok := a.Selected(); ok {
		t.Error("a failed agent still has a selected pair")
	}
}

// startedAgent returns a controlling agent at addrA that has sent its first
// check to addrB, and that check.
func startedAgent(t *testing.T) (*Agent, peer, *stun.Message) {
	t.Helper()
	a := mustNew(t, testConfig(true, 5), addrA)
	p := peer{t: t, ufrag: "peerufrag", pwd: "peerpassword-0123456789abc"}
	a.SetRemote(p.ufrag, p.pwd, []Candidate{hostCand(addrB, 100)})
	a.Start(t0)
	out, _ := a.Poll(t0, nil)
	if len(out) != 1 || out[0].To != addrB {
		t.Fatalf("first poll sent %v", out)
	}
	req := decode(t, out[0].Buf)
	var user stun.Username
	if err := user.GetFrom(req); err != nil || user.String() != p.ufrag+":"+a.cfg.LocalUfrag {
		t.Fatalf("USERNAME %q (%v)", user, err)
	}
	var prio ice.PriorityAttr
	var ctl ice.AttrControlling
	if prio.GetFrom(req) != nil || prio != prflxPrio || ctl.GetFrom(req) != nil || uint64(ctl) != a.tie {
		t.Errorf("PRIORITY %d ICE-CONTROLLING %d, want %d %d", prio, ctl, prflxPrio, a.tie)
	}
	if stun.NewShortTermIntegrity(p.pwd).Check(req) != nil || stun.Fingerprint.Check(req) != nil {
		t.Error("check fails integrity with the remote password or FINGERPRINT")
	}
	return a, p, req
}

// TestResponsesIgnored: responses with bad integrity, an unknown
// transaction id or from another address change nothing; the right one
// leads to the USE-CANDIDATE check and Connected.
func TestResponsesIgnored(t *testing.T) {
	a, p, req := startedAgent(t)
	other := *req
	other.TransactionID[0] ^= 0xff
	bad := []struct {
		name string
		from netip.AddrPort
		pkt  []byte
	}{
		{"bad integrity", addrB, p.success(req, "wrong-password-0123456789", addrA)},
		{"unknown transaction id", addrB, p.success(&other, p.pwd, addrA)},
		{"other source address", netip.MustParseAddrPort("10.0.0.3:2000"), p.success(req, p.pwd, addrA)},
		{"not STUN", addrB, []byte{0x80, 1, 2, 3}},
	}
	now := t0.Add(10 * time.Millisecond)
	for _, tc := range bad {
		if out := a.Handle(now, tc.from, tc.pkt, nil); len(out) != 0 {
			t.Errorf("%s: agent sent %d packets", tc.name, len(out))
		}
		if a.State() != StateChecking || a.nominating != nil {
			t.Fatalf("%s: state %v, nominating %v", tc.name, a.State(), a.nominating)
		}
	}
	out := a.Handle(now, addrB, p.success(req, p.pwd, addrA), nil)
	if len(out) != 1 || !ice.UseCandidate().IsSet(decode(t, out[0].Buf)) {
		t.Fatalf("after the success: %d packets, want the USE-CANDIDATE check", len(out))
	}
	nom := decode(t, out[0].Buf)
	if out := a.Handle(now, addrB, p.success(nom, p.pwd, addrA), nil); len(out) != 0 || a.State() != StateConnected {
		t.Fatalf("after the nomination's success: state %v, %d packets", a.State(), len(out))
	}
}

// TestRequests: how the agent answers Binding requests.
func TestRequests(t *testing.T) {
	cfg := testConfig(false, 6)
	p := peer{t: t, ufrag: "peerufrag", pwd: "peerpassword-0123456789abc"}
	tests := []struct {
		name      string
		setRemote bool
		pkt       func(a *Agent) []byte
		wantClass stun.MessageClass // 0xff: no answer
	}{
		{"valid", true, func(a *Agent) []byte {
			return p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlling(7), ice.PriorityAttr(5))
		}, stun.ClassSuccessResponse},
		{"before SetRemote", false, func(a *Agent) []byte {
			return p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlling(7), ice.PriorityAttr(5))
		}, stun.ClassSuccessResponse},
		{"wrong password", true, func(a *Agent) []byte {
			return p.request(cfg.LocalUfrag, "wrong-password-0123456789", ice.AttrControlling(7))
		}, stun.ClassErrorResponse},
		{"wrong local ufrag", true, func(a *Agent) []byte {
			return p.request("someoneelse", cfg.LocalPwd, ice.AttrControlling(7))
		}, 0xff},
		{"wrong remote ufrag", true, func(a *Agent) []byte {
			return peer{t: t, ufrag: "stranger"}.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlling(7))
		}, 0xff},
		{"indication", true, func(a *Agent) []byte {
			m, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication), stun.Fingerprint)
			return m.Raw
		}, 0xff},
		{"role conflict, our tiebreaker higher", true, func(a *Agent) []byte {
			return p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlled(a.tie-1))
		}, stun.ClassSuccessResponse},
		{"role conflict, our tiebreaker lower", true, func(a *Agent) []byte {
			return p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlled(a.tie+1))
		}, stun.ClassErrorResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Tiebreaker = 1 << 40
			a := mustNew(t, c, addrA)
			if tc.setRemote {
				a.SetRemote(p.ufrag, p.pwd, nil)
			}
			out := a.Handle(t0, addrB, tc.pkt(a), nil)
			if tc.wantClass == 0xff {
				if len(out) != 0 {
					t.Fatalf("answered %d packets, want none", len(out))
				}
				return
			}
			if len(out) == 0 || out[0].To != addrB {
				t.Fatalf("answer %v, want a packet to %v", out, addrB)
			}
			m := decode(t, out[0].Buf)
			wantPackets := 1
			if tc.setRemote && m.Type.Class == stun.ClassSuccessResponse {
				wantPackets = 2 // and the triggered check
				if len(out) == 2 && (out[1].To != addrB || decode(t, out[1].Buf).Type != stun.BindingRequest) {
					t.Errorf("second packet is not a triggered check to %v", addrB)
				}
			}
			if len(out) != wantPackets {
				t.Fatalf("%d packets, want %d", len(out), wantPackets)
			}
			if want := strings.Contains(tc.name, "tiebreaker higher"); a.Controlling() != want {
				t.Errorf("controlling %v after the request, want %v", a.Controlling(), want)
			}
			if m.Type.Class != tc.wantClass || m.Type.Method != stun.MethodBinding {
				t.Fatalf("answer %v, want class %v", m.Type, tc.wantClass)
			}
			if stun.Fingerprint.Check(m) != nil {
				t.Error("answer's FINGERPRINT fails")
			}
			if m.Type.Class == stun.ClassErrorResponse {
				var code stun.ErrorCodeAttribute
				_ = code.GetFrom(m)
				if code.Code != stun.CodeUnauthorized && code.Code != stun.CodeRoleConflict {
					t.Errorf("error code %v", code.Code)
				}
				if a.findPair(addrB) != nil {
					t.Error("a rejected request added a pair")
				}
				return
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(m); err != nil || xor.String() != addrB.String() {
				t.Errorf("XOR-MAPPED-ADDRESS %v (%v), want %v", xor, err, addrB)
			}
			if stun.NewShortTermIntegrity(cfg.LocalPwd).Check(m) != nil {
				t.Error("answer fails integrity with the local password")
			}
			if a.findPair(addrB) == nil {
				t.Error("the source was not remembered as a peer-reflexive candidate")
			}
		})
	}
}

// TestRequestBeforeSetRemote: the remote checks before our side has its
// answer; the request is answered, and once SetRemote and Start come the
// learnt peer-reflexive address is checked.
func TestRequestBeforeSetRemote(t *testing.T) {
	cfg := testConfig(true, 7)
	a := mustNew(t, cfg, addrA)
	p := peer{t: t, ufrag: "peerufrag", pwd: "peerpassword-0123456789abc"}
	prflx := netip.MustParseAddrPort("10.0.0.7:7000")
	out := a.Handle(t0, prflx, p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlled(1), ice.PriorityAttr(prflxPrio)), nil)
	if len(out) != 1 || decode(t, out[0].Buf).Type != stun.BindingSuccess {
		t.Fatalf("answer %v, want a Binding success", out)
	}
	if next := a.Deadline(); !next.IsZero() {
		t.Errorf("a check is scheduled at %v before the remote is known", next)
	}
	a.SetRemote(p.ufrag, p.pwd, []Candidate{hostCand(addrB, 100)})
	a.Start(t0.Add(time.Second))
	out, _ = a.Poll(t0.Add(time.Second), nil)
	if len(out) != 1 || out[0].To != prflx {
		t.Fatalf("first check %v, want one to the peer-reflexive %v (triggered first)", out, prflx)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateNew: "new", StateChecking: "checking",
		StateConnected: "connected", StateFailed: "failed", State(9): "State(9)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{LocalUfrag: "u"}, addrA); !errors.Is(err, ErrConfig) {
		t.Errorf("no password: %v", err)
	}
	if _, err := New(Config{LocalUfrag: "u", LocalPwd: "p"}, netip.AddrPort{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no address: %v", err)
	}
	a, err := New(Config{LocalUfrag: "u", LocalPwd: "p"}, addrA)
	if err != nil || a.tie == 0 {
		t.Errorf("crypto-seeded agent: %v tiebreaker %d", err, a.tie)
	}
}

// TestRoleConflictResponse: a 487 answer (with integrity) to our check
// switches us to controlled (RFC 8445 §7.2.5.1) and the check is retried
// with ICE-CONTROLLED; a 487 without valid integrity is ignored.
func TestRoleConflictResponse(t *testing.T) {
	a, p, req := startedAgent(t)
	conflict := func(key string) []byte {
		m, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingError,
			stun.CodeRoleConflict, stun.NewShortTermIntegrity(key), stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		return m.Raw
	}
	now := t0.Add(10 * time.Millisecond)
	if out := a.Handle(now, addrB, conflict("wrong-password-0123456789"), nil); len(out) != 0 || !a.Controlling() {
		t.Fatalf("a 487 with bad integrity: %d packets, controlling %v", len(out), a.Controlling())
	}
	out := a.Handle(now, addrB, conflict(p.pwd), nil)
	if a.Controlling() {
		t.Fatal("still controlling after a 487")
	}
	if len(out) == 0 {
		// The retry waits for the next pacing slot.
		if d := a.Deadline(); d.IsZero() || d.After(t0.Add(DefaultTa)) {
			t.Fatalf("retry scheduled at %v", d)
		}
		out, _ = a.Poll(a.Deadline(), nil)
	}
	if len(out) != 1 {
		t.Fatalf("%d packets after the 487, want the retried check", len(out))
	}
	retry := decode(t, out[0].Buf)
	var ctl ice.AttrControlled
	if retry.Type != stun.BindingRequest || ctl.GetFrom(retry) != nil || retry.Contains(stun.AttrICEControlling) {
		t.Errorf("retried check %v without ICE-CONTROLLED", retry.Type)
	}
}

// TestRenominateAfterFailedNomination: when the USE-CANDIDATE check on the
// best pair goes unanswered, that pair fails, checks resume, and the next
// pair that succeeds is nominated.
func TestRenominateAfterFailedNomination(t *testing.T) {
	a := mustNew(t, testConfig(true, 9), addrA)
	p := peer{t: t, ufrag: "peerufrag", pwd: "peerpassword-0123456789abc"}
	addrC := netip.MustParseAddrPort("10.0.0.3:3000")
	a.SetRemote(p.ufrag, p.pwd, []Candidate{hostCand(addrB, 200), hostCand(addrC, 100)})
	a.Start(t0)
	var nominatedB, nominatedC int
	now := t0
	for i := 0; i < 1000 && a.State() == StateChecking; i++ {
		out, next := a.Poll(now, nil)
		var answers [][]byte
		var from []netip.AddrPort
		for _, o := range out {
			m := decode(t, o.Buf)
			useCand := ice.UseCandidate().IsSet(m)
			switch {
			case o.To == addrB && useCand:
				nominatedB++ // lost
			case o.To == addrB && nominatedB == 0:
				answers, from = append(answers, p.success(m, p.pwd, addrA)), append(from, addrB)
			case o.To == addrC:
				if useCand {
					nominatedC++
				}
				answers, from = append(answers, p.success(m, p.pwd, addrA)), append(from, addrC)
			}
		}
		for j, pkt := range answers {
			for _, o := range a.Handle(now, from[j], pkt, nil) {
				m := decode(t, o.Buf)
				if !ice.UseCandidate().IsSet(m) {
					continue
				}
				if o.To == addrB {
					nominatedB++ // lost
				} else {
					nominatedC++
					_ = a.Handle(now, addrC, p.success(m, p.pwd, addrA), nil)
				}
			}
		}
		if next.IsZero() {
			break
		}
		now = next
	}
	if a.State() != StateConnected || nominatedB != 7 || nominatedC != 1 {
		t.Fatalf("state %v, %d transmissions of B's nomination (want 7), %d of C's (want 1)", a.State(), nominatedB, nominatedC)
	}
	if sel, _ := a.Selected(); sel != addrC {
		t.Errorf("selected %v, want %v", sel, addrC)
	}
}

// TestBatchedOutgoing: packets of earlier calls still in out (a caller that
// batches before sending) are not overwritten by later calls.
func TestBatchedOutgoing(t *testing.T) {
	cfg := testConfig(false, 10)
	a := mustNew(t, cfg, addrA)
	p := peer{t: t, ufrag: "peerufrag", pwd: "peerpassword-0123456789abc"}
	var out []Outgoing
	var want [][]byte
	for i := range 3 {
		from := netip.AddrPortFrom(addrB.Addr(), uint16(2000+i))
		out = a.Handle(t0, from, p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlling(7)), out)
		want = append(want, append([]byte(nil), out[len(out)-1].Buf...))
	}
	for i, o := range out {
		if !bytes.Equal(o.Buf, want[i]) {
			t.Errorf("packet %d overwritten by a later call", i)
		}
	}
	// Sent: the next call may reuse the buffers.
	if out = a.Handle(t0, addrB, p.request(cfg.LocalUfrag, cfg.LocalPwd, ice.AttrControlling(7)), out[:0]); len(out) != 1 {
		t.Fatalf("%d packets, want 1", len(out))
	}
	if len(a.emitted) != 1 {
		t.Errorf("%d packets in the arena after a reset, want 1", len(a.emitted))
	}
}
