package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	assets "github.com/loadgen/loadgen/media"
)

// oggFile builds an Ogg bitstream with one packet per page.
func oggFile(pkts ...[]byte) []byte {
	var out []byte
	for i, p := range pkts {
		var lacing []byte
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		h := make([]byte, 27)
		copy(h, "OggS")
		if i == 0 {
			h[5] = 2 // beginning of stream
		}
		binary.LittleEndian.PutUint32(h[14:], 0x1234) // serial
		binary.LittleEndian.PutUint32(h[18:], uint32(i))
		h[26] = byte(len(lacing))
		page := append(append(h, lacing...), p...)
		binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
		out = append(out, page...)
	}
	return out
}

func opusHead(channels byte) []byte {
	h := []byte("OpusHead\x01\x00\x38\x01\x80\xbb\x00\x00\x00\x00\x00")
	h[9] = channels
	return h
}

var opusTags = []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")

func TestDefaultSources(t *testing.T) {
	a, err := DefaultAudio()
	if err != nil {
		t.Fatal(err)
	}
	v, err := DefaultVideo()
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != kindAudio || a.MimeType() != "audio/opus" || a.FrameDuration() != 20*time.Millisecond ||
		a.Duration() != 4020*time.Millisecond || a.Packets() != a.Frames() || a.ClockRate() != 48000 {
		t.Errorf("default audio = %v %s %v %v %d/%d", a.Kind(), a.MimeType(), a.FrameDuration(), a.Duration(), a.Packets(), a.Frames())
	}
	if v.Kind() != kindVideo || v.MimeType() != "video/VP8" || v.Frames() != 60 ||
		v.FrameDuration() != time.Second/15 || v.Packets() < v.Frames() || v.tsStep != 6000 {
		t.Errorf("default video = %v %s %d frames %v %d packets", v.Kind(), v.MimeType(), v.Frames(), v.FrameDuration(), v.Packets())
	}
	for i, p := range v.payloads {
		if len(p) > MaxRTPPayload {
			t.Fatalf("video payload %d is %d bytes", i, len(p))
		}
	}
	if total := len(assets.Audio()) + len(assets.Video()); total > 2<<20 {
		t.Errorf("embedded media is %d bytes, want well under 2 MB", total)
	}
	if _, err := fs.Stat(assets.Files(), assets.AudioFile); err != nil {
		t.Errorf("Files(): %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	audio, video := assets.Audio(), assets.Video()
	frame20ms := []byte{0xfc, 1, 2, 3} // CELT FB 20 ms, one frame
	frame60ms := []byte{0x18, 1, 2, 3} // SILK NB 60 ms
	vp9 := bytes.Clone(video)
	copy(vp9[8:], "VP90")
	badCRC := bytes.Clone(audio)
	badCRC[len(badCRC)-1] ^= 0xff
	vorbis := oggFile([]byte("\x01vorbis\x00\x00\x00\x00\x01"), []byte("\x03vorbis"))

	tests := []struct {
		name    string
		path    string
		wantErr string // substring; "" = success
		kind    string
	}{
		{"default audio", write("a.ogg", audio), "", "audio"},
		{"default video", write("v.ivf", video), "", "video"},
		{"opus extension", write("a.opus", audio), "", "audio"},
		{"missing file", filepath.Join(dir, "nope.ogg"), "no such file", ""},
		{"unknown extension", write("a.mp3", audio), `unknown extension ".mp3"`, ""},
		{"empty ogg", write("empty.ogg", nil), "empty file", ""},
		{"ogg truncated in a page header", write("t1.ogg", audio[:10]), "truncated header", ""},
		{"ogg truncated in a page body", write("t2.ogg", audio[:len(audio)-7]), "truncated body", ""},
		{"ogg with bad CRC", write("crc.ogg", badCRC), "CRC mismatch", ""},
		{"not an ogg", write("x.ogg", video), "no OggS capture pattern", ""},
		{"vorbis in ogg", write("vorbis.ogg", vorbis), "codec is Vorbis, want Opus", ""},
		{"opus with 3 channels", write("c3.ogg", oggFile(opusHead(3), opusTags, frame20ms)), "3 channels", ""},
		{"opus without tags", write("nt.ogg", oggFile(opusHead(1), frame20ms)), "missing OpusTags", ""},
		{"opus with no audio", write("na.ogg", oggFile(opusHead(1), opusTags)), "no audio packets", ""},
		{"opus with 60 ms frames", write("60.ogg", oggFile(opusHead(1), opusTags, frame60ms)), "lasts 60ms", ""},
		{"synthetic opus", write("ok.ogg", oggFile(opusHead(2), opusTags, frame20ms, frame20ms)), "", "audio"},
		{"ivf truncated header", write("t.ivf", video[:20]), "no DKIF signature", ""},
		{"ivf truncated frame", write("t2.ivf", video[:len(video)-100]), "truncated (", ""},
		{"ivf truncated frame header", write("t3.ivf", video[:32+6]), "truncated frame header", ""},
		{"ivf without frames", write("nf.ivf", video[:32]), "no frames", ""},
		{"vp9 in ivf", write("vp9.ivf", vp9), "codec is VP9, want VP8", ""},
		{"ogg given as ivf", write("o.ivf", audio), "no DKIF signature", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadFile(tc.path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadFile(%s) = %v, want success", tc.path, err)
				}
				if s.Kind().String() != tc.kind || s.Packets() == 0 {
					t.Errorf("LoadFile(%s) = %v with %d packets, want %s", tc.path, s.Kind(), s.Packets(), tc.kind)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadFile(%s) = %v, want error containing %q", tc.path, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
			if tc.name != "missing file" && !errors.Is(err, ErrBadMedia) {
				t.Errorf("error %q does not wrap ErrBadMedia", err)
			}
		})
	}
}

func TestPayloadCycle(t *testing.T) {
	b := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name string
		in   [][]byte
		want int
	}{
		{"empty", nil, 0},
		{"one", [][]byte{b("a")}, 1},
		{"all distinct", [][]byte{b("a"), b("b"), b("c")}, 3},
		{"all equal", [][]byte{b("a"), b("a"), b("a"), b("a")}, 1},
		{"period 2", [][]byte{b("a"), b("b"), b("a"), b("b")}, 2},
		{"border but no period", [][]byte{b("a"), b("b"), b("a")}, 3},
	}
	for _, tc := range tests {
		if got := payloadCycle(tc.in); got != tc.want {
			t.Errorf("%s: payloadCycle = %d, want %d", tc.name, got, tc.want)
		}
	}
}
