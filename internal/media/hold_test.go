package media

import (
	"context"
	"strings"
	"testing"
	"time"
)

// waitGrowth waits until both peers have received more packets than
// before (per kind when video), or the context ends.
func waitReceived(ctx context.Context, t *testing.T, p *Peer, kind int, atLeast uint64) {
	t.Helper()
	for {
		if got := p.in[kind].received.Load(); got >= atLeast {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kind %d: received %d packets, want >= %d: %v", kind, p.in[kind].received.Load(), atLeast, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestHoldUnhold(t *testing.T) {
	checkLeaks(t)
	e := testEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, a, err := connectPair(ctx, e, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer a.Close()
	for _, p := range []*Peer{c, a} {
		if err := p.WaitFirstMedia(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// side: who initiates the renegotiation.
	// "keep SSRC": the offerer unholds with its original sender, as the
	// reference SDK does; the answerer must then restart receiving the
	// same SSRC.
	for round, initiator := range []string{"caller", "answerer", "caller keep SSRC", "answerer keep SSRC"} {
		off, ans := c, a
		if strings.HasPrefix(initiator, "answerer") {
			off, ans = a, c
		}
		// Hold.
		offer, err := off.HoldOffer(ctx, true)
		if err != nil {
			t.Fatalf("round %d %s hold offer: %v", round, initiator, err)
		}
		if strings.Contains(offer, "a=sendrecv") || !strings.Contains(offer, "a=inactive") {
			t.Fatalf("hold offer is not all inactive:\n%s", offer)
		}
		answer, err := ans.Answer(ctx, offer)
		if err != nil {
			t.Fatalf("round %d hold answer: %v", round, err)
		}
		if err := off.ApplyAnswer(answer); err != nil {
			t.Fatalf("round %d apply hold answer: %v", round, err)
		}
		time.Sleep(200 * time.Millisecond)
		before := [2][2]uint64{}
		for i, p := range []*Peer{c, a} {
			for k := range 2 {
				before[i][k] = p.in[k].received.Load()
			}
		}
		time.Sleep(300 * time.Millisecond)
		for i, p := range []*Peer{c, a} {
			for k := range 2 {
				if got := p.in[k].received.Load(); got != before[i][k] {
					t.Errorf("round %d: peer %d kind %d received %d packets while on hold", round, i, k, got-before[i][k])
				}
			}
		}
		// Unhold.
		if strings.HasSuffix(initiator, "keep SSRC") {
			off.negMu.Lock()
			clear(off.inactive)
			off.negMu.Unlock()
		}
		offer, err = off.HoldOffer(ctx, false)
		if err != nil {
			t.Fatalf("round %d unhold offer: %v", round, err)
		}
		answer, err = ans.Answer(ctx, offer)
		if err != nil {
			t.Fatalf("round %d unhold answer: %v", round, err)
		}
		if err := off.ApplyAnswer(answer); err != nil {
			t.Fatalf("round %d apply unhold answer: %v", round, err)
		}
		for i, p := range []*Peer{c, a} {
			for k := range 2 {
				waitReceived(ctx, t, p, k, before[i][k]+10)
			}
		}
	}
	for i, p := range []*Peer{c, a} {
		st := p.Stats()
		t.Logf("peer %d: %+v", i, st)
		if !st.IntegrityOK || st.PacketsLost != 0 || st.Duplicates != 0 {
			t.Errorf("peer %d after hold/unhold: %+v", i, st)
		}
	}
}
