package signal

import "strings"

// NormalizeSIP turns a caller or callee address into the SIP URI the
// reference SDK sends as callMeRequest.to/from in regular mode (§6.2):
// trim; split user and domain at the last '@' when it is neither first nor
// last; drop any scheme prefix (everything up to the last ':' of the user
// part); if the user part is a phone number (optional leading '#', '+' or
// '*', then only digits and the separators space - . ( ) +) remove the
// separators but keep the leading character; return "sip:user@domain" (or
// "sip:user" without a domain).
//
// An address with a display name, "Name<uri>", keeps the name and gets its
// URI normalised: "Load Tester<caller@example.com>" becomes
// "Load Tester<sip:caller@example.com>". NormalizeSIP is idempotent; an
// empty or blank input returns "".
func NormalizeSIP(s string) string {
	s = strings.TrimSpace(s)
	if name, uri, ok := splitDisplayName(s); ok {
		n := NormalizeSIP(uri)
		if n == "" {
			return ""
		}
		return name + "<" + n + ">"
	}
	if s == "" {
		return ""
	}
	user, domain := s, ""
	if i := strings.LastIndexByte(s, '@'); i > 0 && i < len(s)-1 {
		user, domain = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(user, ':'); i >= 0 {
		user = user[i+1:]
	}
	if isPhoneNumber(user) {
		user = stripPhoneSeparators(user)
	}
	if domain == "" {
		return "sip:" + user
	}
	return "sip:" + user + "@" + domain
}

// splitDisplayName splits "Name<uri>" (no quotes, as the SDK writes it).
func splitDisplayName(s string) (name, uri string, ok bool) {
	if !strings.HasSuffix(s, ">") {
		return "", "", false
	}
	i := strings.LastIndexByte(s, '<')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1 : len(s)-1], true
}

// isPhoneNumber: optional leading '#', '+' or '*', then at least one digit
// and only digits and phone separators.
func isPhoneNumber(u string) bool {
	if u != "" && strings.IndexByte("#+*", u[0]) >= 0 {
		u = u[1:]
	}
	digits := 0
	for i := 0; i < len(u); i++ {
		switch ch := u[i]; {
		case '0' <= ch && ch <= '9':
			digits++
		case strings.IndexByte(" -.()+", ch) >= 0:
		default:
			return false
		}
	}
	return digits > 0
}

// stripPhoneSeparators keeps the leading '#', '+' or '*' and the digits.
func stripPhoneSeparators(u string) string {
	var b strings.Builder
	if strings.IndexByte("#+*", u[0]) >= 0 {
		b.WriteByte(u[0])
		u = u[1:]
	}
	for i := 0; i < len(u); i++ {
		if ch := u[i]; '0' <= ch && ch <= '9' {
			b.WriteByte(ch)
		}
	}
	return b.String()
}
