package token

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vectorsPath is the shared token vectors file, relative to this package
// directory (CI checks the shared directory out beside the clone).
var vectorsPath = filepath.Join("..", "..", "..", "shared", "protocol", "token-vectors.json")

type vectorToken struct {
	User       string `json:"user"`
	Plaintext  string `json:"plaintext"`
	Ciphertext string `json:"ciphertextHex"`
	IVCt       string `json:"ivCiphertext"`
	HMAC       string `json:"hmacHex"`
	Token      string `json:"token"`
}

type vectorAlg struct {
	Key    string                 `json:"key"`
	IV     string                 `json:"iv"`
	Tokens map[string]vectorToken `json:"tokens"`
}

type vectorFile struct {
	Timestamp int64  `json:"timestamp"`
	Key16     string `json:"key16"`
	Key32     string `json:"key32"`
	IV        string `json:"iv"`
	Vectors   []struct {
		Realm   string    `json:"realm"`
		Account string    `json:"account"`
		Caller  string    `json:"caller"`
		Callee  string    `json:"callee"`
		ECB     vectorAlg `json:"ecb128"`
		CBC     vectorAlg `json:"cbc256"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("token vectors %s are missing (the shared directory must sit beside the clone): %v", vectorsPath, err)
	}
	var vf vectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatalf("parse %s: %v", vectorsPath, err)
	}
	if len(vf.Vectors) == 0 {
		t.Fatalf("%s holds no vectors", vectorsPath)
	}
	return vf
}

func TestVectors(t *testing.T) {
	vf := loadVectors(t)
	ts := time.UnixMilli(vf.Timestamp)
	n := 0
	for _, v := range vf.Vectors {
		for _, alg := range []struct {
			name string
			a    vectorAlg
		}{{"ecb128", v.ECB}, {"cbc256", v.CBC}} {
			for name, tok := range alg.a.Tokens {
				t.Run(v.Account+"/"+alg.name+"/"+name, func(t *testing.T) {
					got, err := Mint(alg.a.Key, tok.User, ts, alg.a.IV)
					if err != nil {
						t.Fatalf("Mint(%q) error: %v", tok.User, err)
					}
					if got != tok.Token {
						t.Errorf("Mint(%q) = %s, want %s", tok.User, got, tok.Token)
					}
					if tok.HMAC != "" && !strings.HasPrefix(got, tok.HMAC+tok.IVCt) {
						t.Errorf("Mint(%q) = %s, want HMAC %s + ivCiphertext %s", tok.User, got, tok.HMAC, tok.IVCt)
					}
					if tok.Ciphertext != "" && !strings.Contains(strings.ToLower(got), tok.Ciphertext) {
						t.Errorf("Mint(%q) = %s, does not contain ciphertext %s", tok.User, got, tok.Ciphertext)
					}
					user, gotTS, err := Decode(alg.a.Key, tok.Token)
					if err != nil {
						t.Fatalf("Decode(%s) error: %v", tok.Token, err)
					}
					if user != tok.User || !gotTS.Equal(ts) {
						t.Errorf("Decode = %q, %d; want %q, %d", user, gotTS.UnixMilli(), tok.User, vf.Timestamp)
					}
				})
				n++
			}
		}
		for _, alg := range []vectorAlg{v.ECB, v.CBC} {
			set, err := MintSet(alg.Key, v.Realm, v.Account, v.Callee, ts, alg.IV)
			if err != nil {
				t.Fatalf("MintSet: %v", err)
			}
			want := Set{
				Realm: v.Realm, AccountToken: alg.Tokens["accountToken"].Token,
				FromToken: alg.Tokens["fromToken"].Token, ToToken: alg.Tokens["toToken"].Token,
				Caller: v.Caller, Callee: v.Callee,
			}
			if set != want {
				t.Errorf("MintSet(%q, %q) = %+v, want %+v", v.Account, v.Callee, set, want)
			}
		}
	}
	if n < 12 {
		t.Fatalf("only %d vectors checked, want at least 12", n)
	}
}

func TestMintSetJSON(t *testing.T) {
	set, err := MintSet("0123456789abcdef", "realm-test", "sip:caller@example.com", "callee@example.com", time.UnixMilli(1700000000000), "")
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"realm", "accountToken", "fromToken", "toToken", "caller", "callee"} {
		if m[k] == "" {
			t.Errorf("JSON %s lacks %q", data, k)
		}
	}
	if m["callee"] != "sip:callee@example.com" || m["caller"] != "sip:caller@example.com" {
		t.Errorf("caller/callee = %q/%q, want sip: URIs", m["caller"], m["callee"])
	}
}

func TestRoundTrip(t *testing.T) {
	iv, err := RandomIV()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkIV(iv); err != nil {
		t.Fatalf("RandomIV() = %q: %v", iv, err)
	}
	ts := time.UnixMilli(1764000000123)
	for _, key := range []string{"0123456789abcdef", "0123456789abcdef0123456789abcdef"} {
		for _, user := range []string{"a", "caller@example.com", "sip:x;y;z@example.com", "exactly16bytes!!", strings.Repeat("ü", 40)} {
			tok, err := Mint(key, user, ts, iv)
			if err != nil {
				t.Fatalf("Mint(%d-char key, %q): %v", len(key), user, err)
			}
			gotUser, gotTS, err := Decode(key, tok)
			if err != nil {
				t.Fatalf("Decode(Mint(%d-char key, %q)): %v", len(key), user, err)
			}
			if gotUser != user || !gotTS.Equal(ts) {
				t.Errorf("Decode(Mint(%q)) = %q, %v; want %q, %v", user, gotUser, gotTS, user, ts)
			}
		}
	}
}

// rawECB encrypts pt (already block aligned) with no padding.
func rawECB(t *testing.T, key string, pt []byte) string {
	t.Helper()
	b, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(pt))
	for i := 0; i < len(pt); i += aes.BlockSize {
		b.Encrypt(ct[i:], pt[i:])
	}
	return hex.EncodeToString(ct)
}

// rawCBC builds a correctly MACed CBC token around pt (already block aligned).
func rawCBC(t *testing.T, key, iv string, pt []byte) string {
	t.Helper()
	b, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, []byte(iv)).CryptBlocks(ct, pt)
	ivCt := iv + strings.ToUpper(hex.EncodeToString(ct))
	return macHex(key, ivCt) + ivCt
}

func TestBadInputs(t *testing.T) {
	const (
		k16 = "0123456789abcdef"
		k32 = "0123456789abcdef0123456789abcdef"
		iv  = "ABCDEFGHIJKLMNOP"
	)
	ts := time.UnixMilli(1700000000000)
	good16, err := Mint(k16, "caller@example.com", ts, "")
	if err != nil {
		t.Fatal(err)
	}
	good32, err := Mint(k32, "caller@example.com", ts, iv)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	tests := []struct {
		name    string
		key     string
		token   string
		wantErr error
		wantMsg string
	}{
		{"key of 15 characters", "0123456789abcde", good16, ErrBadKey, "token key must be 16 or 32 characters, got 15"},
		{"empty key", "", good16, ErrBadKey, "got 0"},
		{"key of 24 characters", "0123456789abcdef01234567", good16, ErrBadKey, "got 24"},
		{"ecb non-hex token", k16, "zz" + good16[2:], ErrMalformed, "not hex"},
		{"ecb odd length", k16, good16[:len(good16)-1], ErrMalformed, "not hex"},
		{"ecb partial block", k16, good16[:len(good16)-2], ErrMalformed, "multiple of 16"},
		{"ecb empty token", k16, "", ErrMalformed, "multiple of 16"},
		{"ecb bad padding", k16, rawECB(t, k16, []byte("caller;170000000")), ErrMalformed, "bad padding"},
		{"ecb missing separator", k16, rawECB(t, k16, pad([]byte("caller-1700000000000"))), ErrMalformed, `";" separator`},
		{"ecb non-numeric timestamp", k16, rawECB(t, k16, pad([]byte("caller;17x0"))), ErrMalformed, "not a millisecond count"},
		{"ecb wrong key", "fedcba9876543210", good16, ErrMalformed, ""},
		{"cbc tampered MAC", k32, flip(good32, 0), ErrMAC, "MAC mismatch"},
		{"cbc tampered ciphertext", k32, flip(good32, 90), ErrMAC, "MAC mismatch"},
		{"cbc tampered iv", k32, flip(good32, 65), ErrMAC, "MAC mismatch"},
		{"cbc wrong key", "fedcba9876543210fedcba9876543210", good32, ErrMAC, "MAC mismatch"},
		{"cbc too short", k32, good32[:100], ErrMalformed, "too short"},
		{"cbc non-hex MAC", k32, "ZZ" + good32[2:], ErrMalformed, "MAC is not hex"},
		{"cbc lower-case ciphertext", k32, good32[:80] + strings.ToLower(good32[80:]), ErrMAC, "MAC mismatch"},
		{"cbc bad padding", k32, rawCBC(t, k32, iv, []byte("caller;x-ts=1700")), ErrMalformed, "bad padding"},
		{"cbc missing ;x-ts= separator", k32, rawCBC(t, k32, iv, pad([]byte("caller@example.com;1700000000000"))), ErrMalformed, `";x-ts=" separator`},
		{"cbc empty timestamp", k32, rawCBC(t, k32, iv, pad([]byte("caller;x-ts="))), ErrMalformed, "not a millisecond count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, _, err := Decode(tt.key, tt.token)
			if err == nil {
				t.Fatalf("Decode(%q) = %q, nil; want error %v", tt.name, user, tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Decode error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Decode error = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestMintErrors(t *testing.T) {
	ts := time.UnixMilli(1700000000000)
	tests := []struct {
		name, key, iv string
		wantErr       error
		wantMsg       string
	}{
		{"short key", "short", "ABCDEFGHIJKLMNOP", ErrBadKey, "token key must be 16 or 32 characters, got 5"},
		{"33-char key", strings.Repeat("k", 33), "ABCDEFGHIJKLMNOP", ErrBadKey, "got 33"},
		{"short iv", strings.Repeat("k", 32), "ABC", ErrBadIV, "got 3 characters"},
		{"iv with symbol", strings.Repeat("k", 32), "ABCDEFGHIJKLMNO+", ErrBadIV, "not in [A-Za-z0-9]"},
		{"missing iv", strings.Repeat("k", 32), "", ErrBadIV, "got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Mint(tt.key, "u", ts, tt.iv)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Mint error = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
	if _, err := Mint(strings.Repeat("k", 16), "u", ts, "ignored!"); err != nil {
		t.Errorf("Mint with 16-char key must ignore the iv, got %v", err)
	}
	if err := CheckKey(strings.Repeat("k", 32)); err != nil {
		t.Errorf("CheckKey(32 chars) = %v, want nil", err)
	}
	if _, err := MintSet(strings.Repeat("k", 16), "r", "", "callee", ts, ""); err == nil {
		t.Error("MintSet with empty account succeeded, want error")
	}
}
