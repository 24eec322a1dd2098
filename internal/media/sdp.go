package media

import (
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// directions maps every media section's mid to its direction attribute
// (sendrecv when absent, or the session-level one).
func directions(s string) (map[string]string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return nil, err
	}
	session := "sendrecv"
	for _, a := range d.Attributes {
		if isDirection(a.Key) {
			session = a.Key
		}
	}
	out := map[string]string{}
	for _, m := range d.MediaDescriptions {
		dir, mid := session, ""
		for _, a := range m.Attributes {
			switch {
			case isDirection(a.Key):
				dir = a.Key
			case a.Key == "mid":
				mid = a.Value
			}
		}
		if m.MediaName.Port.Value == 0 {
			dir = "inactive"
		}
		out[mid] = dir
	}
	return out, nil
}

func isDirection(k string) bool {
	return k == "sendrecv" || k == "sendonly" || k == "recvonly" || k == "inactive"
}

// pionView returns s with every media section that is not sendrecv (and
// not rejected with port 0) shown as sendrecv, and the real directions of
// those sections by mid. pion is shown only sendrecv re-offers and
// answers: it stops a sender whose section turns inactive (or recvonly
// for us) and never restarts it with the same SSRC, and never restarts a
// receiver when an unhold keeps the remote's SSRC. The Peer pauses and
// resumes its tracks from the real directions instead.
func pionView(s string) (string, map[string]string) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return s, nil
	}
	real := map[string]string{}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		mid, ok := m.Attribute("mid")
		if !ok {
			continue
		}
		for _, dir := range []string{"sendonly", "recvonly", "inactive"} {
			if _, ok := m.Attribute(dir); ok {
				real[mid] = dir
			}
		}
	}
	if len(real) == 0 {
		return s, real
	}
	view := make(map[string]string, len(real))
	for mid := range real {
		view[mid] = "sendrecv"
	}
	return setDirectionsByMid(s, view), real
}

// answerDirections maps offered directions (by mid) to those of the
// answer (RFC 3264 §6.1): sendonly is answered recvonly, recvonly
// sendonly, inactive inactive.
func answerDirections(offer map[string]string) map[string]string {
	out := make(map[string]string, len(offer))
	for mid, d := range offer {
		switch d {
		case "sendonly":
			out[mid] = "recvonly"
		case "recvonly":
			out[mid] = "sendonly"
		default:
			out[mid] = d
		}
	}
	return out
}

// setDirectionsByMid rewrites the direction attribute of every media
// section whose mid is in dirs to dirs[mid].
func setDirectionsByMid(s string, dirs map[string]string) string {
	if len(dirs) == 0 {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	start := -1 // first line of the current media section
	flush := func(end int) {
		if start < 0 {
			return
		}
		sect := lines[start:end]
		mid := ""
		for _, l := range sect {
			if t := strings.TrimRight(l, "\r\n"); strings.HasPrefix(t, "a=mid:") {
				mid = t[len("a=mid:"):]
			}
		}
		if dir, ok := dirs[mid]; ok {
			for i, l := range sect {
				t := strings.TrimRight(l, "\r\n")
				if strings.HasPrefix(t, "a=") && isDirection(t[2:]) {
					sect[i] = "a=" + dir + l[len(t):]
				}
			}
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "m=") {
			flush(i)
			start = i
		}
	}
	flush(len(lines))
	return strings.Join(lines, "")
}

// setDirections rewrites every media section's direction attribute.
func setDirections(s, dir string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "a=") && isDirection(t[2:]) {
			lines[i] = "a=" + dir + l[len(t):]
		}
	}
	return strings.Join(lines, "")
}

// mediaSSRCs returns the first SSRC each audio or video section of s
// declares (a=ssrc; the primary stream, RTX comes after it) with the
// section's kind index (0 audio, 1 video). A line scan: no SDP parse.
func mediaSSRCs(s string) map[uint32]int {
	out := map[uint32]int{}
	kind, seen := -1, false
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "m="):
			kind, seen = -1, false
			if strings.HasPrefix(line, "m=audio ") {
				kind = 0
			} else if strings.HasPrefix(line, "m=video ") {
				kind = 1
			}
		case kind >= 0 && !seen && strings.HasPrefix(line, "a=ssrc:"):
			v := line[len("a=ssrc:"):]
			if i := strings.IndexByte(v, ' '); i >= 0 {
				v = v[:i]
			}
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				out[uint32(n)] = kind
				seen = true
			}
		}
	}
	return out
}
