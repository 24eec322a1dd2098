package media

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/loadgen/loadgen/internal/metrics"
)

// PeerOptions configures one Peer.
type PeerOptions struct {
	// Video adds a VP8 video track: a caller offers audio then video; an
	// answerer sends video when the offer has a video section.
	Video bool
}

// role is what a Peer does in the initial negotiation.
type role int

const (
	roleCaller role = iota + 1
	roleAnswerer
)

// Peer is one call's peer connection with its media: a caller (offers) or
// an answerer (answers). All methods are safe for concurrent use;
// negotiations are serialised.
type Peer struct {
	e    *Engine
	role role
	opts PeerOptions
	pc   *webrtc.PeerConnection
	dtls *webrtc.DTLSTransport

	audio, video *outTrack      // lean mode
	naive        [2]*naiveTrack // PionDefaults mode: audio, video
	in           [2]*inStream   // received audio, video
	inst         instants
	shard        *shard

	connected  chan struct{}
	failed     chan struct{}
	firstMedia chan struct{}
	closedCh   chan struct{}

	negMu sync.Mutex // serialises negotiations
	// localHold is set by HoldOffer(true) and cleared by HoldOffer(false)
	// (negMu held): while we hold, our answers to the remote's re-offers
	// keep the hold (RFC 3264 §8.4): recvonly or inactive, never a
	// direction that lets us send.
	localHold bool

	mu          sync.Mutex
	failErr     error
	isConnected bool
	isFailed    bool
	gotMedia    bool
	closing     bool
	registered  bool
	rrSSRC      uint32           // sender SSRC of receiver-only reports
	readerDone  [2]chan struct{} // closed when the kind's current track reader ends
	rtpSSRCs    []uint32         // remote SSRCs routed to this peer's rtpSinks (negMu)
	wg          sync.WaitGroup
	closeErr    error
	closeOnce   sync.Once
}

// NewCaller creates a peer that offers: audio, then video if opts.Video.
func (e *Engine) NewCaller(opts PeerOptions) (*Peer, error) {
	p, err := e.newPeer(roleCaller, opts)
	if err != nil {
		return nil, err
	}
	kinds := []webrtc.RTPCodecType{kindAudio}
	if opts.Video {
		kinds = append(kinds, kindVideo)
	}
	for _, k := range kinds {
		tr, err := p.pc.AddTransceiverFromTrack(p.trackLocal(k),
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("media: add %s transceiver: %w", k, err)
		}
		p.senderAttached(k, tr.Sender())
	}
	return p, nil
}

// NewAnswerer creates a peer that answers offers (the gateway's side): it
// sends audio, and video when opts.Video is set and the offer has video.
func (e *Engine) NewAnswerer(opts PeerOptions) (*Peer, error) {
	return e.newPeer(roleAnswerer, opts)
}

