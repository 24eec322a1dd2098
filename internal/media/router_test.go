package media

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/transport/v5/packetio"
)

const rtcpBufferType = packetio.RTCPBufferPacket

// TestRTCPSink writes compound RTCP packets into the sinks of the streams
// pion would deliver them to and checks that the sender report reaches the
// receiving stream and the report block the sending track, once each,
// without allocating.
func TestRTCPSink(t *testing.T) {
	const (
		remote = 0x1111 // the remote's sending SSRC (we receive it)
		local  = 0x2222 // our sending SSRC (the remote reports on it)
		other  = 0x3333 // an SSRC nobody here knows
	)
	now := time.Now()
	sentAt := now.Add(-50 * time.Millisecond) // our SR that the block echoes
	r := newRTCPRouter()
	in := newInStream(nil, 48000)
	tr := &outTrack{}
	r.addReceiver(in, remote)
	r.addSender(tr, local)
	block := rtcp.ReceptionReport{SSRC: local, LastSenderReport: ntpMiddle(sentAt), Delay: 65536 / 100} // 10 ms
	tests := []struct {
		name    string
		pkts    []rtcp.Packet
		wantLSR bool
		wantRTT bool
	}{
		{"SR with a block about us", []rtcp.Packet{&rtcp.SenderReport{SSRC: remote, NTPTime: ntpTime(now), Reports: []rtcp.ReceptionReport{block}}}, true, true},
		{"RR from a receive-only remote", []rtcp.Packet{&rtcp.ReceiverReport{SSRC: other, Reports: []rtcp.ReceptionReport{block}}}, false, true},
		{"SR and SDES, no block", []rtcp.Packet{&rtcp.SenderReport{SSRC: remote, NTPTime: ntpTime(now)}, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: remote, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "x"}}}}}}, true, false},
		{"unknown SSRCs only", []rtcp.Packet{&rtcp.SenderReport{SSRC: other, NTPTime: ntpTime(now), Reports: []rtcp.ReceptionReport{{SSRC: other, LastSenderReport: 1}}}}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in.lsr.Store(0)
			tr.rttNanos.Store(0)
			b, err := rtcp.Marshal(tc.pkts)
			if err != nil {
				t.Fatal(err)
			}
			// pion writes the compound to the sink of every SSRC it names.
			for _, ssrc := range []uint32{remote, local, other} {
				sink := (&pionBuffers{r: r}).factory(rtcpBufferType, ssrc)
				if n, err := sink.Write(b); n != len(b) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				if err := sink.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if got := in.lsr.Load() != 0; got != tc.wantLSR {
				t.Errorf("LSR recorded: %v, want %v", got, tc.wantLSR)
			} else if got && in.lsr.Load() != ntpMiddle(now) {
				t.Errorf("LSR %x, want %x", in.lsr.Load(), ntpMiddle(now))
			}
			rtt := time.Duration(tr.rttNanos.Load())
			if (rtt != 0) != tc.wantRTT {
				t.Errorf("RTT %v, want one: %v", rtt, tc.wantRTT)
			}
			if tc.wantRTT && (rtt < 35*time.Millisecond || rtt > 45*time.Millisecond) {
				t.Errorf("RTT %v, want about 40ms", rtt)
			}
		})
	}
	b, _ := rtcp.Marshal(tests[0].pkts)
	sink := (&pionBuffers{r: r}).factory(rtcpBufferType, local)
	if allocs := testing.AllocsPerRun(100, func() { _, _ = sink.Write(b) }); allocs != 0 {
		t.Errorf("sink Write allocates %v times", allocs)
	}
	r.removeReceiver(in, remote)
	r.removeSender(tr, local)
	if len(r.receivers) != 0 || len(r.senders) != 0 {
		t.Errorf("router not empty after removals: %v %v", r.receivers, r.senders)
	}
}

func TestMediaSSRCs(t *testing.T) {
	sdk, err := os.ReadFile("testdata/sdk-offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sdp  string
		want map[uint32]int
	}{
		{"reference SDK offer (video with RTX)", string(sdk), map[uint32]int{693586378: 0, 987282285: 1}},
		{"no ssrc lines", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", map[uint32]int{}},
		{"application section ignored", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ssrc:5 cname:x\r\nm=audio 9 RTP/AVP 0\na=ssrc:7 cname:y\n", map[uint32]int{7: 0}},
		{"bad number", "m=audio 9 RTP/AVP 0\r\na=ssrc:x cname:y\r\na=ssrc:9 cname:y\r\n", map[uint32]int{9: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mediaSSRCs(tc.sdp); !maps.Equal(got, tc.want) {
				t.Errorf("mediaSSRCs = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRTPSink checks the RTP routing: a declared SSRC's packets are
// accounted as they are written, the first is kept for pion's peek, and an
// SSRC two peers expect falls back to a plain buffer.
func TestRTPSink(t *testing.T) {
	audio, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	newPeer := func() *Peer {
		p := &Peer{firstMedia: make(chan struct{})}
		p.inst = newInstants(time.Now)
		p.in[0] = newInStream(audio, 48000)
		p.in[1] = newInStream(nil, 90000)
		return p
	}
	r := newRTCPRouter()
	p, q := newPeer(), newPeer()
	p.in[0].router = r
	if got := r.expectRTP(p, map[uint32]int{1: 0, 2: 0}); len(got) != 2 {
		t.Fatalf("expectRTP added %v", got)
	}
	if got := r.expectRTP(q, map[uint32]int{2: 0}); len(got) != 0 {
		t.Fatalf("expectRTP of a taken SSRC added %v", got)
	}
	if _, ok := (&pionBuffers{r: r}).factory(packetio.RTPBufferPacket, 2).(*rtpBuffer); !ok {
		t.Error("an SSRC two peers expect got a sink")
	}
	if _, ok := (&pionBuffers{r: r}).factory(packetio.RTPBufferPacket, 3).(*rtpBuffer); !ok {
		t.Error("an undeclared SSRC got a sink")
	}
	if r.servesRTP(p, 1) {
		t.Error("servesRTP before the stream opened")
	}
	sink, ok := (&pionBuffers{r: r}).factory(packetio.RTPBufferPacket, 1).(*rtpSink)
	if !ok {
		t.Fatal("a declared SSRC got no sink")
	}
	if !r.servesRTP(p, 1) || r.servesRTP(q, 1) {
		t.Error("servesRTP wrong once the sink exists")
	}
	pkts := stream(t, audio, 1, 100, 0, 20)
	for _, b := range pkts {
		if n, err := sink.Write(b); n != len(b) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := p.in[0].received.Load(); got != uint64(len(pkts)) {
		t.Errorf("received %d, want %d", got, len(pkts))
	}
	select {
	case <-p.firstMedia:
	default:
		t.Error("first media not marked")
	}
	buf := make([]byte, 1500)
	if n, err := sink.Read(buf); err != nil || !bytes.Equal(buf[:n], pkts[0]) {
		t.Errorf("first Read = %d, %v, want the first packet", n, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sink.Read(buf)
		done <- err
	}()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("Read after Close: %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after Close")
	}
	if st := p.in[0]; !st.integrityOK() || st.lost.Load() != 0 {
		t.Errorf("integrity %v, lost %d", st.integrityOK(), st.lost.Load())
	}
	r.forgetRTP(p, []uint32{1, 2})
	r.forgetRTP(q, []uint32{2})
	r.removeReceiver(p.in[0], 1)
	if len(r.rtp) != 0 || len(r.receivers) != 0 {
		t.Errorf("routes left: %v %v", r.rtp, r.receivers)
	}
}
