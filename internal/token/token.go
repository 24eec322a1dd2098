// Package token mints and decodes the time-limited credentials of token-based
// anonymous calls (protocol document §13): AES-128-ECB tokens for 16-character
// keys and AES-256-CBC + HMAC-SHA256 tokens for 32-character keys.
//
// Keys and IVs are used as raw ASCII bytes, never hex-decoded. The package is
// shared by the load generator (which mints credentials) and the built-in
// gateway (which validates them).
package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key lengths accepted by Mint and Decode.
const (
	// KeyLenECB is the length of a key that selects AES-128-ECB tokens.
	KeyLenECB = 16
	// KeyLenCBC is the length of a key that selects AES-256-CBC + HMAC tokens.
	KeyLenCBC = 32
	// IVLen is the number of [A-Za-z0-9] characters of a CBC token's IV.
	IVLen = 16
)

// macHexLen is the length of the upper-case hex HMAC-SHA256 prefix of a CBC token.
const macHexLen = 2 * sha256.Size

// Sentinel errors; every error returned by this package wraps one of them.
var (
	// ErrBadKey reports a key that is not 16 or 32 characters long.
	ErrBadKey = errors.New("token: bad key")
	// ErrBadIV reports an IV that is not 16 characters from [A-Za-z0-9].
	ErrBadIV = errors.New("token: bad iv")
	// ErrMalformed reports a token that is not hex, has a bad length or
	// padding, or whose plaintext lacks the user/timestamp separator.
	ErrMalformed = errors.New("token: malformed token")
	// ErrMAC reports a CBC token whose HMAC does not match (tampered token or wrong key).
	ErrMAC = errors.New("token: MAC mismatch")
)

// Set is one call's token credentials, as printed by `loadgen tokens` and as
// the SDK's example token server returns them.
type Set struct {
	// Realm is the token realm, sent unencrypted as ?tokenrealm=.
	Realm string `json:"realm"`
	// AccountToken encrypts the caller's account (no "sip:"); it is the path user.
	AccountToken string `json:"accountToken"`
	// FromToken encrypts "sip:"+account; it is callMeRequest.from.
	FromToken string `json:"fromToken"`
	// ToToken encrypts the callee SIP URI; it is callMeRequest.to.
	ToToken string `json:"toToken"`
	// Caller is the plaintext caller URI inside FromToken.
	Caller string `json:"caller"`
	// Callee is the plaintext callee URI inside ToToken.
	Callee string `json:"callee"`
}

// CheckKey returns an error wrapping ErrBadKey unless key is 16 or 32 characters long.
func CheckKey(key string) error {
	if n := len(key); n != KeyLenECB && n != KeyLenCBC {
		return fmt.Errorf("%w: token key must be 16 or 32 characters, got %d", ErrBadKey, n)
	}
	return nil
}

// checkIV returns an error wrapping ErrBadIV unless iv is 16 characters from [A-Za-z0-9].
func checkIV(iv string) error {
	if len(iv) != IVLen {
		return fmt.Errorf("%w: iv must be %d characters from [A-Za-z0-9], got %d characters", ErrBadIV, IVLen, len(iv))
	}
	for i := 0; i < len(iv); i++ {
		c := iv[i]
		if !isAlnum(c) {
			return fmt.Errorf("%w: iv character %d is not in [A-Za-z0-9]", ErrBadIV, i)
		}
	}
	return nil
}

// isAlnum reports whether c is in [A-Za-z0-9].
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Mint returns the token for user at ts. A 16-character key yields lower-case
// hex of AES-128-ECB(user+";"+ms) and ignores iv; a 32-character key yields
// HMAC+iv+ciphertext of AES-256-CBC(user+";x-ts="+ms) and needs a
// 16-character [A-Za-z0-9] iv (see RandomIV).
func Mint(key, user string, ts time.Time, iv string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	if len(key) == KeyLenECB {
		block, err := aes.NewCipher([]byte(key))
		if err != nil {
			return "", fmt.Errorf("token: mint: %w", err)
		}
		pt := pad([]byte(user + ";" + ms))
		ct := make([]byte, len(pt))
		for i := 0; i < len(pt); i += aes.BlockSize {
			block.Encrypt(ct[i:i+aes.BlockSize], pt[i:i+aes.BlockSize])
		}
		return hex.EncodeToString(ct), nil
	}
	if err := checkIV(iv); err != nil {
		return "", err
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return "", fmt.Errorf("token: mint: %w", err)
	}
	pt := pad([]byte(user + ";x-ts=" + ms))
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, []byte(iv)).CryptBlocks(ct, pt)
	ivCt := iv + strings.ToUpper(hex.EncodeToString(ct))
	return macHex(key, ivCt) + ivCt, nil
}

