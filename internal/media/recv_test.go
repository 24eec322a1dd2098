package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// stream builds the RTP packets a sender of src emits: packet i carries
// payload (start+i) mod len, sequence number seq0+i.
func stream(t testing.TB, src *Source, ssrc uint32, seq0 uint16, start, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	for i := range n {
		p := rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq0 + uint16(i), Timestamp: uint32(i) * 960, SSRC: ssrc},
			Payload: src.payloads[(start+i)%len(src.payloads)],
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func TestInStreamIntegrity(t *testing.T) {
	audio, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	video, err := DefaultVideo()
	if err != nil {
		t.Fatal(err)
	}
	n := len(audio.payloads)
	type want struct {
		received, lost, dups, reordered uint64
		ok                              bool
	}
	tests := []struct {
		name string
		exp  *Source
		pkts func() [][]byte
		want want
	}{
		{
			name: "clean, two loops, sequence wrap",
			exp:  audio,
			pkts: func() [][]byte { return stream(t, audio, 1, 65500, 0, 2*n+5) },
			want: want{received: uint64(2*n + 5), ok: true},
		},
		{
			name: "starts mid-clip",
			exp:  audio,
			pkts: func() [][]byte { return stream(t, audio, 1, 7, 123, 300) },
			want: want{received: 300, ok: true},
		},
		{
			name: "video",
			exp:  video,
			pkts: func() [][]byte { return stream(t, video, 1, 7, 0, 200) },
			want: want{received: 200, ok: true},
		},
		{
			name: "gaps",
			exp:  audio,
			pkts: func() [][]byte {
				s := stream(t, audio, 1, 100, 0, 50)
				return append(append(s[:10:10], s[13:40]...), s[41:]...)
			},
			want: want{received: 46, lost: 4, ok: true},
		},
		{
			name: "duplicates",
			exp:  audio,
			pkts: func() [][]byte {
				s := stream(t, audio, 1, 100, 0, 20)
				return append(s, s[19], s[5])
			},
			want: want{received: 22, dups: 2, ok: true},
		},
		{
			name: "reordered",
			exp:  audio,
			pkts: func() [][]byte {
				s := stream(t, audio, 1, 100, 0, 20)
				s[5], s[6] = s[6], s[5]
				s[10], s[15] = s[15], s[10]
				return s
			},
			want: want{received: 20, reordered: 6, ok: true}, // 5, then 11..14 and 10 arrive after a higher number
		},
		{
			name: "one payload altered",
			exp:  audio,
			pkts: func() [][]byte {
				s := stream(t, audio, 1, 100, 0, 20)
				s[12] = bytes.Clone(s[12])
				s[12][len(s[12])-1] ^= 1
				return s
			},
			want: want{received: 20, ok: false},
		},
		{
			name: "payloads shifted (gateway swapped packets, sequence kept)",
			exp:  audio,
			pkts: func() [][]byte {
				a := stream(t, audio, 1, 100, 0, 20)
				b := stream(t, audio, 1, 110, 50, 10) // seq 110.. carry payloads 50..
				return append(a[:10], b...)
			},
			want: want{received: 20, ok: false},
		},
		{
			name: "foreign stream",
			exp:  audio,
			pkts: func() [][]byte { return stream(t, video, 1, 100, 0, 20) },
			want: want{received: 20, ok: false},
		},
		{
			name: "new SSRC after unhold resynchronises",
			exp:  audio,
			pkts: func() [][]byte {
				a := stream(t, audio, 1, 100, 0, 20)
				return append(a, stream(t, audio, 2, 9000, 20, 20)...)
			},
			want: want{received: 40, ok: true},
		},
		{
			name: "no expected source: sequence checks only",
			exp:  nil,
			pkts: func() [][]byte {
				s := stream(t, video, 1, 100, 0, 20)
				return append(s[:5:5], s[6:]...)
			},
			want: want{received: 19, lost: 1, ok: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := newInStream(tc.exp, 48000)
			now := time.Unix(1000, 0)
			for _, p := range tc.pkts() {
				now = now.Add(20 * time.Millisecond)
				in.packet(p, now)
			}
			got := want{in.received.Load(), in.lost.Load(), in.dups.Load(), in.reordered.Load(), in.integrityOK()}
			if got != tc.want {
				t.Errorf("stats = %+v, want %+v (mismatches %d)", got, tc.want, in.mismatches.Load())
			}
		})
	}
}

func TestParseRTP(t *testing.T) {
	p := rtp.Packet{
		Header: rtp.Header{
			Version: 2, Padding: true, PaddingSize: 3, Extension: true, ExtensionProfile: 0xBEDE,
			SequenceNumber: 7, Timestamp: 9, SSRC: 11, CSRC: []uint32{1, 2},
		},
		Payload: []byte("payload"),
	}
	if err := p.SetExtension(1, []byte{0xAA, 0xBB}); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := parseRTP(b)
	if !ok || v.seq != 7 || v.ts != 9 || v.ssrc != 11 || string(v.payload) != "payload" {
		t.Errorf("parseRTP = %+v %v", v, ok)
	}
	for _, bad := range [][]byte{nil, b[:11], {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, b[:14]} {
		if _, ok := parseRTP(bad); ok {
			t.Errorf("parseRTP(%x) accepted", bad)
		}
	}
}
