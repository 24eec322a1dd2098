package e2e

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/signal"
	"github.com/loadgen/loadgen/internal/token"
)

// TestTokenRejected checks that bad token credentials fail end to end
// with the exact step, HTTP status and SPiDR code (§4.3, §13.4).
func TestTokenRejected(t *testing.T) {
	now := time.Now()
	other16 := "Other16charKey.."
	other32 := "Other32charKey-for-AES256-CBC-x!"
	mint := func(key, user string, ts time.Time) string {
		iv := "e2eIV0123456789a"
		tok, err := token.Mint(key, user, ts, iv)
		if err != nil {
			t.Fatalf("mint: %v", err)
		}
		return tok
	}
	good := func(key, realm string) func() signal.Credentials {
		return func() signal.Credentials {
			set, err := mintSet(key, realm, now)
			if err != nil {
				t.Fatal(err)
			}
			return signal.TokenCredentials(set.AccountToken, set.FromToken, set.ToToken)
		}
	}
	with := func(base func() signal.Credentials, mod func(*signal.Credentials)) func() signal.Credentials {
		return func() signal.Credentials {
			c := base()
			mod(&c)
			return c
		}
	}
	tests := []struct {
		name  string
		realm string
		creds func() signal.Credentials
		want  wantErr
	}{
		{"wrong 16-char key", realm16, good(other16, realm16),
			wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 46}},
		{"wrong 32-char key", realm32, good(other32, realm32),
			wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 46}},
		{"16-char token in a 32-char realm", realm32, good(key16, realm32),
			wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 46}},
		{"unknown realm", "nowhere.example.com", good(key16, realm16),
			wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 64}},
		{"32-char token in a 16-char realm", realm16, good(key32, realm16),
			wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 46}},
		{"expired token", realm16, func() signal.Credentials {
			set, err := mintSet(key16, realm16, now.Add(-2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return signal.TokenCredentials(set.AccountToken, set.FromToken, set.ToToken)
		}, wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 65}},
		{"token from the future", realm32, func() signal.Credentials {
			set, err := mintSet(key32, realm32, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return signal.TokenCredentials(set.AccountToken, set.FromToken, set.ToToken)
		}, wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 65}},
		{"fromToken of another account", realm16, with(good(key16, realm16), func(c *signal.Credentials) {
			c.From = mint(key16, "sip:intruder@e2e.example.com", now)
		}), wantErr{signal.StepCallStart, signal.KindTokenRejected, 403, 46}},
		{"expired toToken", realm32, with(good(key32, realm32), func(c *signal.Credentials) {
			c.To = mint(key32, "sip:"+callee, now.Add(-2*time.Hour))
		}), wantErr{signal.StepCallStart, signal.KindTokenRejected, 403, 65}},
		{"toToken with a wrong key", realm32, with(good(key32, realm32), func(c *signal.Credentials) {
			c.To = mint(other32, "sip:"+callee, now)
		}), wantErr{signal.StepCallStart, signal.KindTokenRejected, 403, 46}},
	}
	e := newEnv(t, flavours[1], nil, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := e.newClient(tc.realm, nil)
			ctx := e.ctx()
			c, err := e.dial(ctx, client, tc.creds())
			if tc.want.Step == signal.StepSubscribe {
				if c != nil {
					c.close()
				}
				if err := checkErr(err, tc.want); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.close()
			err = c.start(ctx, false, signal.CallOptions{})
			if err := checkErr(err, tc.want); err != nil {
				t.Fatal(err)
			}
			if err := c.sess.Unsubscribe(ctx); err != nil {
				t.Fatalf("Unsubscribe after the rejected callStart: %v", err)
			}
			c.close()
		})
	}
	st := e.mustIdle()
	if st.CallsStarted != 0 || st.Answerers != 0 {
		t.Errorf("gateway stats: %+v", st)
	}
	if want := uint64(3); st.SubscriptionsTotal != want {
		t.Errorf("%d subscriptions created, want %d (only the callStart cases subscribe)", st.SubscriptionsTotal, want)
	}
}

// TestTokenAgesDuringCall lets the gateway's clock run past the token
// validity during a call: requests on the existing subscription and call
// still pass (only creation checks the age), a new subscription with the
// same tokens is refused as expired (65).
func TestTokenAgesDuringCall(t *testing.T) {
	var offset atomic.Int64 // added to the gateway's clock
	e := newEnv(t, flavours[2], func(cfg *gateway.Config) {
		cfg.AuditTimeout = 0 // the clock jump must not expire the call
		cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	}, nil)
	creds, err := e.f.creds()
	if err != nil {
		t.Fatal(err)
	}
	ctx := e.ctx()
	c, err := e.dial(ctx, e.client, creds)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.close()
	if err := c.start(ctx, false, signal.CallOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := c.answered(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.connected(ctx); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(2 * time.Minute)) // TokenValidity is 1 minute
	if err := c.sess.Audit(ctx); err != nil {
		t.Errorf("audit with an aged token: %v", err)
	}
	if err := c.sess.RefreshSubscription(ctx); err != nil {
		t.Errorf("refresh with an aged token: %v", err)
	}
	offer, err := c.peer.HoldOffer(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.sess.StartCallUpdate(ctx, offer); err != nil {
		t.Errorf("hold with an aged token: %v", err)
	} else if n, err := c.expect(ctx, signal.EventRespondCallUpdate); err != nil {
		t.Error(err)
	} else if err := c.peer.ApplyAnswer(n.SDP); err != nil {
		t.Error(err)
	}
	_, err = e.client.Subscribe(ctx, creds)
	if err := checkErr(err, wantErr{signal.StepSubscribe, signal.KindTokenRejected, 403, 65}); err != nil {
		t.Error(err)
	}
	if err := c.sess.EndCall(ctx); err != nil {
		t.Errorf("EndCall with an aged token: %v", err)
	}
	if err := c.sess.Unsubscribe(ctx); err != nil {
		t.Errorf("Unsubscribe with an aged token: %v", err)
	}
	c.close()
	e.mustIdle()
}
