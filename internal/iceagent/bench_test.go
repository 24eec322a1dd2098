package iceagent

import (
	"testing"

	"github.com/pion/ice/v4"
)

// BenchmarkHandleBindingRequest: answering a valid Binding request from
// the selected pair's remote (the steady state: the remote's consent
// checks once connected).
func BenchmarkHandleBindingRequest(b *testing.B) {
	t := &testing.T{}
	a, rb := pairAB(t, nil)
	n := newMemNet(t)
	n.agents[addrA], n.agents[addrB] = a, rb
	a.Start(n.now)
	if !n.runUntil(5e9, func() bool { return a.State() == StateConnected }) {
		b.Fatalf("not connected: %v", a.State())
	}
	req := peer{t: t, ufrag: rb.cfg.LocalUfrag}.request(a.cfg.LocalUfrag, a.cfg.LocalPwd,
		ice.AttrControlled(rb.tie), ice.PriorityAttr(prflxPrio))
	out := make([]Outgoing, 0, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out = a.Handle(n.now, addrB, req, out[:0])
		if len(out) != 1 {
			b.Fatalf("%d packets", len(out))
		}
	}
}