func (e *Engine) newPeer(r role, opts PeerOptions) (*Peer, error) {
	p := &Peer{
		e: e, role: r, opts: opts,
		connected:  make(chan struct{}),
		failed:     make(chan struct{}),
		firstMedia: make(chan struct{}),
		closedCh:   make(chan struct{}),
		rrSSRC:     rand.Uint32(),
	}
	p.inst = newInstants(e.now)
	p.in[0] = newInStream(e.expA, e.audio.clockRate)
	p.in[1] = newInStream(e.expV, e.video.clockRate)
	p.in[0].router, p.in[1].router = e.router, e.router
	p.in[0].byPT = &e.audioByPT
	if e.cfg.PionDefaults {
		p.in[1].exp, p.in[1].checks = nil, false // pion's VP8 packetizer adds picture IDs: other payloads
	}
	// The remote plays the expected clips (or, unknown, clips like ours):
	// their packet rates give the by-time count.
	for k, src := range [2]*Source{e.expA, e.expV} {
		if src == nil {
			src = [2]*Source{e.audio, e.video}[k]
		}
		p.in[k].setRate(src)
	}
	if err := e.register(p); err != nil {
		return nil, err
	}
	// PionDefaults leaves Certificates empty: pion generates one per call.
	pc, err := e.api.NewPeerConnection(e.pcConfig)
	if err != nil {
		e.unregister(p)
		return nil, fmt.Errorf("media: new peer connection: %w", err)
	}
	p.pc = pc
	p.dtls = pc.SCTP().Transport()
	streamID := fmt.Sprintf("loadgen-%08x", rand.Uint32())
	if e.cfg.PionDefaults {
		var err error
		if p.naive[0], err = newNaiveTrack(p, e.audio, "audio", streamID); err == nil && opts.Video {
			p.naive[1], err = newNaiveTrack(p, e.video, "video", streamID)
		}
		if err != nil {
			_ = p.Close()
			return nil, err
		}
	} else {
		p.audio = newOutTrack(p, &p.inst, e.router, e.audio, "audio", streamID, uint16(rand.Uint32()), rand.Uint32())
		p.audio.alts = e.audioAlts
		if opts.Video {
			p.video = newOutTrack(p, &p.inst, e.router, e.video, "video", streamID, uint16(rand.Uint32()), rand.Uint32())
		}
	}
	pc.OnICEConnectionStateChange(p.onICEState)
	pc.OnConnectionStateChange(p.onPCState)
	p.dtls.OnStateChange(func(s webrtc.DTLSTransportState) {
		if s == webrtc.DTLSTransportStateFailed {
			p.fail(ErrDTLSFailed)
		}
	})
	pc.OnTrack(p.onTrack)
	return p, nil
}

// expectRTP routes the RTP of the SSRCs a remote description declares to
// this peer's rtpSinks (lean engine). negMu is held.
func (p *Peer) expectRTP(sdp string) {
	if r := p.e.router; r != nil {
		p.rtpSSRCs = append(p.rtpSSRCs, r.expectRTP(p, mediaSSRCs(sdp))...)
	}
}

// deliver accounts one received RTP packet of kind k.
func (p *Peer) deliver(k int, b []byte, now time.Time) {
	in := p.in[k]
	in.mu.Lock()
	in.packet(b, now)
	first := !in.gotFirst
	in.gotFirst = true
	in.mu.Unlock()
	if first {
		p.markFirstMedia()
	}
}

// trackLocal is the pion track of kind k this peer sends (nil if none).
func (p *Peer) trackLocal(k webrtc.RTPCodecType) webrtc.TrackLocal {
	if p.e.cfg.PionDefaults {
		if t := p.naive[kindIndex(k)]; t != nil {
			return t.track
		}
		return nil
	}
	if k == kindVideo {
		if p.video == nil {
			return nil
		}
		return p.video
	}
	return p.audio
}

// senderAttached starts, with PionDefaults, the goroutine that reads the
// RTCP of a sender now carrying kind k until the sender stops: it records
// the round-trip time from the remote's reports (and keeps the stream
// drained; pion's interceptors read through it). The lean engine needs no
// goroutine: the engine's rtcpRouter reads the RTCP as it arrives.
func (p *Peer) senderAttached(k webrtc.RTPCodecType, s *webrtc.RTPSender) {
	if p.e.router != nil {
		return
	}
	var rtt *atomic.Int64
	var up *uplink
	if t := p.outTrack(k); t != nil {
		rtt, up = &t.rttNanos, &t.up
	} else if t := p.naive[kindIndex(k)]; t != nil {
		rtt, up = &t.rttNanos, &t.up
	}
	ssrc := uint32(0)
	if enc := s.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return
	}
	p.wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := s.Read(buf)
			if err != nil {
				return
			}
			rr, ok := reportBlockFor(buf[:n], ssrc)
			if !ok || rtt == nil {
				continue
			}
			up.recordBlock(rr)
			if d, ok := rttFromBlock(rr.LastSenderReport, rr.Delay, time.Now()); ok {
				rtt.Store(int64(d))
			}
		}
	})
}

func (p *Peer) outTrack(k webrtc.RTPCodecType) *outTrack {
	if k == kindVideo {
		return p.video
	}
	return p.audio
}

func kindIndex(k webrtc.RTPCodecType) int {
	if k == kindVideo {
		return 1
	}
	return 0
}

