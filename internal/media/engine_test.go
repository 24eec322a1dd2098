package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewEngineConfig(t *testing.T) {
	audio, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     EngineConfig
		wantErr string
	}{
		{"port min above max", EngineConfig{PortMin: 20000, PortMax: 10000}, "bad port range 20000-10000"},
		{"port max missing", EngineConfig{PortMin: 20000}, "bad port range 20000-0"},
		{"bad IP", EngineConfig{IPs: []string{"127.0.0.300"}}, `bad IP "127.0.0.300"`},
		{"negative pacers", EngineConfig{Pacers: -1}, "negative Pacers"},
		{"negative gather timeout", EngineConfig{GatherTimeout: -time.Second}, "negative GatherTimeout"},
		{"audio source as video", EngineConfig{Video: audio}, "Video a video Source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEngine(tc.cfg)
			if err == nil {
				e.Close()
				t.Fatalf("NewEngine succeeded, want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewEngine = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestOfferShape checks the caller's offer: audio then video, BUNDLE, full
// candidates on the configured address and port range, no H.264, no
// trickle marker, and a shared certificate across calls.
func TestOfferShape(t *testing.T) {
	checkLeaks(t)
	e := testEngine(t, func(c *EngineConfig) { c.PortMin, c.PortMax = 42000, 42099 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var fingerprints []string
	for range 2 {
		c, err := e.NewCaller(PeerOptions{Video: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		offer, err := c.CreateOffer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		audio, video := strings.Index(offer, "m=audio "), strings.Index(offer, "m=video ")
		if audio < 0 || video < audio {
			t.Errorf("offer does not hold audio then video:\n%s", offer)
		}
		for _, bad := range []string{"H264", "end-of-candidates", ".local"} {
			if strings.Contains(offer, bad) {
				t.Errorf("offer contains %q:\n%s", bad, offer)
			}
		}
		for _, want := range []string{"a=group:BUNDLE 0 1", "opus/48000/2", "VP8/90000", "a=setup:actpass", "a=sendrecv"} {
			if !strings.Contains(offer, want) {
				t.Errorf("offer lacks %q:\n%s", want, offer)
			}
		}
		cands := regexp.MustCompile(`a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host`).FindAllStringSubmatch(offer, -1)
		if len(cands) == 0 {
			t.Fatalf("no host candidate in offer:\n%s", offer)
		}
		for _, m := range cands {
			port, _ := strconv.Atoi(m[2])
			if m[1] != "127.0.0.1" || port < 42000 || port > 42099 {
				t.Errorf("candidate %s:%s outside 127.0.0.1:42000-42099", m[1], m[2])
			}
		}
		fingerprints = append(fingerprints, regexp.MustCompile(`a=fingerprint:\S+ \S+`).FindString(offer))
	}
	if fingerprints[0] == "" || fingerprints[0] != fingerprints[1] {
		t.Errorf("calls do not share the engine's certificate: %q", fingerprints)
	}
}

func TestEngineClosed(t *testing.T) {
	checkLeaks(t)
	e := testEngine(t, nil)
	c, err := e.NewCaller(PeerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Peers() != 1 {
		t.Errorf("Peers = %d, want 1", e.Peers())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.CreateOffer(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateOffer on a peer of a closed engine = %v, want ErrClosed", err)
	}
	if _, err := e.NewAnswerer(PeerOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("NewAnswerer on a closed engine = %v, want ErrClosed", err)
	}
	if e.Peers() != 0 {
		t.Errorf("Peers after Close = %d", e.Peers())
	}
}

func TestDirections(t *testing.T) {
	const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n" +
		"m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendrecv\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:3\r\n"
	got, err := directions(sdp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"0": "sendrecv", "1": "recvonly", "2": "inactive", "3": "sendrecv"}
	for mid, d := range want {
		if got[mid] != d {
			t.Errorf("directions()[%s] = %q, want %q", mid, got[mid], d)
		}
	}
	held := setDirections(sdp, "inactive")
	if strings.Count(held, "a=inactive\r\n") != 3 || strings.Contains(held, "a=sendrecv") || strings.Contains(held, "a=recvonly") {
		t.Errorf("setDirections:\n%s", held)
	}
	if _, err := directions("garbage"); err == nil {
		t.Error("directions(garbage) succeeded")
	}
}

// TestAnswerSDKOffers answers the reference SDK's recorded offers (initial
// audio+video, hold, unhold; ../shared/protocol/recorded, regular call) as
// the gateway's answerer does.
func TestAnswerSDKOffers(t *testing.T) {
	checkLeaks(t)
	e := testEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := e.NewAnswerer(PeerOptions{Video: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	steps := []struct {
		file      string
		want      []string
		forbidden []string
	}{
		{"sdk-offer.sdp", []string{"a=group:BUNDLE 0 1", "opus/48000/2", "VP8/90000", "a=setup:active", "a=sendrecv", " 127.0.0.1 "},
			[]string{"a=inactive", "H264", "AV1", "VP9"}},
		{"sdk-hold-offer.sdp", []string{"a=inactive"}, []string{"a=sendrecv", "a=sendonly"}},
		{"sdk-unhold-offer.sdp", []string{"a=sendrecv", "opus/48000/2", "VP8/90000"}, []string{"a=inactive"}},
	}
	for _, st := range steps {
		offer, err := os.ReadFile(filepath.Join("testdata", st.file))
		if err != nil {
			t.Fatal(err)
		}
		answer, err := a.Answer(ctx, string(offer))
		if err != nil {
			t.Fatalf("%s: Answer: %v", st.file, err)
		}
		for _, w := range st.want {
			if !strings.Contains(answer, w) {
				t.Errorf("%s: answer lacks %q:\n%s", st.file, w, answer)
			}
		}
		for _, f := range st.forbidden {
			if strings.Contains(answer, f) {
				t.Errorf("%s: answer contains %q:\n%s", st.file, f, answer)
			}
		}
	}
	if _, err := a.Answer(ctx, "v=0\r\nnot sdp"); !errors.Is(err, ErrBadSDP) {
		t.Errorf("Answer(garbage) = %v, want ErrBadSDP", err)
	}
}
