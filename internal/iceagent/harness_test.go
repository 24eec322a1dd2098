package iceagent

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// t0 is the fake clock's origin.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1000")
	addrB = netip.MustParseAddrPort("10.0.0.2:2000")
)

// packet is one packet on the in-memory network, decoded for assertions.
type packet struct {
	at       time.Time
	from, to netip.AddrPort
	raw      []byte
	msg      *stun.Message
}

// memNet wires agents back to back in memory under a fake clock.
type memNet struct {
	t      *testing.T
	now    time.Time
	agents map[netip.AddrPort]*Agent
	// drop, when set, loses the packets it returns true for.
	drop  func(p packet) bool
	queue []packet
	log   []packet
}

func newMemNet(t *testing.T) *memNet {
	return &memNet{t: t, now: t0, agents: map[netip.AddrPort]*Agent{}}
}

func (n *memNet) enqueue(from netip.AddrPort, outs []Outgoing) {
	n.t.Helper()
	for _, o := range outs {
		raw := append([]byte(nil), o.Buf...)
		m := &stun.Message{Raw: append([]byte(nil), raw...)}
		if err := m.Decode(); err != nil {
			n.t.Fatalf("agent at %v sent an undecodable packet: %v", from, err)
		}
		n.queue = append(n.queue, packet{at: n.now, from: from, to: o.To, raw: raw, msg: m})
	}
}

// flush delivers queued packets (and what they cause) until none is left.
func (n *memNet) flush() {
	for len(n.queue) > 0 {
		p := n.queue[0]
		n.queue = n.queue[1:]
		n.log = append(n.log, p)
		if n.drop != nil && n.drop(p) {
			continue
		}
		if dst := n.agents[p.to]; dst != nil {
			n.enqueue(p.to, dst.Handle(n.now, p.from, p.raw, nil))
		}
	}
}

// step advances the clock to the earliest deadline and polls every agent;
// false when nothing is scheduled.
func (n *memNet) step() bool {
	var next time.Time
	for _, a := range n.agents {
		if d := a.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		return false
	}
	if next.After(n.now) {
		n.now = next
	}
	for addr, a := range n.agents {
		outs, _ := a.Poll(n.now, nil)
		n.enqueue(addr, outs)
	}
	n.flush()
	return true
}

// runUntil steps until cond holds, nothing is scheduled, or the fake clock
// passed limit; it reports whether cond held.
func (n *memNet) runUntil(limit time.Duration, cond func() bool) bool {
	end := n.now.Add(limit)
	for i := 0; i < 1_000_000; i++ {
		if cond() {
			return true
		}
		if n.now.After(end) || !n.step() {
			return cond()
		}
	}
	n.t.Fatal("runUntil: too many steps")
	return false
}

// requests returns the logged Binding requests from one address.
func (n *memNet) requests(from netip.AddrPort) []packet {
	var r []packet
	for _, p := range n.log {
		if p.from == from && p.msg.Type == stun.BindingRequest {
			r = append(r, p)
		}
	}
	return r
}

func testConfig(controlling bool, seed uint64) Config {
	r := rand.New(rand.NewPCG(seed, 1))
	lu, lp := RandomCredentials(r)
	return Config{Controlling: controlling, LocalUfrag: lu, LocalPwd: lp, Rand: r}
}

func mustNew(t *testing.T, cfg Config, local netip.AddrPort) *Agent {
	t.Helper()
	a, err := New(cfg, local)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hostCand(addr netip.AddrPort, prio uint32) Candidate {
	return Candidate{Foundation: "1", Component: 1, Transport: "udp", Priority: prio,
		Host: addr.Addr().String(), Addr: addr, Type: "host"}
}

// pairAB returns a controlling agent at addrA and a controlled one at
// addrB that know each other's credentials and candidates.
func pairAB(t *testing.T, tweak func(*Config)) (*Agent, *Agent) {
	t.Helper()
	ca, cb := testConfig(true, 1), testConfig(false, 2)
	if tweak != nil {
		tweak(&ca)
		tweak(&cb)
	}
	ca.Controlling, cb.Controlling = true, false
	a, b := mustNew(t, ca, addrA), mustNew(t, cb, addrB)
	a.SetRemote(cb.LocalUfrag, cb.LocalPwd, []Candidate{hostCand(addrB, 2130706431)})
	b.SetRemote(ca.LocalUfrag, ca.LocalPwd, []Candidate{hostCand(addrA, 2130706431)})
	return a, b
}

// peer plays a hand-written remote agent for one agent under test.
type peer struct {
	t          *testing.T
	ufrag, pwd string
}

// request builds a Binding request to the agent (USERNAME agentUfrag:peer's).
func (p peer) request(agentUfrag, key string, extra ...stun.Setter) []byte {
	p.t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(agentUfrag + ":" + p.ufrag)}
	setters = append(setters, extra...)
	setters = append(setters, stun.NewShortTermIntegrity(key), stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		p.t.Fatal(err)
	}
	return m.Raw
}

// success answers req with a Binding success under key.
func (p peer) success(req *stun.Message, key string, from netip.AddrPort) []byte {
	p.t.Helper()
	m, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
		stun.NewShortTermIntegrity(key), stun.Fingerprint)
	if err != nil {
		p.t.Fatal(err)
	}
	return m.Raw
}

func decode(t *testing.T, b []byte) *stun.Message {
	t.Helper()
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}
