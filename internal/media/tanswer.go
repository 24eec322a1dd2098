package media

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// answerSection is one media section of the transport's answer.
type answerSection struct {
	kind      int    // 0 audio, 1 video, -1 not media we take
	mid       string // the offer's
	proto     string
	pt        int    // the codec we answer with (-1: rejected)
	rtpmap    string // its rtpmap value (without the payload type)
	fmtp      string // its fmtp value, as offered ("" none)
	dir       string // our direction
	rtcpRsize bool
}

// answerPlan is what the transport answers to an offer, fixed at the
// initial offer: later descriptions change only directions.
type answerPlan struct {
	sections []answerSection
	bundle   []string
	setup    string // our DTLS role: "active" (client) or "passive"
}

// planAnswer decides the answer to an initial offer: per section, the
// first codec the transport can send (Opus, G.722, PCMU or PCMA for
// audio; VP8 for video), and the direction (RFC 3264 §6.1; video we do
// not send is received only).
func planAnswer(offer string, video bool) (*answerPlan, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return nil, err
	}
	dirs, err := directions(offer)
	if err != nil {
		return nil, err
	}
	ans := answerDirections(dirs)
	plan := &answerPlan{setup: "active"}
	plan.takeSetup(d.Attributes)
	for _, m := range d.MediaDescriptions {
		plan.takeSetup(m.Attributes)
		s := planSection(m)
		if s.pt < 0 {
			s.kind = -1
			s.dir = "inactive"
		} else {
			s.dir = ans[s.mid]
			if s.kind == 1 && !video {
				s.dir = withoutSend(s.dir)
			}
			plan.bundle = append(plan.bundle, s.mid)
		}
		plan.sections = append(plan.sections, s)
	}
	if len(plan.bundle) == 0 || plan.sections[0].kind != 0 {
		return nil, fmt.Errorf("no audio section the transport can answer")
	}
	return plan, nil
}

// takeSetup makes us the DTLS server when the offerer wants to be the
// client (a=setup:active); actpass leaves us the client, as pion's
// answers are.
func (plan *answerPlan) takeSetup(attrs []sdp.Attribute) {
	for _, a := range attrs {
		if a.Key == "setup" && a.Value == "active" {
			plan.setup = "passive"
		}
	}
}

// planSection picks one offered section's codec: the first the
// transport can send (pt -1: none, or not audio or video).
func planSection(m *sdp.MediaDescription) answerSection {
	s := answerSection{kind: -1, pt: -1, proto: strings.Join(m.MediaName.Protos, "/")}
	switch m.MediaName.Media {
	case "audio":
		s.kind = 0
	case "video":
		s.kind = 1
	}
	rtpmaps, fmtps := map[string]string{}, map[string]string{}
	for _, a := range m.Attributes {
		switch a.Key {
		case "mid":
			s.mid = a.Value
		case "rtpmap":
			pt, v, _ := strings.Cut(a.Value, " ")
			rtpmaps[pt] = v
		case "fmtp":
			pt, v, _ := strings.Cut(a.Value, " ")
			fmtps[pt] = v
		case "rtcp-rsize":
			s.rtcpRsize = true
		}
	}
	if s.kind < 0 || m.MediaName.Port.Value == 0 {
		return s
	}
	for _, f := range m.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 {
			continue
		}
		rm := rtpmaps[f]
		name, _, _ := strings.Cut(rm, "/")
		name = strings.ToLower(name)
		if rm == "" {
			name = staticCodec(n)
			rm = staticRTPMap(n)
		}
		if sendable(s.kind, name) {
			s.pt, s.rtpmap, s.fmtp = n, rm, fmtps[f]
			return s
		}
	}
	return s
}

// withoutSend is direction d with our sending taken out.
func withoutSend(d string) string {
	switch d {
	case "sendrecv":
		return "recvonly"
	case "sendonly":
		return "inactive"
	}
	return d
}

// staticRTPMap is the rtpmap of a static payload type we can send.
func staticRTPMap(pt int) string {
	switch pt {
	case pcmuPayloadType:
		return "PCMU/8000"
	case pcmaPayloadType:
		return "PCMA/8000"
	case g722PayloadType:
		return "G722/8000"
	}
	return ""
}

// answerText writes the answer (or, with setup "actpass", the re-offer)
// for plan with the call's values; dirs overrides directions by mid.
func (plan *answerPlan) text(v offerValues, fingerprint, setup string, dirs map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- %d 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", v.origin)
	fmt.Fprintf(&b, "a=fingerprint:%s\r\n", fingerprint)
	if len(plan.bundle) > 0 {
		fmt.Fprintf(&b, "a=group:BUNDLE %s\r\n", strings.Join(plan.bundle, " "))
	}
	b.WriteString("a=msid-semantic:WMS *\r\n")
	for _, s := range plan.sections {
		media := "audio"
		if s.kind == 1 {
			media = "video"
		}
		if s.kind < 0 {
			fmt.Fprintf(&b, "m=%s 0 %s 0\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\na=inactive\r\n", media, s.proto, s.mid)
			continue
		}
		fmt.Fprintf(&b, "m=%s 9 %s %d\r\nc=IN IP4 0.0.0.0\r\n", media, s.proto, s.pt)
		fmt.Fprintf(&b, "a=setup:%s\r\na=mid:%s\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=rtcp-mux\r\n", setup, s.mid, v.ufrag, v.pwd)
		if s.rtcpRsize {
			b.WriteString("a=rtcp-rsize\r\n")
		}
		fmt.Fprintf(&b, "a=rtpmap:%d %s\r\n", s.pt, s.rtpmap)
		if s.fmtp != "" {
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", s.pt, s.fmtp)
		}
		dir := s.dir
		if d, ok := dirs[s.mid]; ok {
			dir = d
			if s.kind == 1 && v.ssrcs[1] == 0 {
				dir = withoutSend(dir)
			}
		}
		if ssrc := v.ssrcs[s.kind]; ssrc != 0 {
			fmt.Fprintf(&b, "a=ssrc:%d cname:%s\r\na=ssrc:%d msid:%s %s\r\na=msid:%s %s\r\n",
				ssrc, v.cname, ssrc, v.streamID, media, v.streamID, media)
		}
		fmt.Fprintf(&b, "a=%s\r\n", dir)
		b.WriteString(candidateLines(v.candidates))
	}
	return b.String()
}
