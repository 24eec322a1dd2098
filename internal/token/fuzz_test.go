package token

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// fuzzKey makes a 16- or 32-character key from arbitrary bytes: long
// selects the length, and k is cut or padded with '0' to it.
func fuzzKey(k string, long bool) string {
	n := KeyLenECB
	if long {
		n = KeyLenCBC
	}
	if len(k) >= n {
		return k[:n]
	}
	return k + strings.Repeat("0", n-len(k))
}

// vectorSeeds returns the shared token vectors, or a zero file when they
// are not checked out beside the clone (TestVectors reports that).
func vectorSeeds(f *testing.F) vectorFile {
	f.Helper()
	var vf vectorFile
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		f.Logf("no vector seeds: %v", err)
		return vf
	}
	if err := json.Unmarshal(data, &vf); err != nil {
		f.Fatalf("parse %s: %v", vectorsPath, err)
	}
	return vf
}

// FuzzDecode feeds arbitrary keys and tokens to Decode. Properties: it
// never panics; it fails exactly when the key is not 16 or 32 characters
// or the token is bad, and every failure wraps ErrBadKey, ErrMalformed or
// ErrMAC; the user, timestamp and iv of an accepted CBC token can be
// minted again.
func FuzzDecode(f *testing.F) {
	vf := vectorSeeds(f)
	for _, v := range vf.Vectors {
		for _, a := range []vectorAlg{v.ECB, v.CBC} {
			for _, tok := range a.Tokens {
				f.Add(a.Key, tok.Token)
			}
		}
	}
	for _, s := range [][2]string{
		{"0123456789abcdef", ""},
		{"0123456789abcdef", "00"},
		{"0123456789abcdef", "zz"},
		{"0123456789abcdef0123456789abcdef", strings.Repeat("0", 64+16+32)},
		{"0123456789abcdef0123456789abcdef", strings.Repeat("G", 64+16+32)},
		{"short", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, token string) {
		user, ts, err := Decode(key, token)
		if err != nil {
			if !errors.Is(err, ErrBadKey) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMAC) {
				t.Fatalf("Decode(%q, %q) error %v wraps no sentinel", key, token, err)
			}
			if (len(key) == KeyLenECB || len(key) == KeyLenCBC) == errors.Is(err, ErrBadKey) {
				t.Fatalf("Decode(%q, %q) error %v for a key of %d characters", key, token, err, len(key))
			}
			if user != "" || !ts.IsZero() {
				t.Fatalf("Decode(%q, %q) = %q, %v with error %v", key, token, user, ts, err)
			}
			return
		}
		if len(key) == KeyLenCBC {
			iv := token[macHexLen : macHexLen+IVLen]
			if _, err := Mint(key, user, ts, iv); err != nil {
				t.Fatalf("Mint(%q, %q, %d, %q) of a decoded token: %v", key, user, ts.UnixMilli(), iv, err)
			}
		}
	})
}

// FuzzMintDecode mints tokens for arbitrary users, timestamps, keys and
// IVs, and decodes them. Properties: Mint fails only for a bad IV (32-key
// tokens) and then wraps ErrBadIV; Decode returns the user and the
// millisecond timestamp that were minted; MintSet's three tokens decode to
// its Caller (less "sip:"), Caller and Callee; and flipping any one byte
// of a 32-key token makes Decode fail (the HMAC covers every character).
func FuzzMintDecode(f *testing.F) {
	vf := vectorSeeds(f)
	for _, v := range vf.Vectors {
		for _, long := range []bool{false, true} {
			f.Add(vf.Key32, long, v.Account, v.Callee, vf.Timestamp, vf.IV, uint16(0), byte(1))
		}
	}
	f.Add("k", true, "caller-{n}@example.com", "callee@example.com", int64(0), "0000000000000000", uint16(100), byte('a'^'A'))
	f.Add("", false, ";", ";x-ts=1", int64(1)<<62, "", uint16(0), byte(0xff))
	f.Add("\x00\xff", true, "sip:a", "sip:\u00e9", int64(-1), "ABCDEFGHIJKLMNO!", uint16(7), byte(0x80))
	f.Fuzz(func(t *testing.T, k string, long bool, account, callee string, ms int64, iv string, pos uint16, flip byte) {
		key := fuzzKey(k, long)
		ts := time.UnixMilli(ms)
		tok, err := Mint(key, account, ts, iv)
		if err != nil {
			if !long || !errors.Is(err, ErrBadIV) || checkIV(iv) == nil {
				t.Fatalf("Mint(%q, %q, %d, %q) error %v", key, account, ms, iv, err)
			}
			return
		}
		user, got, err := Decode(key, tok)
		if err != nil || user != account || got.UnixMilli() != ms {
			t.Fatalf("Decode(Mint(%q, %q, %d, %q)) = %q, %d, %v; want the user and timestamp back",
				key, account, ms, iv, user, got.UnixMilli(), err)
		}
		if s, err := MintSet(key, "realm", account, callee, ts, iv); err == nil {
			for _, x := range []struct{ tok, want string }{
				{s.AccountToken, strings.TrimPrefix(s.Caller, "sip:")},
				{s.FromToken, s.Caller},
				{s.ToToken, s.Callee},
			} {
				if u, got, err := Decode(key, x.tok); err != nil || u != x.want || got.UnixMilli() != ms {
					t.Fatalf("Decode(MintSet token) = %q, %d, %v; want %q, %d", u, got.UnixMilli(), err, x.want, ms)
				}
			}
		}
		if !long || flip == 0 {
			return
		}
		b := []byte(tok)
		i := int(pos) % len(b)
		b[i] ^= flip
		if _, _, err := Decode(key, string(b)); err == nil {
			t.Fatalf("Decode accepted %q: byte %d of %q flipped by %#x", b, i, tok, flip)
		}
	})
}
