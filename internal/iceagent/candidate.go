package iceagent

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Candidate is one remote candidate from an SDP a=candidate: line.
type Candidate struct {
	// Foundation is the candidate's foundation, as written.
	Foundation string
	// Component is 1 (RTP, or RTP and RTCP muxed) or 2 (RTCP).
	Component int
	// Transport is the transport in lower case: "udp" or "tcp".
	Transport string
	// Priority is the candidate's priority (RFC 8445 §5.1.2).
	Priority uint32
	// Host is the connection address as written: an IP address or a
	// hostname (an mDNS .local name).
	Host string
	// Addr is the address and port; its address is invalid (the zero
	// netip.Addr) when Host is a hostname, which the agent skips.
	Addr netip.AddrPort
	// Type is the candidate type: "host", "srflx", "prflx" or "relay".
	Type string
}

// Usable reports whether the agent checks this candidate: UDP, component 1
// and an IP address (not a hostname).
func (c Candidate) Usable() bool {
	return c.Transport == "udp" && c.Component == 1 && c.Addr.Addr().IsValid()
}

// ErrBadCandidate is wrapped by ParseCandidate's errors.
var ErrBadCandidate = errors.New("malformed ICE candidate")

// ParseCandidate parses the value of an SDP a=candidate: attribute (with or
// without the "a=" and "candidate:" prefixes): foundation, component,
// transport, priority, address, port, "typ" and the type. raddr/rport and
// extensions are ignored. Non-UDP candidates, component 2 and hostnames are
// returned parsed; Usable tells whether the agent will check them.
func ParseCandidate(attr string) (Candidate, error) {
	s := strings.TrimSpace(attr)
	s = strings.TrimPrefix(s, "a=")
	s = strings.TrimPrefix(s, "candidate:")
	f := strings.Fields(s)
	if len(f) < 8 {
		return Candidate{}, fmt.Errorf("parse candidate %q: %w: %d fields, want at least 8", attr, ErrBadCandidate, len(f))
	}
	comp, err := strconv.ParseUint(f[1], 10, 8)
	if err != nil || comp == 0 {
		return Candidate{}, fmt.Errorf("parse candidate %q: %w: component %q", attr, ErrBadCandidate, f[1])
	}
	prio, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil {
		return Candidate{}, fmt.Errorf("parse candidate %q: %w: priority %q", attr, ErrBadCandidate, f[3])
	}
	port, err := strconv.ParseUint(f[5], 10, 16)
	if err != nil {
		return Candidate{}, fmt.Errorf("parse candidate %q: %w: port %q", attr, ErrBadCandidate, f[5])
	}
	if f[6] != "typ" {
		return Candidate{}, fmt.Errorf("parse candidate %q: %w: %q where \"typ\" belongs", attr, ErrBadCandidate, f[6])
	}
	switch f[7] {
	case "host", "srflx", "prflx", "relay":
	default:
		return Candidate{}, fmt.Errorf("parse candidate %q: %w: type %q", attr, ErrBadCandidate, f[7])
	}
	c := Candidate{
		Foundation: f[0],
		Component:  int(comp),
		Transport:  strings.ToLower(f[2]),
		Priority:   uint32(prio),
		Host:       f[4],
		Type:       f[7],
	}
	if ip, err := netip.ParseAddr(f[4]); err == nil {
		c.Addr = netip.AddrPortFrom(ip.Unmap().WithZone(""), uint16(port))
	} else {
		c.Addr = netip.AddrPortFrom(netip.Addr{}, uint16(port))
	}
	return c, nil
}