func (p *Peer) onICEState(s webrtc.ICEConnectionState) {
	switch s {
	case webrtc.ICEConnectionStateChecking:
		p.inst.mark(evICEChecking)
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		p.inst.mark(evICEChecking)
		p.inst.mark(evICEConnected)
	case webrtc.ICEConnectionStateFailed:
		p.fail(ErrICEFailed)
	default:
	}
}

func (p *Peer) onPCState(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		p.inst.mark(evDTLSConnected)
		p.mu.Lock()
		if p.isConnected || p.closing {
			p.mu.Unlock()
			return
		}
		p.isConnected = true
		close(p.connected)
		p.startMediaLocked()
		p.mu.Unlock()
	case webrtc.PeerConnectionStateFailed:
		if p.inst.get(evICEConnected).IsZero() || p.pc.ICEConnectionState() == webrtc.ICEConnectionStateFailed {
			p.fail(ErrICEFailed)
		} else {
			p.fail(ErrDTLSFailed)
		}
	default:
	}
}

// startMediaLocked starts sending: registers the tracks with a pacer shard
// (lean) or starts the per-track tickers (PionDefaults). p.mu is held.
func (p *Peer) startMediaLocked() {
	if p.e.cfg.PionDefaults {
		for _, t := range p.naive {
			if t != nil {
				t.start()
			}
		}
		return
	}
	p.shard = p.e.pickShard()
	tracks := []*outTrack{p.audio}
	if p.video != nil {
		tracks = append(tracks, p.video)
	}
	p.shard.add(p, tracks...)
	p.registered = true
}

func (p *Peer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isFailed {
		return
	}
	p.isFailed = true
	p.failErr = err
	close(p.failed)
}

// onTrack reads one remote track until it ends. pion runs it in its own
// goroutine; the peer's WaitGroup tracks it so Close waits for it. In the
// lean engine a track whose SSRC the remote description declared is
// accounted by an rtpSink as its packets arrive, and onTrack returns at
// once.
func (p *Peer) onTrack(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
	if r := p.e.router; r != nil && r.servesRTP(p, uint32(tr.SSRC())) {
		return // an rtpSink accounts this track's packets
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	defer p.wg.Done()
	k := kindIndex(tr.Kind())
	// After a renegotiation pion may replace a receiver: the new track's
	// reader starts once the old one (whose receiver pion stopped) has
	// ended, so that one goroutine at a time owns the kind's statistics.
	prev, mine := p.readerDone[k], make(chan struct{})
	p.readerDone[k] = mine
	defer close(mine)
	// With PionDefaults a goroutine drains the receiver's RTCP (pion's
	// interceptors read through it; an undrained stream would grow to
	// 100 kB). The lean engine's rtcpRouter reads it as it arrives and
	// records the remote's sender reports, whose times fill the last-SR
	// fields of our receiver reports.
	if p.e.router == nil {
		p.wg.Go(func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := rcv.Read(buf); err != nil {
					return
				}
			}
		})
	}
	p.mu.Unlock()
	if prev != nil {
		select {
		case <-prev:
		case <-p.closedCh:
			return
		}
	}

	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		p.deliver(k, buf[:n], time.Now())
	}
}

func (p *Peer) markFirstMedia() {
	p.inst.mark(evFirstReceived)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gotMedia {
		p.gotMedia = true
		close(p.firstMedia)
	}
}

// sendReports writes the peer's RTCP reports (lean engine): a sender
// report per sending track, the first carrying a reception report block
// per received stream; a receiver report when nothing is sent. Called by
// the pacer shard about once a second.
func (p *Peer) sendReports(now time.Time) {
	if pkts := reportPackets([2]*outTrack{p.audio, p.video}, p.in, p.rrSSRC, now); len(pkts) > 0 {
		_ = p.pc.WriteRTCP(pkts) // fails only once the connection is closing
	}
}

