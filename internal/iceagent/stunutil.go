package iceagent

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
)

const (
	stunHeaderSize  = 20
	stunMagicCookie = 0x2112A442
	attrUsername    = 0x0006
	typeBindingReq  = 0x0001
)

// IsSTUN reports whether b looks like a STUN message (RFC 7983 §7: first
// byte 0..3) carrying the RFC 5389 magic cookie.
func IsSTUN(b []byte) bool {
	return len(b) >= stunHeaderSize && b[0] < 4 &&
		binary.BigEndian.Uint32(b[4:8]) == stunMagicCookie
}

// LocalUfragOf returns the part before ':' of the USERNAME of a STUN
// Binding request: the ufrag of the agent the request is for, with which a
// shared socket demultiplexes requests to calls. The result is a view into
// pkt (no allocation); look it up in a map with m[string(ufrag)], which Go
// does not allocate for. It returns false for anything else.
func LocalUfragOf(pkt []byte) ([]byte, bool) {
	if !IsSTUN(pkt) || binary.BigEndian.Uint16(pkt[0:2]) != typeBindingReq {
		return nil, false
	}
	end := stunHeaderSize + int(binary.BigEndian.Uint16(pkt[2:4]))
	if end > len(pkt) {
		return nil, false
	}
	for p := stunHeaderSize; p+4 <= end; {
		t := binary.BigEndian.Uint16(pkt[p : p+2])
		n := int(binary.BigEndian.Uint16(pkt[p+2 : p+4]))
		v := p + 4
		if v+n > end {
			return nil, false
		}
		if t == attrUsername {
			u := pkt[v : v+n]
			i := bytes.IndexByte(u, ':')
			if i <= 0 {
				return nil, false
			}
			return u[:i], true
		}
		p = v + (n+3)&^3
	}
	return nil, false
}

// iceChars is the ice-char set of RFC 8839 §5.4: ALPHA / DIGIT / "+" / "/".
const iceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// RandomCredentials returns a fresh ufrag (16 ice-chars; at least 4 are
// required) and password (32 ice-chars; at least 22 are required) drawn
// from r.
func RandomCredentials(r *rand.Rand) (ufrag, pwd string) {
	return randomICEString(r, 16), randomICEString(r, 32)
}

func randomICEString(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = iceChars[r.IntN(len(iceChars))]
	}
	return string(b)
}
