package iceagent

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/stun/v4"
)

func TestParseCandidate(t *testing.T) {
	tests := []struct {
		in     string
		want   Candidate
		usable bool
		err    bool
	}{
		{in: "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0",
			want: Candidate{Foundation: "842163049", Component: 1, Transport: "udp", Priority: 1677729535,
				Host: "203.0.113.7", Addr: netip.MustParseAddrPort("203.0.113.7:46154"), Type: "srflx"}, usable: true},
		{in: "a=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host",
			want: Candidate{Foundation: "1", Component: 1, Transport: "udp", Priority: 2130706431,
				Host: "127.0.0.1", Addr: netip.MustParseAddrPort("127.0.0.1:5000"), Type: "host"}, usable: true},
		{in: "1 1 udp 2130706431 2001:db8::1 5000 typ host",
			want: Candidate{Foundation: "1", Component: 1, Transport: "udp", Priority: 2130706431,
				Host: "2001:db8::1", Addr: netip.MustParseAddrPort("[2001:db8::1]:5000"), Type: "host"}, usable: true},
		{in: "candidate:2 2 udp 2130706430 127.0.0.1 5001 typ host",
			want: Candidate{Foundation: "2", Component: 2, Transport: "udp", Priority: 2130706430,
				Host: "127.0.0.1", Addr: netip.MustParseAddrPort("127.0.0.1:5001"), Type: "host"}},
		{in: "candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
			want: Candidate{Foundation: "3", Component: 1, Transport: "tcp", Priority: 1518280447,
				Host: "127.0.0.1", Addr: netip.MustParseAddrPort("127.0.0.1:9"), Type: "host"}},
		{in: "candidate:4 1 udp 2113937151 3c5a1c1e-5b8e-4a8e-9d1e-0c1b2a3d4e5f.local 54321 typ host",
			want: Candidate{Foundation: "4", Component: 1, Transport: "udp", Priority: 2113937151,
				Host: "3c5a1c1e-5b8e-4a8e-9d1e-0c1b2a3d4e5f.local", Addr: netip.AddrPortFrom(netip.Addr{}, 54321), Type: "host"}},
		{in: "candidate:5 1 udp 100 198.51.100.1 3478 typ relay raddr 203.0.113.7 rport 1",
			want: Candidate{Foundation: "5", Component: 1, Transport: "udp", Priority: 100,
				Host: "198.51.100.1", Addr: netip.MustParseAddrPort("198.51.100.1:3478"), Type: "relay"}, usable: true},
		{in: "candidate:1 1 udp 1 127.0.0.1 5000", err: true},
		{in: "candidate:1 x udp 1 127.0.0.1 5000 typ host", err: true},
		{in: "candidate:1 1 udp -1 127.0.0.1 5000 typ host", err: true},
		{in: "candidate:1 1 udp 1 127.0.0.1 70000 typ host", err: true},
		{in: "candidate:1 1 udp 1 127.0.0.1 5000 type host", err: true},
		{in: "candidate:1 1 udp 1 127.0.0.1 5000 typ bogus", err: true},
	}
	for _, tc := range tests {
		got, err := ParseCandidate(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadCandidate) {
				t.Errorf("%q: error %v, want ErrBadCandidate", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want || got.Usable() != tc.usable {
			t.Errorf("%q:\n got %+v usable %v (%v)\nwant %+v usable %v", tc.in, got, got.Usable(), err, tc.want, tc.usable)
		}
	}
}

// TestSetRemoteFilters: the agent checks only usable candidates of the
// local address's family, once per address.
func TestSetRemoteFilters(t *testing.T) {
	a := mustNew(t, testConfig(true, 8), addrA)
	var cands []Candidate
	for _, s := range []string{
		"candidate:1 1 udp 2130706431 10.0.0.2 2000 typ host",
		"candidate:1 1 udp 2130706000 10.0.0.2 2000 typ host", // duplicate
		"candidate:2 2 udp 2130706430 10.0.0.2 2001 typ host",
		"candidate:3 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active",
		"candidate:4 1 udp 2113937151 abc.local 54321 typ host",
		"candidate:5 1 udp 2130706431 2001:db8::1 5000 typ host",
		"candidate:6 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0",
	} {
		c, err := ParseCandidate(s)
		if err != nil {
			t.Fatal(err)
		}
		cands = append(cands, c)
	}
	a.SetRemote("ru", "rpwd-0123456789012345678901", cands)
	var got []string
	for _, p := range a.pairs {
		got = append(got, p.remote.String())
	}
	if want := "10.0.0.2:2000 203.0.113.7:46154"; strings.Join(got, " ") != want {
		t.Errorf("pairs %v, want %s", got, want)
	}
}

func TestIsSTUNAndLocalUfragOf(t *testing.T) {
	p := peer{t: t, ufrag: "theirs"}
	req := p.request("mine", "pwd-0123456789012345678901")
	if !IsSTUN(req) {
		t.Error("a Binding request is not STUN")
	}
	for _, b := range [][]byte{nil, {0x80, 0, 0, 0}, make([]byte, 20), append([]byte{0x40}, req[1:]...)} {
		if IsSTUN(b) {
			t.Errorf("%x is STUN", b)
		}
	}
	if u, ok := LocalUfragOf(req); !ok || string(u) != "mine" {
		t.Errorf("LocalUfragOf = %q %v, want mine", u, ok)
	}
	resp, _ := stun.Build(stun.TransactionID, stun.BindingSuccess, stun.NewUsername("mine:theirs"))
	noUser, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewSoftware("x"))
	noColon, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("mine"))
	truncated := append([]byte(nil), req...)
	truncated[3] += 40
	for name, b := range map[string][]byte{"response": resp.Raw, "no USERNAME": noUser.Raw,
		"no colon": noColon.Raw, "truncated": truncated, "empty": nil} {
		if u, ok := LocalUfragOf(b); ok {
			t.Errorf("%s: LocalUfragOf = %q", name, u)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = LocalUfragOf(req) })
	if allocs != 0 {
		t.Errorf("LocalUfragOf allocates %v times", allocs)
	}
}

func TestRandomCredentials(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	u, p := RandomCredentials(r)
	u2, p2 := RandomCredentials(r)
	if len(u) != 16 || len(p) != 32 || u == u2 || p == p2 {
		t.Errorf("credentials %q %q then %q %q", u, p, u2, p2)
	}
	for _, c := range u + p {
		if !strings.ContainsRune(iceChars, c) {
			t.Errorf("%q is not an ice-char", c)
		}
	}
}
