package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/signal"
)

// TestRemoteHold has the gateway hold and resume established calls: the
// client answers each startCallUpdate re-offer with RespondCallUpdate, media
// stops, then flows again.
func TestRemoteHold(t *testing.T) {
	for _, f := range []flavour{flavours[0], flavours[1]} {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f, nil, nil)
			c, a := e.mustEstablish(signal.CallOptions{})
			for _, hold := range []bool{true, false, true, false} {
				ctx := e.ctx()
				before := received(c.peer, a)
				if err := e.gw.RemoteHold(c.sid, hold); err != nil {
					t.Fatalf("RemoteHold(%v): %v", hold, err)
				}
				n, err := c.expect(ctx, signal.EventStartCallUpdate)
				if err != nil {
					t.Fatalf("hold=%v: %v", hold, err)
				}
				if err := checkDirections(n.SDP, hold, f.video); err != nil {
					t.Fatalf("gateway re-offer: %v", err)
				}
				answer, err := c.peer.Answer(ctx, n.SDP)
				if err != nil {
					t.Fatalf("hold=%v: caller Answer: %v", hold, err)
				}
				if err := checkDirections(answer, hold, f.video); err != nil {
					t.Fatalf("caller answer: %v", err)
				}
				if err := c.sess.RespondCallUpdate(ctx, answer); err != nil {
					t.Fatalf("hold=%v: RespondCallUpdate: %v", hold, err)
				}
				if hold {
					if err := waitStill(ctx, c.peer, a); err != nil {
						t.Fatal(err)
					}
				} else if err := waitGrowth(ctx, before, 25, c.peer, a); err != nil {
					t.Fatalf("after remote unhold: %v", err)
				}
			}
			ctx := e.ctx()
			if err := c.sess.Audit(ctx); err != nil {
				t.Fatalf("audit: %v", err)
			}
			if err := c.sess.EndCall(ctx); err != nil {
				t.Fatalf("EndCall: %v", err)
			}
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe: %v", err)
			}
			c.close()
			if err := e.gw.RemoteHold(c.sid, true); !errors.Is(err, gateway.ErrUnknownSession) {
				t.Errorf("RemoteHold after the end: %v, want ErrUnknownSession", err)
			}
			e.mustIdle()
		})
	}
}

// TestRemoteHoldBeforeAnswer asks for a remote hold while the call is still
// being answered: the gateway sends the re-offer right after the answer, so
// the client sees respondCallUpdate, then startCallUpdate.
func TestRemoteHoldBeforeAnswer(t *testing.T) {
	e := newEnv(t, flavours[0], func(cfg *gateway.Config) { cfg.AnswerDelay = 200 * time.Millisecond }, nil)
	ctx := e.ctx()
	creds, _ := e.f.creds()
	c, err := e.dial(ctx, e.client, creds)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.close()
	if err := c.start(ctx, false, signal.CallOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	held := make(chan error, 1)
	go func() { held <- e.gw.RemoteHold(c.sid, true) }()
	if err := c.answered(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.expect(ctx, signal.EventStartCallUpdate)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-held:
		if err != nil {
			t.Fatalf("RemoteHold: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("RemoteHold did not return")
	}
	answer, err := c.peer.Answer(ctx, n.SDP)
	if err != nil {
		t.Fatalf("caller Answer: %v", err)
	}
	if err := c.sess.RespondCallUpdate(ctx, answer); err != nil {
		t.Fatalf("RespondCallUpdate: %v", err)
	}
	if err := c.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(c.sess.EndCall(ctx), c.sess.Unsubscribe(ctx)); err != nil {
		t.Fatal(err)
	}
	c.close()
	e.mustIdle()
}

// TestMixedHold holds the call from both sides, then resumes it one side
// at a time: while the other side still holds, the answer to the first
// unhold must keep that hold (recvonly or inactive, never sendrecv: RFC
// 3264 §8.4, protocol §7.3 "On Hold if the remote side still holds"), so
// no media flows towards the side that unheld; after the second unhold
// media flows both ways.
func TestMixedHold(t *testing.T) {
	tests := []struct {
		name       string
		localFirst bool // the client unholds first, else the gateway
	}{
		{"client unholds first", true},
		{"gateway unholds first", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, flavours[0], nil, nil)
			f := e.f
			c, a := e.mustEstablish(signal.CallOptions{})
			// local renegotiates from the client and returns the gateway's answer.
			local := func(ctx context.Context, hold bool) string {
				t.Helper()
				offer, err := c.peer.HoldOffer(ctx, hold)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkDirections(offer, hold, f.video); err != nil {
					t.Fatalf("local offer: %v", err)
				}
				if err := c.sess.StartCallUpdate(ctx, offer); err != nil {
					t.Fatal(err)
				}
				n, err := c.expect(ctx, signal.EventRespondCallUpdate)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.peer.ApplyAnswer(n.SDP); err != nil {
					t.Fatal(err)
				}
				return n.SDP
			}
			// remote renegotiates from the gateway and returns the client's answer.
			remote := func(ctx context.Context, hold bool) string {
				t.Helper()
				if err := e.gw.RemoteHold(c.sid, hold); err != nil {
					t.Fatal(err)
				}
				n, err := c.expect(ctx, signal.EventStartCallUpdate)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkDirections(n.SDP, hold, f.video); err != nil {
					t.Fatalf("gateway re-offer: %v", err)
				}
				answer, err := c.peer.Answer(ctx, n.SDP)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.sess.RespondCallUpdate(ctx, answer); err != nil {
					t.Fatal(err)
				}
				return answer
			}
			local(e.ctx(), true)
			remote(e.ctx(), true)
			if err := waitStill(e.ctx(), c.peer, a); err != nil {
				t.Fatal(err)
			}
			first, second := local, remote
			toFirst := c.peer // the side that unholds first must receive nothing yet
			if !tc.localFirst {
				first, second, toFirst = remote, local, a
			}
			if answer := first(e.ctx(), false); strings.Contains(answer, "a=sendrecv") {
				t.Errorf("answer to the first unhold resumes the held side: %q", dirRE.FindAllString(answer, -1))
			}
			if err := waitStill(e.ctx(), toFirst); err != nil {
				t.Errorf("media towards the side that unheld while the other still holds: %v", err)
			}
			before := received(c.peer, a)
			second(e.ctx(), false)
			if err := waitGrowth(e.ctx(), before, 25, c.peer, a); err != nil {
				t.Fatalf("after both unholds: %v", err)
			}
			ctx := e.ctx()
			if err := errors.Join(c.sess.EndCall(ctx), c.sess.Unsubscribe(ctx)); err != nil {
				t.Fatal(err)
			}
			c.close()
			e.mustIdle()
		})
	}
}
