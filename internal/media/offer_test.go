package media

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
)

// offerFacts reduces an offer to the facts a gateway negotiates on, one
// string each, line kind by line kind: session attributes, and per media
// section (by kind) its protocol, codecs in order (position, payload type,
// rtpmap), fmtp, rtcp-fb, extmap, direction and the transport attributes.
// Per-call values (candidates, ICE credentials, fingerprints, SSRCs, msid,
// origin) are left out.
func offerFacts(t *testing.T, s string) []string {
	t.Helper()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatalf("parse offer: %v", err)
	}
	var out []string
	for _, a := range d.Attributes {
		switch a.Key {
		case "fingerprint", "ice-ufrag", "ice-pwd", "msid-semantic":
			// per call, or its value per call
			if a.Key == "msid-semantic" {
				out = append(out, "session a=msid-semantic")
			}
		default:
			out = append(out, "session a="+strings.TrimSpace(a.Key+":"+a.Value))
		}
	}
	for _, m := range d.MediaDescriptions {
		kind := "m=" + m.MediaName.Media
		out = append(out, kind+" proto "+strings.Join(m.MediaName.Protos, "/"))
		names := map[string]string{}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" {
				pt, name, _ := strings.Cut(a.Value, " ")
				names[pt] = name
			}
		}
		for i, pt := range m.MediaName.Formats {
			out = append(out, kind+" codec #"+itoa(i+1)+" "+pt+" "+names[pt])
		}
		for _, a := range m.Attributes {
			switch a.Key {
			case "fmtp", "rtcp-fb":
				pt, v, _ := strings.Cut(a.Value, " ")
				out = append(out, kind+" "+a.Key+" "+names[pt]+" "+v)
			case "extmap":
				out = append(out, kind+" extmap "+a.Value)
			case "sendrecv", "sendonly", "recvonly", "inactive", "rtcp-mux", "rtcp-rsize":
				out = append(out, kind+" a="+a.Key)
			case "setup", "rtcp-xr", "rtcp":
				out = append(out, kind+" a="+a.Key+":"+a.Value)
			case "mid":
				out = append(out, kind+" a=mid:"+a.Value)
			case "ssrc-group":
				sem, _, _ := strings.Cut(a.Value, " ")
				out = append(out, kind+" a=ssrc-group:"+sem)
			}
		}
	}
	return out
}

