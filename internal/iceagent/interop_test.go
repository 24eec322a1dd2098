package iceagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"go.uber.org/goleak"
)

// driver runs our agent over a real UDP socket on 127.0.0.1: a small loop
// goroutine reads with deadlines, calls Handle and Poll, and writes the
// Outgoing packets; non-STUN datagrams go to data.
type driver struct {
	conn *net.UDPConn
	mu   sync.Mutex // guards a
	a    *Agent
	data chan []byte
	done chan struct{}
	// consentAnswers counts consent refreshes after connecting.
	consentAnswers int
}

func (d *driver) loop(ctx context.Context, t *testing.T) {
	defer close(d.done)
	buf := make([]byte, 1500)
	var out []Outgoing
	send := func() {
		for _, o := range out {
			if _, err := d.conn.WriteToUDPAddrPort(o.Buf, o.To); err != nil && ctx.Err() == nil {
				t.Errorf("write to %v: %v", o.To, err)
			}
		}
		out = out[:0]
	}
	for ctx.Err() == nil {
		d.mu.Lock()
		wake := d.a.Deadline()
		d.mu.Unlock()
		limit := time.Now().Add(20 * time.Millisecond) // also notices ctx
		if wake.IsZero() || wake.After(limit) {
			wake = limit
		}
		_ = d.conn.SetReadDeadline(wake)
		n, from, err := d.conn.ReadFromUDPAddrPort(buf)
		d.mu.Lock()
		now := time.Now()
		switch {
		case err == nil && IsSTUN(buf[:n]):
			last := d.a.consentLast
			out = d.a.Handle(now, from, buf[:n], out)
			if d.a.State() == StateConnected && d.a.consentLast.After(last) {
				d.consentAnswers++
			}
		case err == nil:
			select {
			case d.data <- append([]byte(nil), buf[:n]...):
			default:
			}
		case !errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
			t.Errorf("read: %v", err)
		}
		out, _ = d.a.Poll(now, out)
		send()
		d.mu.Unlock()
	}
}

// state returns the agent's state and the consent refreshes so far.
func (d *driver) state() (State, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.a.State(), d.consentAnswers
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// TestInteropPion: our agent against pion's ICE agent over 127.0.0.1, in
// both roles (ours controlling: pion Accepts; ours controlled: pion Dials):
// they connect, a datagram crosses the selected pair both ways, and pion
// answers our consent checks.
func TestInteropPion(t *testing.T) {
	for _, controlling := range []bool{true, false} {
		t.Run(fmt.Sprintf("controlling=%v", controlling), func(t *testing.T) { interopPion(t, controlling) })
	}
}

func interopPion(t *testing.T, controlling bool) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()

	loopback := func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil }
	pa, err := ice.NewAgentWithOptions(
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost}),
		ice.WithIncludeLoopback(),
		ice.WithIPFilter(loopback),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := pa.GracefulClose(); err != nil {
			t.Errorf("close pion agent: %v", err)
		}
	}()
	gathered := make(chan struct{})
	var pionCands []string
	if err := pa.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(gathered)
			return
		}
		pionCands = append(pionCands, c.Marshal())
	}); err != nil {
		t.Fatal(err)
	}
	if err := pa.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		t.Fatal("pion did not finish gathering")
	}
	pionUfrag, pionPwd, err := pa.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	var remote []Candidate
	for _, s := range pionCands {
		c, err := ParseCandidate(s)
		if err != nil {
			t.Fatalf("parse pion's candidate %q: %v", s, err)
		}
		if c.Usable() && c.Addr.Addr().IsLoopback() {
			remote = append(remote, c)
		}
	}
	if len(remote) == 0 {
		t.Fatalf("pion gathered no usable loopback candidate: %q", pionCands)
	}

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	r := rand.New(rand.NewPCG(42, 42))
	ufrag, pwd := RandomCredentials(r)
	a, err := New(Config{Controlling: controlling, LocalUfrag: ufrag, LocalPwd: pwd,
		ConsentInterval: 200 * time.Millisecond, Rand: r}, local)
	if err != nil {
		t.Fatal(err)
	}
	a.SetRemote(pionUfrag, pionPwd, remote)
	ours, err := ice.UnmarshalCandidate(fmt.Sprintf("candidate:1 1 udp 2130706431 127.0.0.1 %d typ host", local.Port()))
	if err != nil {
		t.Fatal(err)
	}
	if err := pa.AddRemoteCandidate(ours); err != nil {
		t.Fatal(err)
	}

	type accepted struct {
		conn *ice.Conn
		err  error
	}
	acceptc := make(chan accepted, 1)
	go func() {
		connect := pa.Accept // pion controlled
		if !controlling {
			connect = pa.Dial // pion controlling
		}
		c, err := connect(ctx, ufrag, pwd)
		acceptc <- accepted{c, err}
	}()

	d := &driver{conn: conn, a: a, data: make(chan []byte, 4), done: make(chan struct{})}
	d.mu.Lock()
	a.Start(time.Now())
	d.mu.Unlock()
	loopCtx, stopLoop := context.WithCancel(ctx)
	go d.loop(loopCtx, t)
	defer func() { stopLoop(); <-d.done }()

	var pc *ice.Conn
	select {
	case acc := <-acceptc:
		if acc.err != nil {
			t.Fatalf("pion Accept/Dial: %v", acc.err)
		}
		pc = acc.conn
	case <-ctx.Done():
		t.Fatal("pion Accept/Dial did not return")
	}
	waitFor(t, deadline, "our agent to connect", func() bool {
		s, _ := d.state()
		return s == StateConnected || s == StateFailed
	})
	d.mu.Lock()
	sel, ok := a.Selected()
	st, agentErr := a.State(), a.Err()
	d.mu.Unlock()
	if st != StateConnected || !ok {
		t.Fatalf("our agent: %v (%v)", st, agentErr)
	}
	if p := pc.RemoteAddr().(*net.UDPAddr).AddrPort(); p != local {
		t.Errorf("pion's selected remote %v, want our socket %v", p, local)
	}
	if l := pc.LocalAddr().(*net.UDPAddr).AddrPort(); l != sel {
		t.Errorf("our selected remote %v, pion's local %v", sel, l)
	}

	// pion → us.
	if _, err := pc.Write([]byte("from pion")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-d.data:
		if string(got) != "from pion" {
			t.Errorf("we received %q", got)
		}
	case <-ctx.Done():
		t.Fatal("pion's datagram did not arrive")
	}
	// us → pion.
	if _, err := conn.WriteToUDPAddrPort([]byte("from us"), sel); err != nil {
		t.Fatal(err)
	}
	if err := pc.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := pc.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("from us")) {
		t.Fatalf("pion read %q, %v", buf[:n], err)
	}

	// Consent: pion answers our checks (200 ms interval), the agent stays
	// connected across several refreshes.
	waitFor(t, deadline, "three consent refreshes", func() bool {
		s, n := d.state()
		if s != StateConnected {
			t.Fatalf("state %v during consent checks", s)
		}
		return n >= 3
	})
}
