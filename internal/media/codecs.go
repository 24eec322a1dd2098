package media

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Payload types the engine registers: those of the reference SDK's offer
// (protocol Appendix A), in its order.
const (
	opusPayloadType    = 111
	redPayloadType     = 63
	g722PayloadType    = 9
	pcmuPayloadType    = 0
	pcmaPayloadType    = 8
	cnPayloadType      = 13
	dtmf48kPayloadType = 110
	dtmf8kPayloadType  = 126
	vp8PayloadType     = 96
	mimeTypeRED        = "audio/red"
	mimeTypeCN         = "audio/CN"
	mimeTypeDTMF       = "audio/telephone-event"
	rtcpFbTransportCC  = "transport-cc"
	rtcpFbGoogREMB     = "goog-remb"
	extAudioLevel      = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	extAbsSendTime     = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
	extTransportWideCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
	extSDESMid         = "urn:ietf:params:rtp-hdrext:sdes:mid"
	opusFmtp           = "minptime=10;useinbandfec=1"
	redFmtp            = "111/111"
)

// offerCodec is one codec of the offer, with the RTCP feedback offered
// for it.
type offerCodec struct {
	kind webrtc.RTPCodecType
	pt   webrtc.PayloadType
	cap  webrtc.RTPCodecCapability
}

// offerCodecs lists the codecs loadgen offers, in the reference SDK's
// order: Opus, RED, G.722, PCMU, PCMA, CN and telephone-event for audio;
// VP8 for video (the SDK's AV1, VP9, RTX, RED and ULPFEC are not offered:
// loadgen sends none of them). feedback adds the SDK's rtcp-fb lines
// (left out with PionDefaults, whose interceptors add their own).
func offerCodecs(audio, video *Source, feedback bool) []offerCodec {
	var opusFb, vp8Fb []webrtc.RTCPFeedback
	if feedback {
		opusFb = []webrtc.RTCPFeedback{{Type: rtcpFbTransportCC}}
		vp8Fb = []webrtc.RTCPFeedback{
			{Type: rtcpFbGoogREMB}, {Type: rtcpFbTransportCC},
			{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
			{Type: webrtc.TypeRTCPFBNACK}, {Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
		}
	}
	opus := audio.codecCapability()
	opus.RTCPFeedback = opusFb
	vp8 := video.codecCapability()
	vp8.RTCPFeedback = vp8Fb
	a := func(pt webrtc.PayloadType, c webrtc.RTPCodecCapability) offerCodec {
		return offerCodec{kind: kindAudio, pt: pt, cap: c}
	}
	return []offerCodec{
		a(opusPayloadType, opus),
		a(redPayloadType, webrtc.RTPCodecCapability{MimeType: mimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: redFmtp}),
		a(g722PayloadType, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}),
		a(pcmuPayloadType, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}),
		a(pcmaPayloadType, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}),
		a(cnPayloadType, webrtc.RTPCodecCapability{MimeType: mimeTypeCN, ClockRate: 8000}),
		a(dtmf48kPayloadType, webrtc.RTPCodecCapability{MimeType: mimeTypeDTMF, ClockRate: 48000}),
		a(dtmf8kPayloadType, webrtc.RTPCodecCapability{MimeType: mimeTypeDTMF, ClockRate: 8000}),
		{kind: kindVideo, pt: vp8PayloadType, cap: vp8},
	}
}

// registerOffer registers the offer's codecs and the SDK's header
// extensions (audio level, abs-send-time, transport-wide CC, mid; the
// first three are audio-only or shared, so their ids match the SDK's 1-4).
// The extensions are negotiated, not written: loadgen's RTP carries none.
func registerOffer(m *webrtc.MediaEngine, audio, video *Source, feedback bool) error {
	for _, c := range offerCodecs(audio, video, feedback) {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c.cap, PayloadType: c.pt}, c.kind); err != nil {
			return fmt.Errorf("media: register %s: %w", c.cap.MimeType, err)
		}
	}
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{extAudioLevel, []webrtc.RTPCodecType{kindAudio}},
		{extAbsSendTime, []webrtc.RTPCodecType{kindAudio, kindVideo}},
		{extTransportWideCC, []webrtc.RTPCodecType{kindAudio, kindVideo}},
		{extSDESMid, []webrtc.RTPCodecType{kindAudio, kindVideo}},
	}
	for _, x := range exts {
		for _, k := range x.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: x.uri}, k); err != nil {
				return fmt.Errorf("media: register header extension %s: %w", x.uri, err)
			}
		}
	}
	return nil
}