// reportPackets is a peer's compound RTCP report at now: a sender report
// per sending track, the first carrying a reception report block per
// received stream; a receiver report (from rrSSRC) when nothing is sent;
// nothing when there is nothing to report.
func reportPackets(tracks [2]*outTrack, in [2]*inStream, rrSSRC uint32, now time.Time) []rtcp.Packet {
	var blocks []rtcp.ReceptionReport
	for _, s := range in {
		if rr, ok := s.receptionReport(now); ok {
			blocks = append(blocks, rr)
		}
	}
	var pkts []rtcp.Packet
	for _, t := range tracks {
		if t == nil {
			continue
		}
		if sr, ok := t.senderReport(now); ok {
			if len(pkts) == 0 {
				sr.Reports = blocks
			}
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) == 0 && len(blocks) > 0 {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: rrSSRC, Reports: blocks})
	}
	return pkts
}

// rtcpCandidateRE matches a component-2 (RTCP) candidate line, which pion
// lists beside every RTP candidate although RTCP is muxed.
var rtcpCandidateRE = regexp.MustCompile(`a=candidate:\S+ 2 [^\r\n]*\r\n`)

// CreateOffer creates the initial offer (audio first, then video), sets it
// locally and returns it once ICE gathering is complete: every candidate
// is inside, as the reference SDK sends it (no trickle).
func (p *Peer) CreateOffer(ctx context.Context) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	return p.offer(ctx, false)
}

// setLocal creates a local description with create (CreateOffer or
// CreateAnswer), sets it and waits for ICE gathering (no trickle: the
// description must carry every candidate).
func (p *Peer) setLocal(ctx context.Context, what string, create func() (webrtc.SessionDescription, error)) error {
	d, err := create()
	if err != nil {
		return fmt.Errorf("media: create %s: %w", what, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		return fmt.Errorf("media: set local %s: %w", what, err)
	}
	return p.waitGathered(ctx, gathered)
}

// offer creates, sets and returns a local offer; hold marks every media
// section inactive (the reference SDK's hold).
func (p *Peer) offer(ctx context.Context, hold bool) (string, error) {
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	if err := p.setLocal(ctx, "offer", func() (webrtc.SessionDescription, error) { return p.pc.CreateOffer(nil) }); err != nil {
		return "", err
	}
	// The reference SDK's offers carry every candidate inline and no
	// end-of-candidates marker (protocol §14.1).
	sdp := strings.ReplaceAll(p.pc.LocalDescription().SDP, "a=end-of-candidates\r\n", "")
	// Nor RTCP (component 2) candidates: RTCP is muxed (a=rtcp-mux).
	sdp = rtcpCandidateRE.ReplaceAllString(sdp, "")
	if hold {
		// pion has no way to make an inactive offer and refuses a
		// modified local description: pion keeps its sendrecv view (our
		// tracks are paused instead) and the remote gets the inactive
		// offer the reference SDK sends. The remote's inactive answer is
		// valid for both.
		sdp = setDirections(sdp, "inactive")
	}
	return sdp, nil
}

// waitGathered waits for ICE gathering to complete, at most
// GatherTimeout; then the local description must hold a candidate.
func (p *Peer) waitGathered(ctx context.Context, gathered <-chan struct{}) error {
	timer := time.NewTimer(p.e.cfg.GatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
	case <-ctx.Done():
		return fmt.Errorf("media: ICE gathering: %w", ctx.Err())
	case <-p.closedCh:
		return ErrClosed
	}
	if ld := p.pc.LocalDescription(); ld == nil || !strings.Contains(ld.SDP, "a=candidate:") {
		p.fail(ErrNoCandidates)
		return ErrNoCandidates
	}
	return nil
}

func (p *Peer) checkOpen() error {
	select {
	case <-p.closedCh:
		return ErrClosed
	default:
		return nil
	}
}

// ApplyAnswer applies the remote answer to the last offer (initial, hold or
// unhold, or a Reoffer).
func (p *Peer) ApplyAnswer(answerSDP string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return err
	}
	p.expectRTP(answerSDP)
	pionAnswer := answerSDP
	if p.pc.CurrentRemoteDescription() != nil {
		pionAnswer, _ = pionView(answerSDP)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: pionAnswer}); err != nil {
		return fmt.Errorf("media: apply answer: %w: %w", ErrBadSDP, err)
	}
	p.negotiated(answerSDP, false)
	return nil
}

