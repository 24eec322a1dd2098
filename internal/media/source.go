package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	assets "github.com/loadgen/loadgen/media"
)

// ErrBadMedia is wrapped by every error a loader returns for a file that is
// truncated, malformed or in a codec loadgen does not send.
var ErrBadMedia = errors.New("unusable media file")

// Limits applied to loaded media.
const (
	// AudioFrameDuration is the only Opus packet duration accepted: the
	// pacer's audio tick.
	AudioFrameDuration = 20 * time.Millisecond
	// MaxRTPPayload is the largest RTP payload built from a video frame.
	MaxRTPPayload = 1200
	// MaxMediaBytes bounds a media file's size (64 MiB).
	MaxMediaBytes = 64 << 20
	// minVideoFrameDuration and maxVideoFrameDuration bound the video frame
	// period derived from the IVF time base (100 fps .. 1 fps).
	minVideoFrameDuration = 10 * time.Millisecond
	maxVideoFrameDuration = time.Second
)

// frame is one pacer tick's worth of a Source: packets[first:first+n].
type frame struct {
	first, n int32
}

// Source is a media clip demuxed once into pre-built RTP payloads (Opus
// packets, or VP8 frames split into RTP payloads with their payload
// descriptors). It is immutable after loading and shared by every call.
type Source struct {
	kind      webrtc.RTPCodecType
	mimeType  string
	clockRate uint32
	channels  uint16
	period    time.Duration // one frame, i.e. one pacer tick
	tsStep    uint32        // RTP timestamp increment per frame
	frames    []frame
	payloads  [][]byte
	frameOf   []int32 // packet index -> frame index
	lastInFr  []bool  // packet index -> last packet of its frame (RTP marker for video)
	bytes     int
	cycle     int      // smallest rotation period of the payload sequence
	raw       [][]byte // whole frames, for the PionDefaults sample writer
	keyframes []int32  // video: indexes of the frames that are keyframes, ascending
}

// Kind is audio or video.
func (s *Source) Kind() webrtc.RTPCodecType { return s.kind }

// MimeType is the codec: webrtc.MimeTypeOpus, MimeTypePCMU, MimeTypePCMA,
// MimeTypeG722 or MimeTypeVP8.
func (s *Source) MimeType() string { return s.mimeType }

// ClockRate is the RTP clock rate (48000 for Opus, 8000 for G.711 and
// G.722, 90000 for VP8).
func (s *Source) ClockRate() uint32 { return s.clockRate }

// FrameDuration is the time one frame lasts: the pacer tick for this Source.
func (s *Source) FrameDuration() time.Duration { return s.period }

// Frames is the number of frames in one loop of the clip.
func (s *Source) Frames() int { return len(s.frames) }

// Packets is the number of RTP packets in one loop of the clip.
func (s *Source) Packets() int { return len(s.payloads) }

// Duration is the length of one loop of the clip.
func (s *Source) Duration() time.Duration { return time.Duration(len(s.frames)) * s.period }

// PayloadBytes is the total RTP payload size of one loop.
func (s *Source) PayloadBytes() int { return s.bytes }

// codecCapability is the capability a local track of this Source binds with.
func (s *Source) codecCapability() webrtc.RTPCodecCapability {
	c := webrtc.RTPCodecCapability{MimeType: s.mimeType, ClockRate: s.clockRate, Channels: s.channels}
	if s.mimeType == webrtc.MimeTypeOpus {
		c.SDPFmtpLine = "minptime=10;useinbandfec=1"
	}
	return c
}

// DefaultAudio decodes the embedded default Opus clip.
func DefaultAudio() (*Source, error) {
	s, err := LoadOgg(bytes.NewReader(assets.Audio()))
	if err != nil {
		return nil, fmt.Errorf("media: default audio: %w", err)
	}
	return s, nil
}

// DefaultVideo decodes the embedded default VP8 clip.
func DefaultVideo() (*Source, error) {
	s, err := LoadIVF(bytes.NewReader(assets.Video()))
	if err != nil {
		return nil, fmt.Errorf("media: default video: %w", err)
	}
	return s, nil
}

