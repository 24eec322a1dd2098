package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// newTestAPI builds a pion API restricted to UDP4 loopback, mDNS off.
func newTestAPI(t *testing.T) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatalf("register codecs: %v", err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
}

// pionAnswerer is a real pion peer implementing Answerer and Reofferer.
type pionAnswerer struct {
	pc      *webrtc.PeerConnection
	applied chan string // answers applied by ApplyAnswer
	offers  chan string // offers received by Answer
	once    sync.Once
}

// answererFactory records every Answerer it makes.
type answererFactory struct {
	api  *webrtc.API
	mu   sync.Mutex
	made []*pionAnswerer
	fail error // when set, Answer fails with it
}

func (f *answererFactory) New() (Answerer, error) {
	pc, err := f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	a := &pionAnswerer{pc: pc, applied: make(chan string, 8), offers: make(chan string, 8)}
	f.mu.Lock()
	f.made = append(f.made, a)
	f.mu.Unlock()
	if f.fail != nil {
		return failingAnswerer{a, f.fail}, nil
	}
	return a, nil
}

func (f *answererFactory) last(t *testing.T) *pionAnswerer {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.made) == 0 {
		t.Fatal("no answerer was made")
	}
	return f.made[len(f.made)-1]
}

// failingAnswerer fails every Answer.
type failingAnswerer struct {
	*pionAnswerer
	err error
}

func (f failingAnswerer) Answer(context.Context, string) (string, error) { return "", f.err }

// gather sets desc as local description and waits for ICE gathering.
func gather(ctx context.Context, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

func (a *pionAnswerer) Answer(ctx context.Context, offer string) (string, error) {
	select {
	case a.offers <- offer:
	default:
	}
	if err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("set remote offer: %w", err)
	}
	ans, err := a.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	return gather(ctx, a.pc, ans)
}

func (a *pionAnswerer) Reoffer(ctx context.Context, hold bool) (string, error) {
	offer, err := a.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("create offer: %w", err)
	}
	sdp, err := gather(ctx, a.pc, offer)
	if err != nil {
		return "", err
	}
	if hold {
		sdp = setDirection(sdp, "inactive")
	}
	return sdp, nil
}

func (a *pionAnswerer) ApplyAnswer(sdp string) error {
	if err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("set remote answer: %w", err)
	}
	a.applied <- sdp
	return nil
}

func (a *pionAnswerer) Close() error {
	var err error
	a.once.Do(func() { err = a.pc.Close() })
	return err
}

// setDirection rewrites every media direction attribute of sdp.
func setDirection(sdp, dir string) string {
	for _, d := range []string{"a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"} {
		sdp = strings.ReplaceAll(sdp, d+"\r\n", "a="+dir+"\r\n")
	}
	return sdp
}

// offerer is the test's caller-side pion peer.
type offerer struct {
	pc        *webrtc.PeerConnection
	connected chan struct{}
}

func newOfferer(t *testing.T, api *webrtc.API) *offerer {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("new offerer: %v", err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "loadgen")
	if err != nil {
		t.Fatalf("new track: %v", err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatalf("add track: %v", err)
	}
	o := &offerer{pc: pc, connected: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(o.connected) })
		}
	})
	return o
}

// offer creates, applies and returns a complete offer.
func (o *offerer) offer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offer, err := o.pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	sdp, err := gather(ctx, o.pc, offer)
	if err != nil {
		t.Fatalf("gather offer: %v", err)
	}
	return sdp
}

// applyAnswer applies the gateway's answer.
func (o *offerer) applyAnswer(t *testing.T, sdp string) {
	t.Helper()
	if err := o.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatalf("apply gateway answer: %v", err)
	}
}

// answer answers a gateway re-offer.
func (o *offerer) answer(t *testing.T, offer string) string {
	t.Helper()
	if err := o.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("apply gateway re-offer: %v", err)
	}
	ans, err := o.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatalf("create answer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sdp, err := gather(ctx, o.pc, ans)
	if err != nil {
		t.Fatalf("gather answer: %v", err)
	}
	return sdp
}

// waitConnected waits for ICE+DTLS to complete.
func (o *offerer) waitConnected(t *testing.T) {
	t.Helper()
	select {
	case <-o.connected:
	case <-time.After(10 * time.Second):
		t.Fatalf("offerer not connected to the gateway answerer within 10s (state %s)", o.pc.ConnectionState())
	}
}

var errAnswerBoom = errors.New("answer boom")