// MintSet mints the three tokens of one call with the same key, timestamp and
// iv: accountToken for account (a leading "sip:" is dropped), fromToken for
// "sip:"+account and toToken for callee as a SIP URI ("sip:" prepended when
// missing).
func MintSet(key, realm, account, callee string, ts time.Time, iv string) (Set, error) {
	account = strings.TrimPrefix(strings.TrimSpace(account), "sip:")
	callee = strings.TrimSpace(callee)
	if account == "" {
		return Set{}, fmt.Errorf("token: mint set: empty account")
	}
	if callee == "" {
		return Set{}, fmt.Errorf("token: mint set: empty callee")
	}
	if !strings.HasPrefix(callee, "sip:") {
		callee = "sip:" + callee
	}
	s := Set{Realm: realm, Caller: "sip:" + account, Callee: callee}
	var err error
	if s.AccountToken, err = Mint(key, account, ts, iv); err != nil {
		return Set{}, fmt.Errorf("token: mint set: account: %w", err)
	}
	if s.FromToken, err = Mint(key, s.Caller, ts, iv); err != nil {
		return Set{}, fmt.Errorf("token: mint set: from: %w", err)
	}
	if s.ToToken, err = Mint(key, s.Callee, ts, iv); err != nil {
		return Set{}, fmt.Errorf("token: mint set: to: %w", err)
	}
	return s, nil
}

// Decode validates token with key and returns the user and timestamp inside
// it. Errors wrap ErrBadKey, ErrMalformed or ErrMAC. Decode does not judge the
// timestamp: the caller applies its validity window.
func Decode(key, token string) (user string, ts time.Time, err error) {
	if err := CheckKey(key); err != nil {
		return "", time.Time{}, err
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: decode: %w", err)
	}
	var pt []byte
	sep := ";"
	if len(key) == KeyLenECB {
		ct, err := hex.DecodeString(token)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%w: not hex: %w", ErrMalformed, err)
		}
		if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
			return "", time.Time{}, fmt.Errorf("%w: ciphertext length %d is not a positive multiple of %d", ErrMalformed, len(ct), aes.BlockSize)
		}
		pt = make([]byte, len(ct))
		for i := 0; i < len(ct); i += aes.BlockSize {
			block.Decrypt(pt[i:i+aes.BlockSize], ct[i:i+aes.BlockSize])
		}
	} else {
		sep = ";x-ts="
		if len(token) < macHexLen+IVLen+2*aes.BlockSize {
			return "", time.Time{}, fmt.Errorf("%w: %d characters is too short for a CBC token", ErrMalformed, len(token))
		}
		gotMAC := token[:macHexLen]
		if _, err := hex.DecodeString(gotMAC); err != nil {
			return "", time.Time{}, fmt.Errorf("%w: MAC is not hex: %w", ErrMalformed, err)
		}
		// §13.4 compares the upper-case hex text, so a MAC whose case was
		// changed is a tampered token too.
		ivCt := token[macHexLen:]
		if subtle.ConstantTimeCompare([]byte(gotMAC), []byte(macHex(key, ivCt))) != 1 {
			return "", time.Time{}, ErrMAC
		}
		iv := ivCt[:IVLen]
		if err := checkIV(iv); err != nil {
			return "", time.Time{}, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		ct, err := hex.DecodeString(ivCt[IVLen:])
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%w: ciphertext is not hex: %w", ErrMalformed, err)
		}
		if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
			return "", time.Time{}, fmt.Errorf("%w: ciphertext length %d is not a positive multiple of %d", ErrMalformed, len(ct), aes.BlockSize)
		}
		pt = make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, []byte(iv)).CryptBlocks(pt, ct)
	}
	pt, err = unpad(pt)
	if err != nil {
		return "", time.Time{}, err
	}
	s := string(pt)
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", time.Time{}, fmt.Errorf("%w: plaintext has no %q separator", ErrMalformed, sep)
	}
	user, msText := s[:i], s[i+len(sep):]
	ms, err := parseMillis(msText)
	if err != nil {
		return "", time.Time{}, err
	}
	return user, time.UnixMilli(ms), nil
}

// RandomIV returns 16 random characters from [A-Za-z0-9] drawn from crypto/rand.
func RandomIV() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, IVLen)
	buf := make([]byte, 2*IVLen)
	for n := 0; n < IVLen; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("token: random iv: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling keeps the distribution uniform: 248 = 4*62.
			if b < 248 && n < IVLen {
				out[n] = alphabet[int(b)%len(alphabet)]
				n++
			}
		}
	}
	return string(out), nil
}

// parseMillis parses a decimal millisecond timestamp: digits with an
// optional leading '-', the whole range Mint writes with
// strconv.FormatInt (judging it is the caller's job).
func parseMillis(s string) (int64, error) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 19 {
		return 0, fmt.Errorf("%w: timestamp %q is not a millisecond count", ErrMalformed, s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("%w: timestamp %q is not a millisecond count", ErrMalformed, s)
		}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: timestamp: %w", ErrMalformed, err)
	}
	return ms, nil
}

// macHex is UPPER(HEX(HMAC-SHA256(key, ivCt))).
func macHex(key, ivCt string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ivCt))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// pad applies PKCS#7 padding to a whole number of AES blocks.
func pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	for i := 0; i < n; i++ {
		out = append(out, byte(n))
	}
	return out
}

// unpad strips PKCS#7 padding, checking every padding byte.
func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty plaintext", ErrMalformed)
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, fmt.Errorf("%w: bad padding", ErrMalformed)
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, fmt.Errorf("%w: bad padding", ErrMalformed)
		}
	}
	return b[:len(b)-n], nil
}