// DefaultPCMU decodes the embedded G.711 mu-law clip.
func DefaultPCMU() (*Source, error) { return loadRaw8k(assets.PCMU(), webrtc.MimeTypePCMU) }

// DefaultPCMA decodes the embedded G.711 A-law clip.
func DefaultPCMA() (*Source, error) { return loadRaw8k(assets.PCMA(), webrtc.MimeTypePCMA) }

// DefaultG722 decodes the embedded G.722 clip.
func DefaultG722() (*Source, error) { return loadRaw8k(assets.G722(), webrtc.MimeTypeG722) }

// raw8kFrame is one 20 ms packet of a raw G.711 or G.722 clip: 160 bytes
// and 160 RTP clock ticks (G.722's RTP clock is 8000 Hz, RFC 3551 §4.5.2).
const raw8kFrame = 160

// loadRaw8k splits raw G.711 or G.722 payload bytes (8000 bytes a second)
// into 20 ms RTP payloads. A partial last frame is dropped.
func loadRaw8k(data []byte, mime string) (*Source, error) {
	if len(data) < raw8kFrame {
		return nil, fmt.Errorf("media: default %s clip: shorter than one frame: %w", mime, ErrBadMedia)
	}
	s := &Source{
		kind: webrtc.RTPCodecTypeAudio, mimeType: mime,
		clockRate: 8000, period: AudioFrameDuration, tsStep: raw8kFrame,
	}
	for off := 0; off+raw8kFrame <= len(data); off += raw8kFrame {
		p := data[off : off+raw8kFrame]
		s.addFrame([][]byte{p})
		s.raw = append(s.raw, p)
	}
	s.cycle = payloadCycle(s.payloads)
	return s, nil
}

// codecName is the codec's name as the E-model tables spell it: "opus",
// "PCMU", "PCMA", "G722", "VP8".
func (s *Source) codecName() string {
	if s.mimeType == webrtc.MimeTypeOpus {
		return "opus"
	}
	_, name, _ := strings.Cut(s.mimeType, "/")
	return name
}

// LoadFile reads and demuxes a media file chosen by its extension: .ogg or
// .opus (Opus in Ogg) and .ivf (VP8 in IVF). Errors name the file.
func LoadFile(path string) (_ *Source, err error) {
	ext := strings.ToLower(filepath.Ext(path))
	var load func(io.Reader) (*Source, error)
	switch ext {
	case ".ogg", ".opus", ".oga":
		load = LoadOgg
	case ".ivf":
		load = LoadIVF
	default:
		return nil, fmt.Errorf("media: %s: unknown extension %q (want .ogg/.opus for Opus audio or .ivf for VP8 video): %w",
			path, ext, ErrBadMedia)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("media: %w", cerr)
		}
	}()
	s, err := load(f)
	if err != nil {
		return nil, fmt.Errorf("media: %s: %w", path, err)
	}
	return s, nil
}

// readAll reads at most MaxMediaBytes.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxMediaBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMediaBytes {
		return nil, fmt.Errorf("larger than %d bytes: %w", MaxMediaBytes, ErrBadMedia)
	}
	return b, nil
}

// LoadOgg demuxes an Ogg Opus stream. Every Opus packet must last
// AudioFrameDuration (20 ms); the stream must be mono or stereo.
func LoadOgg(r io.Reader) (*Source, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("ogg: %w", err)
	}
	pkts, err := oggPackets(data)
	if err != nil {
		return nil, fmt.Errorf("ogg: %w", err)
	}
	if len(pkts) == 0 {
		return nil, fmt.Errorf("ogg: empty file: %w", ErrBadMedia)
	}
	audio, err := opusAudioPackets(pkts)
	if err != nil {
		return nil, err
	}
	s := &Source{
		kind: webrtc.RTPCodecTypeAudio, mimeType: webrtc.MimeTypeOpus,
		clockRate: 48000, channels: 2, period: AudioFrameDuration, tsStep: 960,
	}
	for i, p := range audio {
		if len(p) == 0 {
			return nil, fmt.Errorf("ogg: opus packet %d is empty: %w", i, ErrBadMedia)
		}
		d, err := opusPacketDuration(p)
		if err != nil {
			return nil, fmt.Errorf("ogg: opus packet %d: %w", i, err)
		}
		if d != AudioFrameDuration {
			return nil, fmt.Errorf("ogg: opus packet %d lasts %v, only %v packets are supported (ffmpeg: -frame_duration 20): %w",
				i, d, AudioFrameDuration, ErrBadMedia)
		}
		s.addFrame([][]byte{p})
		s.raw = append(s.raw, p)
	}
	s.cycle = payloadCycle(s.payloads)
	return s, nil
}

