package e2e

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/signal"
)

// startTURN runs a real TURN server (pion/turn) on 127.0.0.1 with one
// long-term credential, relaying on 127.0.0.1, for the test's lifetime. It
// returns the server's address and a counter of successful allocations.
func startTURN(t *testing.T, user, pass string) (addr string, allocations func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const realm = "loadgen.test"
	key := turn.GenerateAuthKey(user, realm, pass)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username == user {
				return ra.Username, key, true
			}
			return "", nil, false
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP("127.0.0.1"),
				Address:      "127.0.0.1",
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("TURN server Close: %v", err)
		}
	})
	return pc.LocalAddr().String(), srv.AllocationCount
}

// TestRelayOnlyCall places a call whose caller may only use a TURN relay
// (ice_transport_policy: relay, as a run that loads a TURN tier does): it
// connects through the loopback TURN server and media flows both ways; with
// a wrong TURN password it fails as an ICE failure.
func TestRelayOnlyCall(t *testing.T) {
	turnAddr, allocations := startTURN(t, "loader", "s3cret")
	tests := []struct {
		name     string
		password string
		wantOK   bool
	}{
		{"relay connects", "s3cret", true},
		{"wrong TURN password", "wrong", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flavour{name: "regular", mode: signal.ModeRegular}
			e := newEnv(t, f, nil, nil)
			relay, err := media.NewEngine(media.EngineConfig{
				IncludeLoopback:        true,
				IPs:                    []string{"127.0.0.1"},
				ICEServers:             []webrtc.ICEServer{{URLs: []string{"turn:" + turnAddr + "?transport=udp"}, Username: "loader", Credential: tc.password}},
				RelayOnly:              true,
				ICEDisconnectedTimeout: 2 * time.Second,
				ICEFailedTimeout:       3 * time.Second,
				ICEKeepalive:           500 * time.Millisecond,
				GatherTimeout:          2 * time.Second,
				Pacers:                 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { relay.Close() })
			e.clientMedia = relay
			before := allocations()

			ctx := e.ctx()
			creds, err := f.creds()
			if err != nil {
				t.Fatal(err)
			}
			c, err := e.dial(ctx, e.client, creds)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			err = c.start(ctx, false, signal.CallOptions{})
			if !tc.wantOK {
				// No relay candidate can be gathered: the offer cannot be made.
				if err == nil {
					err = c.answered(ctx)
					if err == nil {
						err = c.connected(ctx)
					}
				}
				if !errorsIsICE(err) {
					t.Fatalf("relay-only call with a wrong TURN password: %v, want an ICE failure", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.answered(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.connected(ctx); err != nil {
				t.Fatal(err)
			}
			if allocations() <= before {
				t.Errorf("TURN allocations %d → %d: the call did not use the relay", before, allocations())
			}
			a, err := e.answerer(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.WaitFirstMedia(ctx); err != nil {
				t.Fatalf("answerer got no media through the relay: %v", err)
			}
			if err := waitGrowth(ctx, received(c.peer, a), 25, c.peer, a); err != nil {
				t.Fatal(err)
			}
			if err := c.sess.EndCall(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// errorsIsICE reports whether err is the media engine's ICE failure.
func errorsIsICE(err error) bool {
	return err != nil && errors.Is(err, media.ErrICEFailed)
}
