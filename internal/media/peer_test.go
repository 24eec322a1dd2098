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
