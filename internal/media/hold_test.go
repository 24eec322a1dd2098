package media

import (
	"context"
	"slices"
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
	ctx, c, a := upPair(t, 20*time.Second)
	// Every sender keeps its SSRC through hold and unhold, in the offer
	// and in the answer to a remote unhold, as the reference SDK does.
	ssrcs := func() [2][2]uint32 {
		var out [2][2]uint32
		for i, p := range []*Peer{c, a} {
			for k, tr := range []*outTrack{p.audio, p.video} {
				if b := tr.bind.Load(); b != nil {
					out[i][k] = b.ssrc
				}
			}
		}
		return out
	}
	start := ssrcs()
	// initiator: who initiates the renegotiation; twice each.
	for round, initiator := range []string{"caller", "answerer", "caller", "answerer"} {
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
		// On hold, media stops both ways: wait (bounded) until no
		// counter moves; waitStill fails the test if media keeps flowing.
		waitStill(ctx, t, "round "+itoa(round)+" "+initiator+" on hold", c, a)
		before := [2][2]uint64{}
		for i, p := range []*Peer{c, a} {
			for k := range 2 {
				before[i][k] = p.in[k].received.Load()
			}
		}
		// Unhold.
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
		if now := ssrcs(); now != start {
			t.Errorf("round %d (%s): sending SSRCs %v after unhold, want those of the start %v", round, initiator, now, start)
		}
		for i, p := range []*Peer{c, a} {
			for k := range 2 {
				if got, want := p.in[k].rSSRC.Load(), start[1-i][k]; got != want {
					t.Errorf("round %d: peer %d kind %d receives SSRC %d, want %d", round, i, k, got, want)
				}
			}
		}
		for _, sd := range []string{offer, answer} {
			for ssrc := range mediaSSRCs(sd) {
				if !slices.Contains(start[0][:], ssrc) && !slices.Contains(start[1][:], ssrc) {
					t.Errorf("round %d: unhold SDP announces a new SSRC %d", round, ssrc)
				}
			}
		}
	}
	checkAfterHolds(t, c, a)
}

// waitStill waits until none of the peers' received counters moves for
// 250 ms (every kind), or fails the test after 5 s or when the context
// ends first.
func waitStill(ctx context.Context, t *testing.T, what string, peers ...*Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	count := func() (n uint64) {
		for _, p := range peers {
			n += p.in[0].received.Load() + p.in[1].received.Load()
		}
		return n
	}
	last, since := count(), time.Now()
	for time.Since(since) < 250*time.Millisecond {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: media still flowing: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
}

// TestMixedHold holds the call from both sides, then resumes it one side
// at a time: while one side still holds, its answer to the other's unhold
// keeps the hold (recvonly, RFC 3264 §8.4), so media flows only towards the
// side that still holds; once both have unheld media flows both ways.
func TestMixedHold(t *testing.T) {
	ctx, c, a := upPair(t, 30*time.Second)
	// renegotiate has off offer (hold or unhold) and ans answer; it
	// returns the answer.
	renegotiate := func(t *testing.T, off, ans *Peer, hold bool) string {
		t.Helper()
		offer, err := off.HoldOffer(ctx, hold)
		if err != nil {
			t.Fatalf("hold=%v offer: %v", hold, err)
		}
		answer, err := ans.Answer(ctx, offer)
		if err != nil {
			t.Fatalf("hold=%v answer: %v", hold, err)
		}
		if err := off.ApplyAnswer(answer); err != nil {
			t.Fatalf("hold=%v apply answer: %v", hold, err)
		}
		return answer
	}
	tests := []struct {
		name          string
		first, second *Peer // who unholds first, second
	}{
		{"caller unholds first", c, a},
		{"answerer unholds first", a, c},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			renegotiate(t, c, a, true)
			renegotiate(t, a, c, true)
			waitStill(ctx, t, "both hold", c, a)

			answer := renegotiate(t, tc.first, tc.second, false)
			dirs, err := directions(answer)
			if err != nil {
				t.Fatal(err)
			}
			for mid, d := range dirs {
				if d != "recvonly" {
					t.Errorf("answer of the side still holding: mid %s %s, want recvonly", mid, d)
				}
			}
			// The side that unheld sends; the one still holding does not.
			waitStill(ctx, t, "towards the side that unheld", tc.first)
			before := tc.second.in[0].received.Load()
			waitReceived(ctx, t, tc.second, 0, before+10)

			renegotiate(t, tc.second, tc.first, false)
			for _, p := range []*Peer{c, a} {
				for k := range 2 {
					waitReceived(ctx, t, p, k, p.in[k].received.Load()+10)
				}
			}
		})
	}
	checkAfterHolds(t, c, a)
}

func TestHoldAnswerDirections(t *testing.T) {
	tests := []struct{ offer, want string }{
		{"sendrecv", "recvonly"},
		{"sendonly", "recvonly"},
		{"recvonly", "inactive"},
		{"inactive", "inactive"},
	}
	const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendrecv\r\n"
	for _, tc := range tests {
		got := holdAnswerDirections(map[string]string{"0": tc.offer})
		if got["0"] != tc.want {
			t.Errorf("offer %s: hold answer %s, want %s", tc.offer, got["0"], tc.want)
		}
		out, err := directions(setDirectionsByMid(sdp, got))
		if err != nil {
			t.Fatal(err)
		}
		if out["0"] != tc.want || out["1"] != "sendrecv" {
			t.Errorf("offer %s: rewritten directions %v", tc.offer, out)
		}
	}
}

// checkAfterHolds checks both peers' receive figures after holds: nothing
// lost by sequence number, no duplicate, the expected stream, and no
// silence on hold counted as missing by time (the only audio missing by
// time allowed is what the sender's loaded pacer skipped: late writes).
func checkAfterHolds(t *testing.T, c, a *Peer) {
	t.Helper()
	peers := []*Peer{c, a}
	for i, p := range peers {
		st := p.Stats()
		if !st.IntegrityOK || st.Audio.PacketsLost+st.Video.PacketsLost != 0 || st.Duplicates != 0 {
			t.Errorf("peer %d after holds: %+v", i, st)
		}
		late := peers[1-i].Stats().LateWrites
		if m := st.Audio.StallMissing + st.Audio.TailMissing; m > late {
			t.Errorf("peer %d: %d audio packets missing by time after holds (sender's late writes %d): hold silence counted? %+v", i, m, late, st.Audio)
		}
	}
}
