package media

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// reofferer is an end that can start a renegotiation: a caller's
// HoldOffer, an answerer's Reoffer (a remote hold from the gateway).
type reofferer interface {
	endpoint
	Answer(ctx context.Context, offer string) (string, error)
	ApplyAnswer(answer string) error
}

// reoffer makes p's hold or unhold offer, whatever p is.
func reoffer(ctx context.Context, p reofferer, hold bool) (string, error) {
	switch q := p.(type) {
	case *Peer:
		return q.HoldOffer(ctx, hold)
	case *tPeer:
		return q.Reoffer(ctx, hold)
	}
	return "", nil
}

// received is every packet an end has received so far.
func received(p endpoint) uint64 { return p.Stats().PacketsReceived }

// TestTransportHold holds and resumes calls with a transport end, from
// either side (the caller's hold, and the answerer's remote hold): the
// offers are all inactive, media stops both ways while held and flows
// both ways again after the unhold, on the same SSRCs, and the receivers
// count no loss for the pause.
func TestTransportHold(t *testing.T) {
	for _, ec := range engineCombos {
		t.Run(ec.name, func(t *testing.T) {
			checkLeaks(t)
			ce, ae := ec.caller(t), ec.answerer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, a, err := testPair(ctx, t, ce, ae, true)
			if err != nil {
				t.Fatal(err)
			}
			ends := [2]reofferer{c.(reofferer), a.(reofferer)}
			flowing := func(what string) {
				t.Helper()
				from := [2]uint64{received(ends[0]), received(ends[1])}
				if err := waitFor(ctx, func() bool {
					return received(ends[0]) >= from[0]+50 && received(ends[1]) >= from[1]+50
				}); err != nil {
					t.Fatalf("%s: media does not flow both ways: %v", what, err)
				}
			}
			still := func(what string) {
				t.Helper()
				last := [2]uint64{received(ends[0]), received(ends[1])}
				since := time.Now()
				if err := waitFor(ctx, func() bool {
					now := [2]uint64{received(ends[0]), received(ends[1])}
					if now != last {
						last, since = now, time.Now()
					}
					return time.Since(since) >= 300*time.Millisecond
				}); err != nil {
					t.Fatalf("%s: media still flowing: %v", what, err)
				}
			}
			flowing("call up")
			for _, by := range []int{0, 1, 0, 1} {
				off, ans := ends[by], ends[1-by]
				name := [2]string{"caller", "answerer"}[by]
				for _, hold := range []bool{true, false} {
					offer, err := reoffer(ctx, off, hold)
					if err != nil {
						t.Fatalf("%s hold=%v offer: %v", name, hold, err)
					}
					if hold && (strings.Contains(offer, "a=sendrecv") || !strings.Contains(offer, "a=inactive")) {
						t.Fatalf("%s's hold offer is not all inactive:\n%s", name, offer)
					}
					answer, err := ans.Answer(ctx, offer)
					if err != nil {
						t.Fatalf("%s hold=%v answer: %v", name, hold, err)
					}
					if err := off.ApplyAnswer(answer); err != nil {
						t.Fatalf("%s hold=%v apply answer: %v", name, hold, err)
					}
					if hold {
						still(name + " holds")
					} else {
						flowing(name + " resumes")
					}
				}
			}
			for i, e := range ends {
				st := e.Stats()
				if st.Audio.PacketsLost+st.Video.PacketsLost != 0 || !st.IntegrityOK {
					t.Errorf("end %d after holds: lost %d+%d, integrity %v", i, st.Audio.PacketsLost, st.Video.PacketsLost, st.IntegrityOK)
				}
			}
		})
	}
}

// TestTransportOfferShape: the transport's offer has the lean pion
// caller's shape fact by fact (TestOfferLikeSDK holds that one to the
// reference SDK's), with the transport's own candidates, credentials and
// SSRCs, audio only and with video, and its hold offer is all inactive.
func TestTransportOfferShape(t *testing.T) {
	checkLeaks(t)
	pe, te := pionEngine(t), transportEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, video := range []bool{false, true} {
		pc, err := pe.NewCaller(PeerOptions{Video: video})
		if err != nil {
			t.Fatal(err)
		}
		want, err := pc.CreateOffer(ctx)
		_ = pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		tc, err := te.NewCall(PeerOptions{Video: video})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tc.CreateOffer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Sorted: pion writes the extmap lines in map order (each fact
		// carries what must stay in order, such as a codec's position).
		wf, gf := offerFacts(t, want), offerFacts(t, got)
		slices.Sort(wf)
		slices.Sort(gf)
		for i := range max(len(wf), len(gf)) {
			var w, g string
			if i < len(wf) {
				w = wf[i]
			}
			if i < len(gf) {
				g = gf[i]
			}
			if w != g {
				t.Errorf("video %v: fact %d of the transport's offer is %q, the pion caller's %q", video, i, g, w)
			}
		}
		tp := tc.(*tPeer)
		for _, must := range []string{"a=ice-ufrag:" + tp.ufrag, "a=ice-pwd:" + tp.pwd, " typ host", "a=setup:actpass"} {
			if !strings.Contains(got, must) {
				t.Errorf("video %v: offer lacks %q", video, must)
			}
		}
		for _, bad := range []string{"a=end-of-candidates", " 2 udp ", "H264", "a=cryptex"} {
			if strings.Contains(got, bad) {
				t.Errorf("video %v: offer has %q", video, bad)
			}
		}
		hold, err := tc.HoldOffer(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hold, "a=sendrecv") || !strings.Contains(hold, "a=inactive") || !strings.Contains(hold, "a=ice-ufrag:"+tp.ufrag) {
			t.Errorf("video %v: hold offer is not the same call all inactive:\n%s", video, hold)
		}
		_ = tc.Close()
	}
}