// TestOfferLikeSDK compares loadgen's initial offer (audio and video) with
// the reference SDK's recorded one (testdata/sdk-offer.sdp), line kind by
// line kind, and lists every accepted difference: the test fails on any
// other difference, and on an accepted one that is gone (update the table
// and media/README.md together).
func TestOfferLikeSDK(t *testing.T) {
	// In the SDK's offer, not in loadgen's.
	missing := []string{
		// Per-call value kept: the SDK's session a=msid-semantic is
		// "WMS <stream id>", loadgen's "WMS *" (compared by key only).
		// Video codecs loadgen cannot send (its clip is VP8) and their
		// retransmission and redundancy formats.
		"m=video codec #2 97 rtx/90000",
		"m=video codec #3 45 AV1/90000",
		"m=video codec #4 46 rtx/90000",
		"m=video codec #5 98 VP9/90000",
		"m=video codec #6 99 rtx/90000",
		"m=video codec #7 100 VP9/90000",
		"m=video codec #8 101 rtx/90000",
		"m=video codec #9 118 red/90000",
		"m=video codec #10 119 rtx/90000",
		"m=video codec #11 120 ulpfec/90000",
		"m=video fmtp rtx/90000 apt=96",
		"m=video fmtp AV1/90000 level-idx=5;profile=0;tier=0",
		"m=video fmtp rtx/90000 apt=45",
		"m=video fmtp VP9/90000 profile-id=0",
		"m=video fmtp rtx/90000 apt=98",
		"m=video fmtp VP9/90000 profile-id=2",
		"m=video fmtp rtx/90000 apt=100",
		"m=video fmtp rtx/90000 apt=118",
		"m=video rtcp-fb AV1/90000 goog-remb",
		"m=video rtcp-fb AV1/90000 transport-cc",
		"m=video rtcp-fb AV1/90000 ccm fir",
		"m=video rtcp-fb AV1/90000 nack",
		"m=video rtcp-fb AV1/90000 nack pli",
		"m=video rtcp-fb VP9/90000 goog-remb",
		"m=video rtcp-fb VP9/90000 transport-cc",
		"m=video rtcp-fb VP9/90000 ccm fir",
		"m=video rtcp-fb VP9/90000 nack",
		"m=video rtcp-fb VP9/90000 nack pli",
		"m=video a=ssrc-group:FID", // no RTX stream
		// Video header extensions loadgen never writes.
		"m=video extmap 14 urn:ietf:params:rtp-hdrext:toffset",
		"m=video extmap 13 urn:3gpp:video-orientation",
		"m=video extmap 5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
		"m=video extmap 6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
		"m=video extmap 7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
		"m=video extmap 8 http://www.webrtc.org/experiments/rtp-hdrext/color-space",
		"m=video extmap 10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
		"m=video extmap 11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
		// RTCP attributes pion does not write.
		"m=audio a=rtcp:9 IN IP4 0.0.0.0",
		"m=video a=rtcp:9 IN IP4 0.0.0.0",
		"m=audio a=rtcp-xr:rcvr-rtt=all",
		"m=video a=rtcp-xr:rcvr-rtt=all",
	}
	// In loadgen's offer, not in the SDK's.
	// None. Not compared (per call, or where, not what): pion writes the
	// DTLS fingerprint once at session level, the SDK in every section
	// (both valid, RFC 8122 §5); ICE credentials, candidates, SSRCs, msid.
	var extra []string
	sdk, err := os.ReadFile("testdata/sdk-offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.NewCaller(PeerOptions{Video: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	offer, err := c.CreateOffer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := offerFacts(t, strings.ReplaceAll(string(sdk), "\n", "\r\n"))
	got := offerFacts(t, offer)
	var gotMissing, gotExtra []string
	for _, f := range want {
		if !slices.Contains(got, f) {
			gotMissing = append(gotMissing, f)
		}
	}
	for _, f := range got {
		if !slices.Contains(want, f) {
			gotExtra = append(gotExtra, f)
		}
	}
	diff := func(what string, gotL, accepted []string) {
		for _, f := range gotL {
			if !slices.Contains(accepted, f) {
				t.Errorf("%s, not an accepted difference: %q", what, f)
			}
		}
		for _, f := range accepted {
			if !slices.Contains(gotL, f) {
				t.Errorf("accepted difference no longer there (%s): %q: update the table and media/README.md", what, f)
			}
		}
	}
	diff("in the SDK's offer, not in loadgen's", gotMissing, missing)
	diff("in loadgen's offer, not in the SDK's", gotExtra, extra)
	for _, bad := range []string{"a=cryptex", "a=end-of-candidates", "H264", " 2 udp "} {
		if strings.Contains(offer, bad) {
			t.Errorf("offer contains %q", bad)
		}
	}
	t.Logf("loadgen's offer, line kind by line kind:\n%s", strings.Join(got, "\n"))
	if t.Failed() {
		t.Logf("loadgen's offer:\n%s", offer)
	}
}

// TestNegotiatedAudioCodec checks that a peer sends the audio codec the
// remote prefers: an offer reordered to put G.722, PCMU or PCMA first is
// answered with it first, and both ends then send that codec's clip, which
// the receivers check payload by payload.
func TestNegotiatedAudioCodec(t *testing.T) {
	tests := []struct {
		name, pts, codec string
	}{
		{"opus", "111 63 9 0 8 13 110 126", "opus"},
		{"PCMU", "0 8 9 111 13 126", "PCMU"},
		{"PCMA", "8 0 126", "PCMA"},
		{"G722", "9 111 0 8", "G722"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			e := testEngine(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c, a := newPeers(t, e, PeerOptions{})
			negotiate(ctx, t, c, a, func(offer string) (string, error) {
				return strings.Replace(offer, "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=audio 9 UDP/TLS/RTP/SAVPF "+tc.pts, 1), nil
			}, nil)
			for _, p := range []*Peer{c, a} {
				if err := waitFor(ctx, func() bool { return p.in[0].received.Load() >= 25 }); err != nil {
					t.Fatalf("no media: %v", err)
				}
			}
			for name, p := range map[string]*Peer{"caller": c, "answerer": a} {
				st := p.Stats()
				if st.Codec != tc.codec || !st.IntegrityChecked || !st.IntegrityOK || st.Audio.PacketsLost != 0 {
					t.Errorf("%s: codec %q integrity checked %v ok %v lost %d, want %s, checked and ok, no loss",
						name, st.Codec, st.IntegrityChecked, st.IntegrityOK, st.Audio.PacketsLost, tc.codec)
				}
			}
		})
	}
}