// opusAudioPackets checks an Ogg stream's Opus headers (OpusHead, mono or
// stereo, OpusTags) and returns the audio packets after them.
func opusAudioPackets(pkts [][]byte) ([][]byte, error) {
	head := pkts[0]
	if len(head) < 19 || string(head[:8]) != "OpusHead" {
		return nil, fmt.Errorf("ogg: codec is %s, want Opus (no OpusHead): %w", oggCodec(head), ErrBadMedia)
	}
	channels := head[9]
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("ogg: opus with %d channels, want 1 or 2: %w", channels, ErrBadMedia)
	}
	if len(pkts) < 2 || len(pkts[1]) < 8 || string(pkts[1][:8]) != "OpusTags" {
		return nil, fmt.Errorf("ogg: missing OpusTags header: %w", ErrBadMedia)
	}
	audio := pkts[2:]
	if len(audio) == 0 {
		return nil, fmt.Errorf("ogg: no audio packets: %w", ErrBadMedia)
	}
	return audio, nil
}

// oggCodec names the codec of a non-Opus Ogg stream from its first packet.
func oggCodec(head []byte) string {
	switch {
	case len(head) >= 7 && string(head[1:7]) == "vorbis":
		return "Vorbis"
	case len(head) >= 5 && string(head[1:5]) == "FLAC":
		return "FLAC"
	case len(head) >= 8 && string(head[:8]) == "Speex   ":
		return "Speex"
	}
	return "unknown"
}

// opusPacketDuration decodes an Opus packet's TOC byte (RFC 6716 §3.1).
func opusPacketDuration(p []byte) (time.Duration, error) {
	toc := p[0]
	cfg := toc >> 3
	var frame time.Duration
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = [4]time.Duration{10, 20, 40, 60}[cfg&3] * time.Millisecond
	case cfg < 16: // Hybrid: 10, 20 ms
		frame = [2]time.Duration{10, 20}[cfg&1] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = [4]time.Duration{2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}[cfg&3]
	}
	var n int
	switch toc & 3 {
	case 0:
		n = 1
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return 0, fmt.Errorf("truncated code-3 packet: %w", ErrBadMedia)
		}
		n = int(p[1] & 0x3f)
		if n == 0 {
			return 0, fmt.Errorf("code-3 packet with no frames: %w", ErrBadMedia)
		}
	}
	return time.Duration(n) * frame, nil
}

// oggPackets splits an Ogg bitstream into its packets, checking page
// structure and CRCs. Only the first logical stream is read.
func oggPackets(data []byte) ([][]byte, error) {
	const headerLen = 27
	var (
		pkts    [][]byte
		partial []byte
		serial  uint32
		page    int
	)
	for off := 0; off < len(data); page++ {
		if len(data)-off < headerLen {
			return nil, fmt.Errorf("page %d: truncated header (%d bytes left): %w", page, len(data)-off, ErrBadMedia)
		}
		h := data[off : off+headerLen]
		if string(h[:4]) != "OggS" {
			return nil, fmt.Errorf("page %d at byte %d: no OggS capture pattern (not an Ogg file?): %w", page, off, ErrBadMedia)
		}
		nseg := int(h[26])
		if len(data)-off < headerLen+nseg {
			return nil, fmt.Errorf("page %d: truncated segment table: %w", page, ErrBadMedia)
		}
		lacing := data[off+headerLen : off+headerLen+nseg]
		size := 0
		for _, l := range lacing {
			size += int(l)
		}
		end := off + headerLen + nseg + size
		if end > len(data) {
			return nil, fmt.Errorf("page %d: truncated body (%d of %d bytes): %w", page, len(data)-off-headerLen-nseg, size, ErrBadMedia)
		}
		want := uint32(h[22]) | uint32(h[23])<<8 | uint32(h[24])<<16 | uint32(h[25])<<24
		if got := oggCRC(data[off:end]); got != want {
			return nil, fmt.Errorf("page %d: CRC mismatch: %w", page, ErrBadMedia)
		}
		s := uint32(h[14]) | uint32(h[15])<<8 | uint32(h[16])<<16 | uint32(h[17])<<24
		if page == 0 {
			serial = s
		}
		if s == serial {
			body := data[off+headerLen+nseg : end]
			pos := 0
			for _, l := range lacing {
				partial = append(partial, body[pos:pos+int(l)]...)
				pos += int(l)
				if l < 255 {
					pkts = append(pkts, partial)
					partial = nil
				}
			}
		}
		off = end
	}
	if len(partial) != 0 {
		return nil, fmt.Errorf("last packet is truncated: %w", ErrBadMedia)
	}
	return pkts, nil
}