// HoldOffer returns a re-offer for hold (every media section inactive;
// sending stops at once) or unhold (sendrecv). Apply the remote answer with
// ApplyAnswer. pion never sees a hold (see pionView), so no sender is
// stopped and the unhold resumes the same senders: the SSRCs stay those of
// the call's start, as the reference SDK keeps them (a gateway that locks
// onto an SSRC follows).
func (p *Peer) HoldOffer(ctx context.Context, hold bool) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	if hold {
		// The remote stops sending when it reads this offer: from now
		// on its silence is no gap.
		p.setPaused(true, true)
		now := time.Now()
		for _, in := range p.in {
			in.setExpecting(false, now)
		}
	}
	p.localHold = hold
	return p.offer(ctx, hold)
}

// Reoffer is HoldOffer under the name internal/gateway's Reofferer
// interface uses for a gateway-initiated (remote) hold or unhold.
func (p *Peer) Reoffer(ctx context.Context, hold bool) (string, error) {
	return p.HoldOffer(ctx, hold)
}

// Answer answers a remote offer: the initial offer (answerer) or any
// re-offer (hold/unhold from either side). It returns the full answer
// after ICE gathering.
func (p *Peer) Answer(ctx context.Context, offerSDP string) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	initial := p.pc.RemoteDescription() == nil
	if initial && p.role == roleCaller {
		return "", fmt.Errorf("media: answer: a caller answers only re-offers: %w", ErrBadSDP)
	}
	dirs, err := directions(offerSDP)
	if err != nil {
		return "", fmt.Errorf("media: answer: %w: %w", ErrBadSDP, err)
	}
	// Remote hold: pion stops a transceiver whose re-offered section is
	// inactive, and never restarts its receiver when the unhold offer
	// keeps the SSRC (the reference SDK does). So pion is shown every
	// re-offered section as sendrecv (pionView) and the answer sent back
	// carries the answer to the real offer; our tracks pause meanwhile (a
	// "virtual" hold: nothing is torn down, the SSRCs stay).
	var held map[string]string // mid -> our answer's direction, where not sendrecv
	pionOffer := offerSDP
	if !initial {
		var offered map[string]string
		pionOffer, offered = pionView(offerSDP)
		held = answerDirections(offered)
	}
	p.expectRTP(offerSDP)
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: pionOffer}); err != nil {
		return "", fmt.Errorf("media: answer: %w: %w", ErrBadSDP, err)
	}
	if initial {
		if err := p.addAnswerTracks(); err != nil {
			return "", err
		}
	}
	if err := p.setLocal(ctx, "answer", func() (webrtc.SessionDescription, error) { return p.pc.CreateAnswer(nil) }); err != nil {
		return "", err
	}
	answer := setDirectionsByMid(p.pc.LocalDescription().SDP, held)
	if p.localHold && !initial {
		answer = setDirectionsByMid(answer, holdAnswerDirections(dirs))
	}
	p.negotiated(answer, true)
	return answer, nil
}

// holdAnswerDirections maps a re-offer's directions (by mid) to those of
// an answer from a peer that holds: it receives what the remote sends
// (recvonly for a sendrecv or sendonly offer) and sends nothing (inactive
// for a recvonly or inactive offer), RFC 3264 §6.1 and §8.4.
func holdAnswerDirections(offer map[string]string) map[string]string {
	out := make(map[string]string, len(offer))
	for mid, d := range offer {
		if d == "sendrecv" || d == "sendonly" {
			out[mid] = "recvonly"
		} else {
			out[mid] = "inactive"
		}
	}
	return out
}

// addAnswerTracks attaches the answerer's tracks to the transceivers the
// offer created (audio always, video when configured).
func (p *Peer) addAnswerTracks() error {
	for _, tr := range p.pc.GetTransceivers() {
		k := tr.Kind()
		track := p.trackLocal(k)
		if track == nil || tr.Sender() != nil {
			continue
		}
		s, err := p.pc.AddTrack(track)
		if err != nil {
			return fmt.Errorf("media: answer: add %s track: %w", k, err)
		}
		p.senderAttached(k, s)
	}
	return nil
}

