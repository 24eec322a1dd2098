package media

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordedSDPs returns every SDP in the recorded SDK traffic (offers in
// request bodies, answers and re-offers in notifications), or nil when the
// shared fixture is not checked out beside the clone.
func recordedSDPs(f *testing.F) []string {
	f.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "protocol", "recorded", "sdk-traffic.json"))
	if err != nil {
		f.Logf("no recorded SDP seeds: %v", err)
		return nil
	}
	var out []string
	// Walk the JSON generically: SDPs sit under "sdp" keys at several depths.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "sdp" && strings.HasPrefix(s, "v=0") {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatalf("fixture: %v", err)
	}
	walk(v)
	return out
}

// FuzzSDP runs the SDP helpers the Peer applies to offers and answers on
// arbitrary text. Properties:
//   - none of directions, pionView, setDirections, setDirectionsByMid,
//     answerDirections and mediaSSRCs panics;
//   - pionView returns s unchanged when it does not parse or has no
//     section to rewrite; otherwise what it returns still parses, each
//     section it reports reads sendrecv in it, and each other section keeps
//     its direction;
//   - setDirections is idempotent, and its last application wins;
//   - answerDirections is an involution (sendonly and recvonly swap);
//   - mediaSSRCs reports kinds 0 (audio) and 1 (video) only.
func FuzzSDP(f *testing.F) {
	files, err := filepath.Glob("testdata/*.sdp")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range recordedSDPs(f) {
		f.Add(s)
	}
	for _, s := range []string{
		"",
		"v=0\r\n",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=sendonly\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n",
		"v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nm=audio 9 RTP/AVP 0\na=mid:a\na=inactive\na=ssrc:1 cname:x\na=ssrc:4294967296\nm=video 9 RTP/AVP 96\na=ssrc:2\n",
		"m=audio 9 RTP/AVP 0\na=mid:\na=sendonly\r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dirs, perr := directions(s)
		view, real := pionView(s)
		if perr != nil || len(real) == 0 {
			if view != s {
				t.Fatalf("pionView changed SDP it does not rewrite:\n%q\n%q", s, view)
			}
		}
		if perr == nil && len(real) > 0 {
			after, err := directions(view)
			if err != nil {
				t.Fatalf("pionView's SDP does not parse: %v\n%q", err, view)
			}
			for mid, d := range after {
				want := dirs[mid]
				if _, ok := real[mid]; ok {
					want = "sendrecv"
				}
				if d != want && uniqueMids(s) && !bareCR(s) {
					t.Fatalf("after pionView mid %q reads %q, want %q\n%q\n%q", mid, d, want, s, view)
				}
			}
		}
		for _, d := range []string{"sendrecv", "inactive"} {
			once := setDirections(s, d)
			if twice := setDirections(once, d); twice != once {
				t.Fatalf("setDirections(%q) is not idempotent:\n%q\n%q", d, once, twice)
			}
		}
		if a, b := setDirections(setDirections(s, "inactive"), "sendonly"), setDirections(s, "sendonly"); a != b {
			t.Fatalf("setDirections: last application does not win:\n%q\n%q", a, b)
		}
		if back := answerDirections(answerDirections(dirs)); len(back) != len(dirs) {
			t.Fatalf("answerDirections lost mids: %v -> %v", dirs, back)
		} else {
			for mid, d := range dirs {
				if back[mid] != d {
					t.Fatalf("answerDirections is not an involution: %v -> %v", dirs, back)
				}
			}
		}
		_ = setDirectionsByMid(s, dirs)
		for ssrc, kind := range mediaSSRCs(s) {
			if kind != 0 && kind != 1 {
				t.Fatalf("mediaSSRCs: ssrc %d has kind %d", ssrc, kind)
			}
		}
	})
}

// bareCR reports whether s holds a '\r' that does not end a line. pion's
// lexer trims one byte per '\r' anywhere in a line (a=mid:\r0 reads as mid
// "\r"), so such SDP (invalid: RFC 8866 §5 ends lines with CRLF and allows
// no CR in values) has no by-mid reading to compare with.
func bareCR(s string) bool {
	return strings.Count(s, "\r") != strings.Count(s, "\r\n")
}

// uniqueMids reports whether every media section of s has a mid line of
// its own (sections sharing a mid, or lacking one, are ambiguous by mid).
func uniqueMids(s string) bool {
	seen := map[string]bool{}
	n := 0
	for l := range strings.SplitSeq(s, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "m="):
			n++
		case strings.HasPrefix(l, "a=mid:"):
			if seen[l] {
				return false
			}
			seen[l] = true
		}
	}
	return len(seen) == n
}
