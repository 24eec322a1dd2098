package media

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestPictureLossIndication: a PLI from the far end about the caller's
// video makes its next frame the clip's last keyframe at or before where it
// stood, so the far end's decoder can start again; audio and other SSRCs
// are not affected.
func TestPictureLossIndication(t *testing.T) {
	ctx, c, a := upPair(t, 20*time.Second)
	src := c.video.src
	if len(src.keyframes) == 0 || src.keyframes[0] != 0 {
		t.Fatalf("video clip keyframes %v: want the first frame among them", src.keyframes)
	}
	// Let the clip run past its first frames, then ask for a keyframe.
	waitReceived(ctx, t, a, 1, 30)
	b := c.video.bind.Load()
	if b == nil {
		t.Fatal("caller video not bound")
	}
	pli := &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: b.ssrc}
	if err := a.pc.WriteRTCP([]rtcp.Packet{pli}); err != nil {
		t.Fatal(err)
	}
	for c.video.plis.Load() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the caller never answered the PLI: %v", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	j := c.video.pliJumps.Load()
	from, to := int32(j>>32), int32(j&0xffffffff)
	if !slices.Contains(src.keyframes, to) || to > from {
		t.Errorf("PLI answered by going from frame %d to %d; want the last keyframe at or before it (keyframes %v)", from, to, src.keyframes)
	}
	if n := c.audio.plis.Load(); n != 0 {
		t.Errorf("the audio track answered %d PLIs about the video SSRC", n)
	}
	// Media goes on after the jump.
	before := a.in[1].received.Load()
	waitReceived(ctx, t, a, 1, before+10)
}
