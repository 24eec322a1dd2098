package media

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testEngine builds an engine gathering on 127.0.0.1 only.
func testEngine(t testing.TB, mod func(*EngineConfig)) *Engine {
	t.Helper()
	cfg := EngineConfig{
		IncludeLoopback:        true,
		IPs:                    []string{"127.0.0.1"},
		ICEFailedTimeout:       3 * time.Second,
		ICEDisconnectedTimeout: 2 * time.Second,
		ICEKeepalive:           500 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Engine.Close: %v", err)
		}
	})
	return e
}

// connectPair creates a caller and an answerer and negotiates them by
// passing the SDPs directly.
func connectPair(ctx context.Context, e *Engine, video bool) (caller, answerer *Peer, err error) {
	caller, err = e.NewCaller(PeerOptions{Video: video})
	if err != nil {
		return nil, nil, err
	}
	answerer, err = e.NewAnswerer(PeerOptions{Video: video})
	if err != nil {
		caller.Close()
		return nil, nil, err
	}
	fail := func(err error) (*Peer, *Peer, error) {
		caller.Close()
		answerer.Close()
		return nil, nil, err
	}
	offer, err := caller.CreateOffer(ctx)
	if err != nil {
		return fail(fmt.Errorf("offer: %w", err))
	}
	answer, err := answerer.Answer(ctx, offer)
	if err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	if err := caller.ApplyAnswer(answer); err != nil {
		return fail(fmt.Errorf("apply answer: %w", err))
	}
	return caller, answerer, nil
}

// checkLeaks verifies, after every other cleanup (the engine's Close
// included), that the test left no goroutine behind.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// newPeers creates a caller and an answerer on e, not yet negotiated, both
// closed when the test ends.
func newPeers(t testing.TB, e *Engine, opts PeerOptions) (c, a *Peer) {
	t.Helper()
	c, err := e.NewCaller(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	a, err = e.NewAnswerer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return c, a
}

// negotiate passes c's offer to a and a's answer back, each through its
// rewrite first (nil: unchanged), as a gateway in the path would.
func negotiate(ctx context.Context, t testing.TB, c, a *Peer, rewriteOffer, rewriteAnswer func(string) (string, error)) {
	t.Helper()
	same := func(s string) (string, error) { return s, nil }
	if rewriteOffer == nil {
		rewriteOffer = same
	}
	if rewriteAnswer == nil {
		rewriteAnswer = same
	}
	offer, err := c.CreateOffer(ctx)
	if err == nil {
		offer, err = rewriteOffer(offer)
	}
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	answer, err := a.Answer(ctx, offer)
	if err == nil {
		answer, err = rewriteAnswer(answer)
	}
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if err := c.ApplyAnswer(answer); err != nil {
		t.Fatalf("apply answer: %v", err)
	}
}

// upPair is the common start of a call test: no goroutine may be left at
// the end, an engine on loopback, an audio+video caller and answerer
// negotiated, and first media received both ways, all within limit (the
// returned context's deadline). Everything is closed when the test ends.
func upPair(t *testing.T, limit time.Duration) (ctx context.Context, c, a *Peer) {
	t.Helper()
	checkLeaks(t)
	e := testEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	c, a = newPeers(t, e, PeerOptions{Video: true})
	negotiate(ctx, t, c, a, nil, nil)
	for _, p := range []*Peer{c, a} {
		if err := p.WaitFirstMedia(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, c, a
}