// negotiated updates, after a complete offer/answer, which sections are
// inactive and whether each track may send. answer is the answer SDP;
// local tells whether we made it (else the directions are the remote's).
func (p *Peer) negotiated(answer string, local bool) {
	desc := answer
	dirs, err := directions(desc)
	if err != nil {
		return
	}
	for _, tr := range p.pc.GetTransceivers() {
		mid := tr.Mid()
		d, ok := dirs[mid]
		if !ok {
			continue
		}
		// In our answer, sendrecv/sendonly let us send; in the remote's
		// answer, sendrecv/recvonly do.
		send, recv := d == "sendrecv", d == "sendrecv"
		if local {
			send = send || d == "sendonly"
			recv = recv || d == "recvonly"
		} else {
			send = send || d == "recvonly"
			recv = recv || d == "sendonly"
		}
		p.pauseKind(tr.Kind(), !send)
		p.in[kindIndex(tr.Kind())].setExpecting(recv, time.Now())
	}
}

func (p *Peer) pauseKind(k webrtc.RTPCodecType, paused bool) {
	if p.e.cfg.PionDefaults {
		if t := p.naive[kindIndex(k)]; t != nil {
			t.paused.Store(paused)
		}
		return
	}
	if t := p.outTrack(k); t != nil {
		t.paused.Store(paused)
	}
}

func (p *Peer) setPaused(audio, video bool) {
	p.pauseKind(kindAudio, audio)
	p.pauseKind(kindVideo, video)
}

// Events returns the instants the peer has reached so far.
func (p *Peer) Events() Events { return p.inst.snapshot() }

// WaitConnected waits until ICE and DTLS are connected. It returns an
// error wrapping ErrICEFailed or ErrDTLSFailed when the connection fails,
// ErrClosed when the peer is closed, or the context's error.
func (p *Peer) WaitConnected(ctx context.Context) error {
	return p.wait(ctx, p.connected, "connected")
}

// WaitFirstMedia waits until the first remote RTP packet arrives.
func (p *Peer) WaitFirstMedia(ctx context.Context) error {
	return p.wait(ctx, p.firstMedia, "first media")
}

// wait waits until done is closed; an event that already happened wins
// over a failure or a close that came after it.
func (p *Peer) wait(ctx context.Context, done <-chan struct{}, what string) error {
	return awaitEvent(ctx, done, p.failed, p.closedCh, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.failErr
	}, what)
}

// awaitEvent waits until done is closed; an event that already happened
// wins over a failure (failErr's error) or a close that came after it.
func awaitEvent(ctx context.Context, done, failed, closed <-chan struct{}, failErr func() error, what string) error {
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case <-done:
		return nil
	case <-failed:
		return failErr()
	case <-closed:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("media: wait %s: %w", what, ctx.Err())
	}
}

// Stats returns the call's media statistics so far, per stream (Audio,
// Video) and in total: packets and bytes sent and write errors; received,
// lost (by sequence number and by time), duplicates and reordering seen by
// the receiver, jitter and media gaps (downlink); the far end's reports
// on our streams (uplink loss and jitter); the latest RTT from RTCP; late
// pacer writes; and the integrity verdict (every received packet is the
// expected media, and some arrived), marked IntegrityChecked only where
// the engine compares payloads.
func (p *Peer) Stats() metrics.MediaStats {
	return mediaStats(p.e, [2]*outTrack{p.audio, p.video}, p.naive, p.in)
}

