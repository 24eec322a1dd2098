package media

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/loadgen/loadgen/internal/iceagent"
)

// offerTemplate is the transport's initial offer with the per-call values
// named, so a call's offer is a few string replacements: the same text the
// lean pion caller sends (TestOfferLikeSDK holds that shape), made once by
// a throwaway pion caller of the same engine when the engine starts.
type offerTemplate struct {
	text                    string
	ufrag, pwd              string
	ssrcs                   [2]string // "a=ssrc:N " of audio and video ("" when absent)
	streamID, cname, origin string
}

// makeOfferTemplate asks a pion caller of e for its offer (no gathering:
// the candidates are the transport's own) and notes its per-call values.
func makeOfferTemplate(e *Engine, video bool) (*offerTemplate, error) {
	p, err := e.NewCaller(PeerOptions{Video: video})
	if err != nil {
		return nil, err
	}
	defer func() { _ = p.Close() }()
	d, err := p.pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("media: transport: offer template: %w", err)
	}
	s := strings.ReplaceAll(d.SDP, "a=end-of-candidates\r\n", "")
	s = rtcpCandidateRE.ReplaceAllString(s, "")
	s = candidateLineRE.ReplaceAllString(s, "")
	t := &offerTemplate{text: s}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return nil, fmt.Errorf("media: transport: offer template: %w", err)
	}
	t.origin = strconv.FormatUint(sd.Origin.SessionID, 10)
	for _, m := range sd.MediaDescriptions {
		k := 0
		if m.MediaName.Media == "video" {
			k = 1
		}
		for _, a := range m.Attributes {
			switch a.Key {
			case "ice-ufrag":
				t.ufrag = a.Value
			case "ice-pwd":
				t.pwd = a.Value
			case "ssrc":
				id, rest, _ := strings.Cut(a.Value, " ")
				if t.ssrcs[k] == "" {
					t.ssrcs[k] = "a=ssrc:" + id + " "
				}
				if v, ok := strings.CutPrefix(rest, "cname:"); ok {
					t.cname = v
				}
			case "msid":
				t.streamID, _, _ = strings.Cut(a.Value, " ")
			}
		}
	}
	if t.ufrag == "" || t.pwd == "" || t.ssrcs[0] == "" || (video && t.ssrcs[1] == "") {
		return nil, errors.New("media: transport: offer template: pion's offer lacks ICE credentials or SSRCs")
	}
	return t, nil
}

// offerValues are one call's values for the template.
type offerValues struct {
	ufrag, pwd      string
	ssrcs           [2]uint32
	streamID, cname string
	origin          uint64
	candidates      []string // "candidate:..." values
	direction       string   // "" keeps sendrecv
	setup           string   // "" keeps actpass (an answer says active or passive)
}

// fill writes a call's offer from the template.
func (t *offerTemplate) fill(v offerValues) string {
	pairs := []string{
		"a=ice-ufrag:" + t.ufrag + "\r\n", "a=ice-ufrag:" + v.ufrag + "\r\n",
		"a=ice-pwd:" + t.pwd + "\r\n", "a=ice-pwd:" + v.pwd + "\r\n" + candidateLines(v.candidates),
		t.ssrcs[0], "a=ssrc:" + strconv.FormatUint(uint64(v.ssrcs[0]), 10) + " ",
		"o=- " + t.origin + " ", "o=- " + strconv.FormatUint(v.origin, 10) + " ",
	}
	if t.ssrcs[1] != "" {
		pairs = append(pairs, t.ssrcs[1], "a=ssrc:"+strconv.FormatUint(uint64(v.ssrcs[1]), 10)+" ")
	}
	if t.streamID != "" {
		pairs = append(pairs, t.streamID, v.streamID)
	}
	if t.cname != "" {
		pairs = append(pairs, "cname:"+t.cname, "cname:"+v.cname)
	}
	if v.setup != "" {
		pairs = append(pairs, "a=setup:actpass\r\n", "a=setup:"+v.setup+"\r\n")
	}
	s := strings.NewReplacer(pairs...).Replace(t.text)
	if v.direction != "" {
		s = setDirections(s, v.direction)
	}
	return s
}

func candidateLines(cands []string) string {
	var b strings.Builder
	for _, c := range cands {
		b.WriteString("a=")
		b.WriteString(c)
		b.WriteString("\r\n")
	}
	return b.String()
}

// hostCandidate is the SDP candidate value of a host candidate on addr.
func hostCandidate(i int, addr netip.AddrPort) string {
	// RFC 8445 §5.1.2.1: type preference 126 (host), local preference
	// by order, component 1.
	prio := uint32(126)<<24 | uint32(65535-i)<<8 | 255
	return fmt.Sprintf("candidate:%d 1 udp %d %s %d typ host", 1000+i, prio, addr.Addr(), addr.Port())
}

