package media

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// stockAnswerer is a pion/webrtc peer built the way pion's examples build
// one: default codecs, default interceptors (NACK, RTCP reports, TWCC,
// stats), pion's own certificate and ICE settings. The only setting is
// the network, kept on loopback (tests only ever use 127.0.0.1). It echoes
// every RTP packet it receives on a track of its own, so the caller checks
// the media it gets back payload by payload.
func stockAnswerer(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// TestTransportStockPion connects a transport caller (audio and video)
// to a stock pion peer that echoes what it receives: ICE, DTLS and SRTP
// interoperate, the caller receives its own media back intact, and the
// RTCP of pion's default interceptors reaches the caller (RTT, uplink
// reports).
func TestTransportStockPion(t *testing.T) {
	checkLeaks(t)
	ce := testEngine(t, func(c *EngineConfig) { c.Transport = true; c.Pacers = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc := stockAnswerer(t)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = pc.Close()
		wg.Wait()
	})
	echo := map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP{}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		mime := webrtc.MimeTypeOpus
		if k == webrtc.RTPCodecTypeVideo {
			mime = webrtc.MimeTypeVP8
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime}, k.String(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		echo[k] = tr
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		out := echo[remote.Kind()]
		// As pion's examples do: read the receiver's RTCP, so the
		// interceptors see the caller's sender reports.
		wg.Go(func() {
			for {
				if _, _, err := rcv.ReadRTCP(); err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			for {
				p, _, err := remote.ReadRTP()
				if err != nil {
					return
				}
				if err := out.WriteRTP(p); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					return
				}
			}
		})
	})

	c, err := ce.NewCall(PeerOptions{Video: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	offer, err := c.CreateOffer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("stock pion refuses the transport's offer: %v", err)
	}
	for _, tr := range echo {
		sender, err := pc.AddTrack(tr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for {
				if _, _, err := sender.ReadRTCP(); err != nil {
					return
				}
			}
		})
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		t.Fatal("stock pion did not finish gathering")
	}
	if err := c.ApplyAnswer(pc.LocalDescription().SDP); err != nil {
		t.Fatalf("the transport refuses stock pion's answer: %v", err)
	}
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool {
		st := c.Stats()
		return st.Audio.PacketsReceived >= 100 && st.Video.PacketsReceived >= 30 && st.RTT > 0 && st.UplinkReports > 0
	}); err != nil {
		t.Fatalf("no echo, or no RTCP from stock pion: %+v: %v", c.Stats(), err)
	}
	st := c.Stats()
	if !st.IntegrityChecked || !st.IntegrityOK || st.Audio.PacketsLost != 0 || st.Duplicates != 0 {
		t.Errorf("echoed media: %+v", st)
	}
	if st.Audio.UplinkPacketsLost != 0 || st.RTT > 100*time.Millisecond {
		t.Errorf("stock pion's reports: uplink lost %d, RTT %v", st.Audio.UplinkPacketsLost, st.RTT)
	}
}