// mediaStats is Stats for any peer of e: its sending tracks (lean or
// transport), or its naive tracks (PionDefaults), and its receivers.
func mediaStats(e *Engine, tracks [2]*outTrack, naive [2]*naiveTrack, in [2]*inStream) metrics.MediaStats {
	now := time.Now()
	var st metrics.MediaStats
	st.Codec = e.audio.codecName()
	streams := [2]*metrics.MediaStreamStats{&st.Audio, &st.Video}
	clocks := [2]uint32{e.audio.clockRate, e.video.clockRate}
	if tracks[0] != nil {
		if b := tracks[0].bind.Load(); b != nil {
			src := tracks[0].srcOf(b)
			st.Codec, clocks[0] = src.codecName(), src.clockRate
		}
	}
	var rtt [2]int64
	for k, ss := range streams {
		if e.cfg.PionDefaults {
			if t := naive[k]; t != nil {
				ss.PacketsSent, ss.BytesSent, ss.WriteErrors = t.pkts.Load(), t.bytes.Load(), t.writeErrs.Load()
				t.late.addTo(&st)
				t.up.addTo(ss, clocks[k])
				rtt[k] = t.rttNanos.Load()
			}
		} else if t := tracks[k]; t != nil {
			ss.PacketsSent, ss.BytesSent, ss.WriteErrors = t.pktsSent.Load(), t.bytesSent.Load(), t.writeErrs.Load()
			t.late.addTo(&st)
			t.up.addTo(ss, clocks[k])
			rtt[k] = t.rttNanos.Load()
		}
		in[k].addTo(ss, now)
	}
	if rtt[0] > 0 {
		st.RTT = time.Duration(rtt[0])
	} else {
		st.RTT = time.Duration(rtt[1])
	}
	ok, checked := true, false
	var upSent uint64
	for k, ss := range streams {
		rcv := in[k]
		st.PacketsSent += ss.PacketsSent
		st.BytesSent += ss.BytesSent
		st.WriteErrors += ss.WriteErrors
		st.PacketsReceived += ss.PacketsReceived
		st.BytesReceived += ss.BytesReceived
		st.PacketsLost += ss.PacketsLost + ss.StallMissing + ss.TailMissing
		st.Duplicates += ss.Duplicates
		st.Reordered += ss.Reordered
		st.LongestGap = max(st.LongestGap, ss.LongestGap)
		if ss.UplinkReports > 0 {
			st.UplinkReports += ss.UplinkReports
			st.UplinkPacketsLost += ss.UplinkPacketsLost
			upSent += ss.PacketsSent
		}
		if ss.PacketsReceived > 0 {
			checked = checked || rcv.checks
			if !rcv.integrityOK() {
				ok = false
			}
		}
	}
	if upSent > 0 {
		st.UplinkFractionLost = float64(st.UplinkPacketsLost) / float64(upSent)
	}
	st.UplinkJitter = st.Audio.UplinkJitter
	st.Jitter = st.Audio.Jitter
	st.IntegrityChecked = checked
	if checked {
		st.IntegrityOK = ok && st.Audio.PacketsReceived > 0
	} else {
		// Nothing to compare with: only media arriving at all is known.
		st.IntegrityOK = st.PacketsReceived > 0
	}
	return st
}

// forgetRTCP removes the peer's tracks and streams from the engine's RTCP
// router once its goroutines have ended.
func (p *Peer) forgetRTCP() {
	r := p.e.router
	if r == nil {
		return
	}
	p.negMu.Lock()
	r.forgetRTP(p, p.rtpSSRCs)
	p.rtpSSRCs = nil
	p.negMu.Unlock()
	for _, t := range []*outTrack{p.audio, p.video} {
		if t == nil {
			continue
		}
		if b := t.bind.Load(); b != nil {
			r.removeSender(t, b.ssrc)
		}
	}
	for _, in := range p.in {
		if in.rStarted.Load() {
			r.removeReceiver(in, in.rSSRC.Load())
		}
	}
}

// Close closes the peer connection, stops its media and waits for every
// goroutine it started. It is idempotent.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		registered := p.registered
		close(p.closedCh)
		p.mu.Unlock()
		if registered {
			p.shard.remove(p)
		}
		for _, t := range p.naive {
			if t != nil {
				t.stop()
			}
		}
		if p.pc != nil {
			p.closeErr = p.pc.Close()
		}
		p.wg.Wait()
		p.forgetRTCP()
		for _, t := range p.naive {
			if t != nil {
				t.wait()
			}
		}
		p.e.unregister(p)
	})
	return p.closeErr
}
