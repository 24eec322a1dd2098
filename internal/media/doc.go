// Package media carries the media of loadgen's calls: real pion/webrtc peers
// (the caller used by the load generator and the answerer used by the
// built-in gateway) playing pre-recorded Opus audio and VP8 video (or the
// G.722, PCMU or PCMA clip when the answer prefers that codec; the offer is
// shaped like the reference SDK's, see codecs.go), and the receive-side
// statistics and integrity checks.
//
// It is built for thousands of calls per process. One Engine per run owns
// one webrtc.API, one DTLS certificate reused by every call, lean ICE
// networking (UDP4, no mDNS, host candidates only on the configured
// addresses, one socket per call from a port range) and a few pacer
// goroutines (one per core) that write every call's next pre-built RTP
// packet on the 20 ms audio tick and on the video frame tick. Media files are
// demuxed once into immutable Sources shared by all calls. No pion
// interceptor runs (no NACK, TWCC, stats or report interceptors): the
// pacers also write each call's RTCP sender and receiver reports, once a
// second, from the counters they and the receivers keep anyway. Incoming
// RTCP is read as it arrives, in pion's SRTCP session goroutine, through
// the SettingEngine's BufferFactory (pionBuffers, the one adapter that
// knows how pion uses those buffers; rtcpRouter: no reader goroutine per
// sender or receiver, no buffer that fills), and gives the round-trip
// time; the RTP of every SSRC a remote description declares is accounted
// the same way in pion's SRTP session goroutine (rtpSink), so a call needs
// no track-reader goroutine and a received packet one hand-off fewer. All
// calls share one network-interface list (pion's stdnet.Net), taken once.
//
// Integrity: every stream a Peer sends is the Source's packet sequence, in
// order, looped, with consecutive sequence numbers. The receiving Peer finds
// where in the expected Source the first packet sits (a one-time scan),
// then compares every later payload with the packet that sequence number
// must carry, so a gateway that drops, duplicates, reorders or alters media
// is detected, not only one that sends nothing.
//
// EngineConfig.Transport puts callers (NewCall) and answerers (NewAnswerPeer)
// on the transport instead of pion's PeerConnection (transport.go,
// tpeer.go): per core one loop, a UDP socket shared by its callers and
// read and written in batches (internal/netio), a reader goroutine doing
// each packet's protocol work in place (STUN through internal/iceagent,
// SRTP and SRTCP through pion/srtp contexts, the same receive statistics
// and integrity checks), an ICE timer goroutine and the same pacer shard,
// whose writes go out in one batch per tick. The DTLS handshake is
// pion/dtls over a packet-conn adapter. A shared socket tells calls apart
// by the remote's address, so an answerer takes a socket of its own per
// call. Host candidates only: no STUN or TURN.
//
// EngineConfig.PionDefaults builds the same peers the way a straightforward
// pion program would (a certificate per call, pion's default interceptors, a
// TrackLocalStaticSample and a ticker goroutine per track), so benchmarks can
// quote every figure next to its naive counterpart.
package media