// remoteAnswer is what the transport takes from the remote answer.
type remoteAnswer struct {
	ufrag, pwd  string
	fingerprint []byte // SHA-256 of the remote certificate
	dtlsClient  bool   // we are the DTLS client (the remote answered passive)
	candidates  []iceagent.Candidate
	// per kind (0 audio, 1 video): the payload type and mime of the first
	// codec we can send, and every payload type the remote may send
	send [2]struct {
		pt   uint8
		mime string
		ok   bool
	}
	kindOfPT [128]int8 // -1: not negotiated
}

// parseAnswer reads the remote answer (or re-offer) the transport needs.
func parseAnswer(s string) (*remoteAnswer, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return nil, err
	}
	ra := &remoteAnswer{}
	for i := range ra.kindOfPT {
		ra.kindOfPT[i] = -1
	}
	var fp, setup string
	ra.takeAttrs(d.Attributes, &fp, &setup)
	seen := map[netip.AddrPort]bool{}
	for _, m := range d.MediaDescriptions {
		ra.takeAttrs(m.Attributes, &fp, &setup)
		ra.takeSection(m, seen)
	}
	alg, hex, _ := strings.Cut(fp, " ")
	if !strings.EqualFold(alg, "sha-256") {
		return nil, fmt.Errorf("no sha-256 fingerprint (got %q)", fp)
	}
	b, err := parseFingerprint(hex)
	if err != nil {
		return nil, err
	}
	ra.fingerprint = b
	ra.dtlsClient = setup == "passive"
	if ra.ufrag == "" || ra.pwd == "" {
		return nil, errors.New("no ICE credentials")
	}
	return ra, nil
}

// takeAttrs takes the ICE credentials, the fingerprint and the DTLS
// setup from session or media attributes (the last one written wins).
func (ra *remoteAnswer) takeAttrs(attrs []sdp.Attribute, fp, setup *string) {
	for _, a := range attrs {
		switch a.Key {
		case "ice-ufrag":
			ra.ufrag = a.Value
		case "ice-pwd":
			ra.pwd = a.Value
		case "fingerprint":
			*fp = a.Value
		case "setup":
			*setup = a.Value
		}
	}
}

// takeSection takes an audio or video section's candidates (once each,
// usable ones), the payload types the remote may send and the first
// codec the transport can send.
func (ra *remoteAnswer) takeSection(m *sdp.MediaDescription, seen map[netip.AddrPort]bool) {
	k := 0
	switch m.MediaName.Media {
	case "audio":
	case "video":
		k = 1
	default:
		return
	}
	if m.MediaName.Port.Value == 0 {
		return
	}
	names := map[string]string{}
	for _, a := range m.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, name, _ := strings.Cut(a.Value, " ")
			codec, _, _ := strings.Cut(name, "/")
			names[pt] = strings.ToLower(codec)
		case "candidate":
			c, err := iceagent.ParseCandidate(a.Value)
			if err != nil || !c.Usable() || seen[c.Addr] {
				continue
			}
			seen[c.Addr] = true
			ra.candidates = append(ra.candidates, c)
		}
	}
	for _, f := range m.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 {
			continue
		}
		ra.kindOfPT[n] = int8(k)
		name := names[f]
		if name == "" {
			name = staticCodec(n)
		}
		if !ra.send[k].ok && sendable(k, name) {
			ra.send[k].pt, ra.send[k].mime, ra.send[k].ok = uint8(n), name, true
		}
	}
}

// staticCodec names the static payload types the transport can send.
func staticCodec(pt int) string {
	switch pt {
	case pcmuPayloadType:
		return "pcmu"
	case pcmaPayloadType:
		return "pcma"
	case g722PayloadType:
		return "g722"
	}
	return ""
}

// sendable says whether the transport has a clip for a codec of kind k.
func sendable(k int, name string) bool {
	if k == 1 {
		return name == "vp8"
	}
	switch name {
	case "opus", "g722", "pcmu", "pcma":
		return true
	}
	return false
}

func parseFingerprint(hex string) ([]byte, error) {
	parts := strings.Split(strings.TrimSpace(hex), ":")
	if len(parts) != sha256.Size {
		return nil, fmt.Errorf("bad sha-256 fingerprint %q", hex)
	}
	out := make([]byte, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("bad sha-256 fingerprint %q", hex)
		}
		out[i] = byte(v)
	}
	return out, nil
}

// candidateLineRE matches any candidate line (the template's own are
// replaced by the transport's).
var candidateLineRE = regexp.MustCompile(`a=candidate:[^\r\n]*\r\n`)