// oggCRC is the Ogg page checksum (CRC-32, polynomial 0x04c11db7, no
// reflection) computed with the checksum field taken as zero.
func oggCRC(page []byte) uint32 {
	var crc uint32
	for i, b := range page {
		if i >= 22 && i < 26 {
			b = 0
		}
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// ivfHeader checks an IVF file header (signature, VP8 fourcc) and returns
// its time base, num/den seconds, and its length.
func ivfHeader(data []byte) (num, den uint64, hlen int, err error) {
	if len(data) < 32 || string(data[:4]) != "DKIF" {
		return 0, 0, 0, fmt.Errorf("ivf: no DKIF signature (not an IVF file, or truncated header): %w", ErrBadMedia)
	}
	// IVF: 32-byte file header, then per frame a 12-byte header (size,
	// presentation timestamp in time-base units) and the frame.
	fourcc := string(data[8:12])
	switch fourcc {
	case "VP80":
	case "VP90":
		return 0, 0, 0, fmt.Errorf("ivf: codec is VP9, want VP8: %w", ErrBadMedia)
	case "AV01":
		return 0, 0, 0, fmt.Errorf("ivf: codec is AV1, want VP8: %w", ErrBadMedia)
	case "H264":
		return 0, 0, 0, fmt.Errorf("ivf: codec is H.264, want VP8: %w", ErrBadMedia)
	default:
		return 0, 0, 0, fmt.Errorf("ivf: codec fourcc %q, want VP80: %w", fourcc, ErrBadMedia)
	}
	den = uint64(binary.LittleEndian.Uint32(data[16:])) // time base = num/den seconds
	num = uint64(binary.LittleEndian.Uint32(data[20:]))
	if den == 0 || num == 0 {
		return 0, 0, 0, fmt.Errorf("ivf: zero time base: %w", ErrBadMedia)
	}
	hlen = int(binary.LittleEndian.Uint16(data[6:]))
	if hlen < 32 || hlen > len(data) {
		return 0, 0, 0, fmt.Errorf("ivf: bad header length %d: %w", hlen, ErrBadMedia)
	}
	return num, den, hlen, nil
}

// ivfFrames splits the IVF frames after the header; there is at least one.
func ivfFrames(data []byte, hlen int) (frames [][]byte, stamps []uint64, err error) {
	for off := hlen; off < len(data); {
		if len(data)-off < 12 {
			return nil, nil, fmt.Errorf("ivf: frame %d: truncated frame header: %w", len(frames), ErrBadMedia)
		}
		size := int(binary.LittleEndian.Uint32(data[off:]))
		pts := binary.LittleEndian.Uint64(data[off+4:])
		off += 12
		if size == 0 {
			return nil, nil, fmt.Errorf("ivf: frame %d is empty: %w", len(frames), ErrBadMedia)
		}
		if size > len(data)-off {
			return nil, nil, fmt.Errorf("ivf: frame %d: truncated (%d of %d bytes): %w", len(frames), len(data)-off, size, ErrBadMedia)
		}
		frames = append(frames, data[off:off+size])
		stamps = append(stamps, pts)
		off += size
	}
	if len(frames) == 0 {
		return nil, nil, fmt.Errorf("ivf: no frames: %w", ErrBadMedia)
	}
	return frames, stamps, nil
}

// ivfStep is the constant timestamp step between frames (1 when there is
// one frame): the frame period is the time base times the step.
func ivfStep(stamps []uint64) (uint64, error) {
	if len(stamps) < 2 {
		return 1, nil
	}
	step := stamps[1] - stamps[0]
	for i := 2; i < len(stamps); i++ {
		if stamps[i]-stamps[i-1] != step {
			return 0, fmt.Errorf("ivf: frame %d breaks the constant frame rate: %w", i, ErrBadMedia)
		}
	}
	return step, nil
}

// LoadIVF demuxes an IVF stream holding VP8 and splits every frame into RTP
// payloads (RFC 7741 payload descriptors). The frame rate comes from the
// IVF time base and the frame timestamps, and must be constant.
func LoadIVF(r io.Reader) (*Source, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	num, den, hlen, err := ivfHeader(data)
	if err != nil {
		return nil, err
	}
	frames, stamps, err := ivfFrames(data, hlen)
	if err != nil {
		return nil, err
	}
	if frames[0][0]&1 != 0 {
		return nil, fmt.Errorf("ivf: first frame is not a VP8 keyframe: %w", ErrBadMedia)
	}
	step, err := ivfStep(stamps)
	if err != nil {
		return nil, err
	}
	period := time.Duration(step * num * uint64(time.Second) / den)
	if period < minVideoFrameDuration || period > maxVideoFrameDuration {
		return nil, fmt.Errorf("ivf: frame period %v outside [%v, %v]: %w", period, minVideoFrameDuration, maxVideoFrameDuration, ErrBadMedia)
	}
	s := &Source{
		kind: webrtc.RTPCodecTypeVideo, mimeType: webrtc.MimeTypeVP8,
		clockRate: 90000, period: period,
		tsStep: uint32(step * num * 90000 / den),
	}
	pay := &codecs.VP8Payloader{}
	for i, f := range frames {
		s.addFrame(pay.Payload(MaxRTPPayload, f))
		s.raw = append(s.raw, f)
		if f[0]&1 == 0 { // VP8 frame tag: P bit 0 is a keyframe (RFC 6386 §9.1)
			s.keyframes = append(s.keyframes, int32(i))
		}
	}
	s.cycle = payloadCycle(s.payloads)
	return s, nil
}

// keyframeAtOrBefore returns the last keyframe at or before frame fidx
// (the clip starts with one, so there always is one); for a clip without
// keyframes (audio) it returns fidx.
func (s *Source) keyframeAtOrBefore(fidx int32) int32 {
	i, found := slices.BinarySearch(s.keyframes, fidx)
	switch {
	case found:
		return fidx
	case i > 0:
		return s.keyframes[i-1]
	default:
		return fidx
	}
}

// addFrame appends one frame's payloads.
func (s *Source) addFrame(payloads [][]byte) {
	fi := int32(len(s.frames))
	s.frames = append(s.frames, frame{first: int32(len(s.payloads)), n: int32(len(payloads))})
	for i, p := range payloads {
		s.payloads = append(s.payloads, p)
		s.frameOf = append(s.frameOf, fi)
		s.lastInFr = append(s.lastInFr, i == len(payloads)-1)
		s.bytes += len(p)
	}
}

// payloadCycle returns the smallest p such that the looped payload sequence
// repeats every p packets (len(ps) when it does not repeat sooner), using
// the KMP prefix function. Receivers locate a stream modulo this cycle.
func payloadCycle(ps [][]byte) int {
	n := len(ps)
	if n == 0 {
		return 0
	}
	pi := make([]int, n)
	for i := 1; i < n; i++ {
		k := pi[i-1]
		for k > 0 && !bytes.Equal(ps[i], ps[k]) {
			k = pi[k-1]
		}
		if bytes.Equal(ps[i], ps[k]) {
			k++
		}
		pi[i] = k
	}
	if p := n - pi[n-1]; n%p == 0 {
		return p
	}
	return n
}
