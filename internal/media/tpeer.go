package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/loadgen/loadgen/internal/iceagent"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/netio"
)

// dtlsTimeout bounds a transport call's DTLS handshake (the call's own
// timeouts usually end it sooner).
const dtlsTimeout = 30 * time.Second

// tPeer is a caller on the transport. Its protocol work runs in the
// goroutines of its loop (STUN, SRTP, RTCP in the reader; ICE timers in
// the timer goroutine; media and reports in the pacer); a short-lived
// goroutine runs the DTLS handshake, and pion's DTLS connection keeps two
// parked afterwards.
type tPeer struct {
	e      *Engine
	l      *tloop
	opts   PeerOptions
	caller bool // offers first (else answers: the gateway's side)
	inst   instants

	audio, video *outTrack
	in           [2]*inStream

	ufrag, pwd      string
	ssrcs           [2]uint32
	streamID, cname string
	origin          uint64
	cands           []string
	rrSSRC          uint32
	addrs           []netip.AddrPort // routes registered with the loop (loop.mu)
	// own is an answerer's socket of its own (nil: the loop's shared
	// one). A caller shares its loop's socket and the far end tells calls
	// apart by the address it gave each; an answerer is that far end, so
	// it gives each call an address of its own, read by one goroutine.
	own *netio.Conn

	negMu     sync.Mutex
	localHold bool
	lastLocal string        // our last description, for answers to re-offers
	remote    *remoteAnswer // from the first answer (a caller) or offer
	plan      *answerPlan   // an answerer's answer, fixed by the first offer
	kindOfPT  atomic.Pointer[[128]int8]

	iceMu   sync.Mutex
	ice     *iceagent.Agent
	iceOut  []iceagent.Outgoing
	iceNext atomic.Int64 // unix nanoseconds of the next poll (0: none)
	raddr   atomic.Pointer[netip.AddrPort]
	iceUp   chan struct{}

	decMu    sync.Mutex    // until ready: the reader's early packets and the handshake's replay of them
	early    []earlyPacket // SRTP before the keys (decMu)
	dconn    *dtlsPacketConn
	dtls     *dtls.Conn
	enc, dec *srtp.Context // enc: pacer goroutine; dec: reader goroutine
	ready    atomic.Bool   // SRTP contexts set
	decHdr   rtp.Header
	decRTCP  rtcp.Header
	encHdr   rtp.Header
	encRTCP  rtcp.Header

	connected, failed, firstMedia, closedCh chan struct{}
	mu                                      sync.Mutex
	failErr                                 error
	isConnected, isFailed, gotMedia         bool
	closing, pacing                         bool
	cancel                                  context.CancelFunc
	ctx                                     context.Context
	wg                                      sync.WaitGroup
	closeOnce                               sync.Once
	closeErr                                error
}

// AnswerPeer is an answerer on the transport, as the built-in gateway
// drives one: it answers the caller's offers and re-offers for a remote
// hold (internal/gateway's Answerer and Reofferer).
type AnswerPeer interface {
	// Answer answers the initial offer or a re-offer.
	Answer(ctx context.Context, offerSDP string) (string, error)
	// Reoffer returns a re-offer: hold marks every section inactive.
	Reoffer(ctx context.Context, hold bool) (string, error)
	// ApplyAnswer applies the answer to the last Reoffer.
	ApplyAnswer(answerSDP string) error
	// Stats returns the media statistics so far.
	Stats() metrics.MediaStats
	// Close ends the media.
	Close() error
}

// NewAnswerPeer creates an answerer on the engine's transport (the
// engine must have EngineConfig.Transport set): ICE controlled, DTLS
// client unless the offer asks otherwise, media as a caller's.
func (e *Engine) NewAnswerPeer(opts PeerOptions) (AnswerPeer, error) {
	if e.transport == nil {
		return nil, errors.New("media: NewAnswerPeer: the engine has no transport (EngineConfig.Transport)")
	}
	return e.newTransportPeer(false, opts)
}

// newTransportCaller creates a caller on the transport.
func (e *Engine) newTransportCaller(opts PeerOptions) (*tPeer, error) {
	return e.newTransportPeer(true, opts)
}

// newTransportPeer creates a transport peer: a caller (ICE controlling,
// offers) or an answerer.
func (e *Engine) newTransportPeer(caller bool, opts PeerOptions) (*tPeer, error) {
	t := e.transport
	l := t.pick()
	p := &tPeer{
		e: e, l: l, opts: opts, caller: caller,
		connected:  make(chan struct{}),
		failed:     make(chan struct{}),
		firstMedia: make(chan struct{}),
		closedCh:   make(chan struct{}),
		iceUp:      make(chan struct{}),
		rrSSRC:     rand.Uint32(),
		origin:     rand.Uint64() >> 2,
		streamID:   fmt.Sprintf("loadgen-%08x", rand.Uint32()),
		cname:      fmt.Sprintf("%016x", rand.Uint64()),
		ssrcs:      [2]uint32{rand.Uint32(), rand.Uint32()},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.inst = newInstants(e.now)
	p.ufrag, p.pwd = iceagent.RandomCredentials(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	local := l.local
	if !caller {
		var err error
		if p.own, err = t.listen(l.local.Addr()); err != nil {
			return nil, err
		}
		local = p.own.LocalAddr()
	}
	for i, ip := range t.ips {
		p.cands = append(p.cands, hostCandidate(i, netip.AddrPortFrom(ip, local.Port())))
	}
	p.in[0] = newInStream(e.expA, e.audio.clockRate)
	p.in[1] = newInStream(e.expV, e.video.clockRate)
	p.in[0].router, p.in[1].router = e.router, e.router
	p.in[0].byPT = &e.audioByPT
	p.audio = newOutTrack(p, &p.inst, e.router, e.audio, "audio", p.streamID, uint16(rand.Uint32()), rand.Uint32())
	p.audio.alts = e.audioAlts
	if opts.Video {
		p.video = newOutTrack(p, &p.inst, e.router, e.video, "video", p.streamID, uint16(rand.Uint32()), rand.Uint32())
	}
	if !opts.Video {
		p.ssrcs[1] = 0 // no video sent
	}
	agent, err := iceagent.New(iceagent.Config{
		Controlling:   caller,
		LocalUfrag:    p.ufrag,
		LocalPwd:      p.pwd,
		Tiebreaker:    rand.Uint64(),
		FailedTimeout: e.iceFailedTimeout(),
	}, netip.AddrPortFrom(t.ips[0], local.Port()))
	if err != nil {
		p.closeOwn()
		return nil, fmt.Errorf("media: transport: ICE agent: %w", err)
	}
	p.ice = agent
	if err := e.registerCall(p); err != nil {
		p.closeOwn()
		return nil, err
	}
	if p.own != nil {
		p.wg.Go(p.readOwn)
	} else {
		l.register(p, nil)
	}
	return p, nil
}

// sock is the socket the call's packets go out through.
func (p *tPeer) sock() *netio.Conn {
	if p.own != nil {
		return p.own
	}
	return p.l.conn
}

func (p *tPeer) closeOwn() {
	if p.own != nil {
		_ = p.own.Close()
	}
}

// readOwn reads an answerer's own socket: every datagram is the call's.
func (p *tPeer) readOwn() { readBatches(p.own, 4, p.in1) }

// in1 handles one datagram of this call (RFC 7983).
func (p *tPeer) in1(b []byte, from netip.AddrPort, now time.Time) {
	if len(b) == 0 {
		return
	}
	switch {
	case b[0] < 4:
		p.stunIn(b, from, now)
	case b[0] >= 20 && b[0] <= 63:
		p.dtlsIn(b)
	case b[0] >= 128 && b[0] <= 191:
		p.srtpIn(b, now)
	}
}

// iceFailedTimeout is the ICE failure timeout the engine uses.
func (e *Engine) iceFailedTimeout() time.Duration {
	if e.cfg.ICEFailedTimeout > 0 {
		return e.cfg.ICEFailedTimeout
	}
	return DefaultICEFailedTimeout
}

// description is our current description: the template filled with the
// call's values.
func (p *tPeer) description(direction, setup string) string {
	k := 0
	if p.opts.Video {
		k = 1
	}
	v := p.values()
	v.direction, v.setup = direction, setup
	return p.e.transport.tmpl[k].fill(v)
}

// CreateOffer returns the initial offer: the lean pion caller's shape with
// the transport's host candidates, ICE credentials and SSRCs.
func (p *tPeer) CreateOffer(ctx context.Context) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("media: create offer: %w", err)
	}
	p.lastLocal = p.description("", "")
	return p.lastLocal, nil
}

// ApplyAnswer applies the remote answer: the first one starts ICE and the
// DTLS handshake; later ones (hold, unhold) change directions only.
func (p *tPeer) ApplyAnswer(answerSDP string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return err
	}
	ra, err := parseAnswer(answerSDP)
	if err != nil {
		return fmt.Errorf("media: apply answer: %w: %w", ErrBadSDP, err)
	}
	p.setPTs(ra)
	if p.remote == nil {
		if err := p.start(ra); err != nil {
			return err
		}
	}
	p.negotiated(answerSDP, false)
	return nil
}

// setPTs binds the tracks to the codecs the remote chose and routes the
// remote's payload types to the receivers.
func (p *tPeer) setPTs(ra *remoteAnswer) {
	kinds := ra.kindOfPT
	p.kindOfPT.Store(&kinds)
	for k, t := range [2]*outTrack{p.audio, p.video} {
		if t == nil || !ra.send[k].ok {
			continue
		}
		src := t.sourceFor(mimeOf(k, ra.send[k].mime))
		if src == nil {
			continue
		}
		if old := t.bind.Load(); old != nil && old.pt == ra.send[k].pt {
			continue
		}
		b := &binding{writer: &tWriter{p: p, t: t}, ssrc: p.ssrcs[k], pt: ra.send[k].pt, src: src}
		if old := t.bind.Swap(b); old == nil && p.e.router != nil {
			p.e.router.addSender(t, b.ssrc)
		}
	}
}

// mimeOf is the mime type of a codec name from an rtpmap.
func mimeOf(k int, name string) string {
	if k == 1 {
		return "video/" + name
	}
	return "audio/" + name
}

// start starts ICE toward the answer's candidates and the DTLS handshake
// once ICE connects. negMu is held.
func (p *tPeer) start(ra *remoteAnswer) error {
	p.remote = ra
	if p.own == nil {
		var addrs []netip.AddrPort
		for _, c := range ra.candidates {
			addrs = append(addrs, c.Addr)
		}
		p.l.register(p, addrs)
	}
	now := time.Now()
	p.iceMu.Lock()
	p.ice.SetRemote(ra.ufrag, ra.pwd, ra.candidates)
	p.ice.Start(now)
	p.inst.mark(evICEChecking)
	p.iceMu.Unlock()
	p.pollICE(now)
	p.l.watchICE(p)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return ErrClosed
	}
	// Ready before ICE connects: a DTLS client far end sends its
	// ClientHello the moment its checks succeed.
	p.dconn = newDTLSPacketConn(p.sock())
	p.wg.Go(p.handshake)
	return nil
}

// pollICE runs the agent's timers and sends what they produce.
func (p *tPeer) pollICE(now time.Time) {
	p.iceMu.Lock()
	out, next := p.ice.Poll(now, p.iceOut[:0])
	p.iceOut = out
	p.iceNext.Store(nanos(next))
	p.iceSendLocked(out)
	p.iceState()
	p.iceMu.Unlock()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// iceSendLocked writes the agent's packets. iceMu is held.
func (p *tPeer) iceSendLocked(out []iceagent.Outgoing) {
	for _, o := range out {
		_ = p.sock().WriteTo(o.Buf, o.To) // a lost check is retransmitted
	}
}

// iceState follows the agent's state. iceMu is held.
func (p *tPeer) iceState() {
	switch p.ice.State() {
	case iceagent.StateConnected:
		if a, ok := p.ice.Selected(); ok {
			if cur := p.raddr.Load(); cur == nil || *cur != a {
				p.raddr.Store(&a)
			}
		}
		if p.inst.mark(evICEConnected) {
			close(p.iceUp)
		}
	case iceagent.StateFailed:
		err := p.ice.Err()
		if err == nil {
			err = errors.New("checks failed")
		}
		p.fail(fmt.Errorf("%w: %w", ErrICEFailed, err))
	default:
	}
}

// stunIn handles a STUN packet (reader goroutine).
func (p *tPeer) stunIn(b []byte, from netip.AddrPort, now time.Time) {
	p.iceMu.Lock()
	out := p.ice.Handle(now, from, b, p.iceOut[:0])
	p.iceOut = out
	p.iceNext.Store(nanos(p.ice.Deadline())) // a triggered check may be queued
	p.iceSendLocked(out)
	p.iceState()
	p.iceMu.Unlock()
}

// handshake waits for ICE, runs the DTLS handshake, derives the SRTP
// contexts and starts the media.
func (p *tPeer) handshake() {
	select {
	case <-p.iceUp:
	case <-p.ctx.Done():
		return
	}
	ra := p.remote
	raddr := *p.raddr.Load()
	p.dconnLoad().setRemote(raddr)
	conn, err := p.dialDTLS(raddr, ra)
	if err == nil {
		p.mu.Lock()
		p.dtls = conn
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(p.ctx, dtlsTimeout)
		err = conn.HandshakeContext(ctx)
		cancel()
	}
	if err == nil {
		err = p.keys(conn, ra.dtlsClient)
	}
	if err != nil {
		if p.ctx.Err() == nil {
			p.fail(fmt.Errorf("%w: %w", ErrDTLSFailed, err))
		}
		return
	}
	p.inst.mark(evDTLSConnected)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isConnected || p.closing || p.isFailed {
		return
	}
	p.isConnected = true
	close(p.connected)
	tracks := []*outTrack{p.audio}
	if p.video != nil {
		tracks = append(tracks, p.video)
	}
	p.pacing = true
	p.l.shard.add(p, tracks...)
}

// dialDTLS makes the call's DTLS connection over the packet-conn adapter:
// the client or the server as the negotiation said, the engine's
// certificate, the far end's checked against the SDP fingerprint.
func (p *tPeer) dialDTLS(raddr netip.AddrPort, ra *remoteAnswer) (*dtls.Conn, error) {
	opts := []dtls.Option{
		dtls.WithCertificates(p.e.transport.cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			sum := sha256.Sum256(raw[0])
			if !bytes.Equal(sum[:], ra.fingerprint) {
				return errors.New("certificate does not match the answer's fingerprint")
			}
			return nil
		}),
		dtls.WithLoggerFactory(p.e.loggerFactory()),
	}
	to := net.UDPAddrFromAddrPort(raddr)
	if ra.dtlsClient {
		copts := make([]dtls.ClientOption, 0, len(opts))
		for _, o := range opts {
			copts = append(copts, o)
		}
		return dtls.ClientWithOptions(p.dconnLoad(), to, copts...)
	}
	sopts := make([]dtls.ServerOption, 0, len(opts)+1)
	for _, o := range opts {
		sopts = append(sopts, o)
	}
	sopts = append(sopts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
	return dtls.ServerWithOptions(p.dconnLoad(), to, sopts...)
}

// keys derives the SRTP contexts from the DTLS connection.
func (p *tPeer) keys(conn *dtls.Conn, client bool) error {
	profile, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return errors.New("no SRTP protection profile negotiated")
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return errors.New("no DTLS connection state")
	}
	cfg := &srtp.Config{Profile: srtp.ProtectionProfile(profile)}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		return fmt.Errorf("SRTP keys: %w", err)
	}
	enc, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
	if err != nil {
		return fmt.Errorf("SRTP context: %w", err)
	}
	dec, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile,
		srtp.SRTPReplayProtection(64), srtp.SRTCPReplayProtection(64))
	if err != nil {
		return fmt.Errorf("SRTP context: %w", err)
	}
	p.decMu.Lock()
	p.enc, p.dec = enc, dec
	for _, e := range p.early {
		p.decrypt(e.b, e.at)
	}
	p.early = nil
	// Set last: once the reader sees it, it decrypts without decMu (the
	// early packets are accounted; nobody else decrypts any more).
	p.ready.Store(true)
	p.decMu.Unlock()
	return nil
}

// dtlsIn hands a DTLS record to the handshake (reader goroutine).
func (p *tPeer) dtlsIn(b []byte) {
	if c := p.dconnLoad(); c != nil {
		c.deliver(b)
	}
}

func (p *tPeer) dconnLoad() *dtlsPacketConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dconn
}

// srtpIn decrypts and accounts one SRTP or SRTCP packet in place (reader
// goroutine).
func (p *tPeer) srtpIn(b []byte, now time.Time) {
	if len(b) < 12 {
		return
	}
	if p.ready.Load() {
		p.decrypt(b, now) // the hot path: no lock
		return
	}
	p.decMu.Lock()
	defer p.decMu.Unlock()
	if !p.ready.Load() {
		// The far end's keys are ready before ours (the DTLS server ends
		// its handshake first): keep its first packets for the keys.
		if len(p.early) < maxEarly {
			p.early = append(p.early, earlyPacket{bytes.Clone(b), now})
		}
		return
	}
	p.decrypt(b, now)
}

// maxEarly bounds the SRTP packets kept until the keys are derived.
const maxEarly = 16

// earlyPacket is an SRTP packet that arrived before the keys.
type earlyPacket struct {
	b  []byte
	at time.Time
}

// decrypt decrypts and accounts one packet; decMu is held.
func (p *tPeer) decrypt(b []byte, now time.Time) {
	if b[1] >= 192 && b[1] <= 223 {
		out, err := p.dec.DecryptRTCP(b, b, &p.decRTCP)
		if err != nil || p.e.router == nil {
			return
		}
		r := p.e.router
		for k, t := range [2]*outTrack{p.audio, p.video} {
			if t != nil {
				r.compound(p.ssrcs[k], out, now)
			}
			if p.in[k].rStarted.Load() {
				r.compound(p.in[k].rSSRC.Load(), out, now)
			}
		}
		return
	}
	out, err := p.dec.DecryptRTP(b, b, &p.decHdr)
	if err != nil {
		return
	}
	kinds := p.kindOfPT.Load()
	k := kinds[p.decHdr.PayloadType&0x7f]
	if k < 0 {
		return
	}
	in := p.in[k]
	in.mu.Lock()
	in.packet(out, now)
	first := !in.gotFirst
	in.gotFirst = true
	in.mu.Unlock()
	if first {
		p.markFirstMedia()
	}
}

func (p *tPeer) markFirstMedia() {
	p.inst.mark(evFirstReceived)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gotMedia {
		p.gotMedia = true
		close(p.firstMedia)
	}
}

// tWriter is the transport's webrtc.TrackLocalWriter for one track: it
// encrypts into the loop's send batch (pacer goroutine).
type tWriter struct {
	p *tPeer
	t *outTrack
}

// WriteRTP encrypts one packet into the send batch.
func (w *tWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	l := w.p.l
	n, err := h.MarshalTo(l.scratch)
	if err != nil {
		return 0, err
	}
	n += copy(l.scratch[n:], payload)
	return w.write(l.scratch[:n], len(payload))
}

// Write encrypts one marshalled RTP packet into the send batch.
func (w *tWriter) Write(b []byte) (int, error) {
	return w.write(b, len(b))
}

func (w *tWriter) write(plain []byte, plen int) (int, error) {
	p, l := w.p, w.p.l
	to := p.raddr.Load()
	if to == nil || !p.ready.Load() {
		return 0, errNotConnected
	}
	m := l.slot()
	ct, err := p.enc.EncryptRTP(m.Buf[:0], plain, &p.encHdr)
	if err != nil {
		return 0, err
	}
	m.N, m.Addr = len(ct), *to
	if p.own != nil {
		// A socket of its own: sent now, not batched (the slot stays free).
		if err := p.own.WriteTo(ct, *to); err != nil {
			return 0, err
		}
		return plen, nil
	}
	l.queued(w.t, plen)
	return plen, nil
}

var errNotConnected = errors.New("media: transport: not connected")

// sendReports writes the call's RTCP reports (pacer goroutine), as the
// lean pion peer does.
func (p *tPeer) sendReports(now time.Time) {
	to := p.raddr.Load()
	if to == nil || !p.ready.Load() {
		return
	}
	pkts := reportPackets([2]*outTrack{p.audio, p.video}, p.in, p.rrSSRC, now)
	if len(pkts) == 0 {
		return
	}
	plain, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	m := p.l.slot()
	ct, err := p.enc.EncryptRTCP(m.Buf[:0], plain, &p.encRTCP)
	if err != nil {
		return
	}
	m.N, m.Addr = len(ct), *to
	if p.own != nil {
		_ = p.own.WriteTo(ct, *to) // a lost report is replaced by the next
		return
	}
	p.l.queued(nil, 0)
}

// HoldOffer returns a re-offer for hold (inactive) or unhold (sendrecv)
// with the same ICE credentials and SSRCs.
func (p *tPeer) HoldOffer(ctx context.Context, hold bool) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("media: hold offer: %w", err)
	}
	dir := ""
	if hold {
		p.setPaused(true)
		now := time.Now()
		for _, in := range p.in {
			in.setExpecting(false, now)
		}
		dir = "inactive"
	}
	p.localHold = hold
	p.lastLocal = p.description(dir, "")
	return p.lastLocal, nil
}

// Answer answers a remote re-offer (the far end's hold or unhold).
func (p *tPeer) Answer(ctx context.Context, offerSDP string) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("media: answer: %w", err)
	}
	if p.remote == nil && p.caller {
		return "", fmt.Errorf("media: answer: a caller answers only re-offers: %w", ErrBadSDP)
	}
	if p.remote == nil {
		return p.answerInitial(offerSDP)
	}
	offered, err := directions(offerSDP)
	if err != nil {
		return "", fmt.Errorf("media: answer: %w: %w", ErrBadSDP, err)
	}
	if ra, err := parseAnswer(offerSDP); err == nil {
		p.setPTs(ra)
	}
	dirs := answerDirections(offered)
	if p.localHold {
		dirs = holdAnswerDirections(offered)
	}
	setup := "passive"
	if p.remote.dtlsClient {
		setup = "active"
	}
	plan := p.plan // an answerer's, fixed by the first offer
	if plan == nil {
		// A caller answers the far end's re-offer (a remote hold) the
		// way an answerer answers an offer, keeping its DTLS role.
		if plan, err = planAnswer(offerSDP, p.opts.Video); err != nil {
			return "", fmt.Errorf("media: answer: %w: %w", ErrBadSDP, err)
		}
	}
	answer := plan.text(p.values(), p.e.transport.fingerprint, setup, dirs)
	p.lastLocal = answer
	p.negotiated(answer, true)
	return answer, nil
}

// values are the call's own values for its descriptions.
func (p *tPeer) values() offerValues {
	return offerValues{
		ufrag: p.ufrag, pwd: p.pwd, ssrcs: p.ssrcs, streamID: p.streamID, cname: p.cname,
		origin: p.origin, candidates: p.cands,
	}
}

// answerInitial answers the initial offer (answerer): the plan, the
// codecs, ICE as the controlled agent and the DTLS handshake. negMu is
// held.
func (p *tPeer) answerInitial(offerSDP string) (string, error) {
	plan, err := planAnswer(offerSDP, p.opts.Video)
	if err != nil {
		return "", fmt.Errorf("media: answer: %w: %w", ErrBadSDP, err)
	}
	ra, err := parseAnswer(offerSDP)
	if err != nil {
		return "", fmt.Errorf("media: answer: %w: %w", ErrBadSDP, err)
	}
	ra.dtlsClient = plan.setup == "active"
	p.plan = plan
	p.setPTs(ra)
	if err := p.start(ra); err != nil {
		return "", err
	}
	answer := plan.text(p.values(), p.e.transport.fingerprint, plan.setup, nil)
	p.lastLocal = answer
	p.negotiated(answer, true)
	return answer, nil
}

// Reoffer returns a re-offer: the caller's HoldOffer, or the answerer's
// own (a remote hold from the gateway's side).
func (p *tPeer) Reoffer(ctx context.Context, hold bool) (string, error) {
	if p.caller {
		return p.HoldOffer(ctx, hold)
	}
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.checkOpen(); err != nil {
		return "", err
	}
	if p.plan == nil {
		return "", fmt.Errorf("media: reoffer before the call's offer: %w", ErrBadSDP)
	}
	var dirs map[string]string
	if hold {
		p.setPaused(true)
		now := time.Now()
		for _, in := range p.in {
			in.setExpecting(false, now)
		}
		dirs = map[string]string{}
		for _, s := range p.plan.sections {
			dirs[s.mid] = "inactive"
		}
	} else {
		dirs = map[string]string{}
		for _, s := range p.plan.sections {
			if s.kind >= 0 {
				dirs[s.mid] = "sendrecv"
			}
		}
	}
	p.localHold = hold
	p.lastLocal = p.plan.text(p.values(), p.e.transport.fingerprint, "actpass", dirs)
	return p.lastLocal, nil
}

// negotiated pauses and resumes tracks and receivers from the directions
// of a completed offer/answer (see Peer.negotiated).
func (p *tPeer) negotiated(answer string, local bool) {
	dirs, err := directions(answer)
	if err != nil {
		return
	}
	for mid, d := range dirs {
		k := p.kindOfMid(mid)
		if k < 0 {
			continue
		}
		send, recv := d == "sendrecv", d == "sendrecv"
		if local {
			send = send || d == "sendonly"
			recv = recv || d == "recvonly"
		} else {
			send = send || d == "recvonly"
			recv = recv || d == "sendonly"
		}
		if t := [2]*outTrack{p.audio, p.video}[k]; t != nil {
			t.paused.Store(!send)
		}
		p.in[k].setExpecting(recv, time.Now())
	}
}

// kindOfMid is the media kind of a section (-1: none we carry): the
// answer plan's for an answerer, the template's mids ("0" audio, "1"
// video) for a caller.
func (p *tPeer) kindOfMid(mid string) int {
	if p.plan != nil {
		for _, s := range p.plan.sections {
			if s.mid == mid {
				return s.kind
			}
		}
		return -1
	}
	switch mid {
	case "0":
		return 0
	case "1":
		return 1
	}
	return -1
}

func (p *tPeer) setPaused(paused bool) {
	for _, t := range []*outTrack{p.audio, p.video} {
		if t != nil {
			t.paused.Store(paused)
		}
	}
}

func (p *tPeer) checkOpen() error {
	select {
	case <-p.closedCh:
		return ErrClosed
	default:
		return nil
	}
}

// fail records the first failure and wakes the waiters.
func (p *tPeer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isFailed || p.closing {
		return
	}
	p.isFailed = true
	p.failErr = err
	close(p.failed)
}

// Events returns the instants the peer has reached so far.
func (p *tPeer) Events() Events { return p.inst.snapshot() }

// WaitConnected waits until ICE and DTLS are connected.
func (p *tPeer) WaitConnected(ctx context.Context) error {
	return p.wait(ctx, p.connected, "connected")
}

// WaitFirstMedia waits until the first remote RTP packet arrives.
func (p *tPeer) WaitFirstMedia(ctx context.Context) error {
	return p.wait(ctx, p.firstMedia, "first media")
}

func (p *tPeer) wait(ctx context.Context, done <-chan struct{}, what string) error {
	return awaitEvent(ctx, done, p.failed, p.closedCh, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.failErr
	}, what)
}

// Stats returns the call's media statistics (see Peer.Stats).
func (p *tPeer) Stats() metrics.MediaStats {
	return mediaStats(p.e, [2]*outTrack{p.audio, p.video}, [2]*naiveTrack{}, p.in)
}

// Close ends the call's media: the pacer and the loop forget it, the DTLS
// connection sends its close alert, and the handshake goroutine ends.
func (p *tPeer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		pacing := p.pacing
		conn := p.dtls
		close(p.closedCh)
		p.mu.Unlock()
		if pacing {
			p.l.shard.remove(p)
		}
		p.l.unwatchICE(p)
		p.cancel()
		if conn != nil {
			p.closeErr = conn.Close()
		}
		p.closeOwn()
		p.wg.Wait()
		if dc := p.dconnLoad(); dc != nil {
			_ = dc.Close()
		}
		p.l.unregister(p)
		if r := p.e.router; r != nil {
			for k, t := range [2]*outTrack{p.audio, p.video} {
				if t != nil && t.bind.Load() != nil {
					r.removeSender(t, p.ssrcs[k])
				}
			}
			for _, in := range p.in {
				if in.rStarted.Load() {
					r.removeReceiver(in, in.rSSRC.Load())
				}
			}
		}
		p.e.unregisterCall(p)
	})
	if p.closeErr != nil && !errors.Is(p.closeErr, net.ErrClosed) && !strings.Contains(p.closeErr.Error(), "closed") {
		return fmt.Errorf("media: close: %w", p.closeErr)
	}
	return nil
}

// dtlsPacketConn is the net.PacketConn pion/dtls runs over: records the
// loop's reader hands over, and writes straight to the shared socket.
type dtlsPacketConn struct {
	sock interface {
		WriteTo([]byte, netip.AddrPort) error
	}
	raddr atomic.Pointer[netip.AddrPort] // the selected pair's remote
	in    chan []byte
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed and replaced when the deadline changes
}

func newDTLSPacketConn(sock interface {
	WriteTo([]byte, netip.AddrPort) error
}) *dtlsPacketConn {
	return &dtlsPacketConn{sock: sock, in: make(chan []byte, 16), done: make(chan struct{}), changed: make(chan struct{})}
}

// setRemote sets where records go (the selected pair's remote).
func (c *dtlsPacketConn) setRemote(a netip.AddrPort) { c.raddr.Store(&a) }

// deliver queues a copy of a record (dropped when the queue is full: DTLS
// retransmits).
func (c *dtlsPacketConn) deliver(b []byte) {
	select {
	case c.in <- bytes.Clone(b):
	default:
	}
}

// ReadFrom implements net.PacketConn.
func (c *dtlsPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, changed := c.deadline, c.changed
		c.mu.Unlock()
		var expired <-chan time.Time
		var timer *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		var pkt []byte
		var err error
		select {
		case pkt = <-c.in:
		case <-c.done:
			err = net.ErrClosed
		case <-changed:
		case <-expired:
			err = os.ErrDeadlineExceeded
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return 0, nil, err
		}
		if pkt != nil {
			var from net.Addr
			if a := c.raddr.Load(); a != nil {
				from = net.UDPAddrFromAddrPort(*a)
			}
			return copy(b, pkt), from, nil
		}
	}
}

// WriteTo implements net.PacketConn: to the call's remote, whatever addr.
func (c *dtlsPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	a := c.raddr.Load()
	if a == nil {
		return 0, errNotConnected
	}
	if err := c.sock.WriteTo(b, *a); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close implements net.PacketConn.
func (c *dtlsPacketConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// LocalAddr implements net.PacketConn.
func (c *dtlsPacketConn) LocalAddr() net.Addr { return &net.UDPAddr{} }

// SetDeadline implements net.PacketConn (reads only: writes never block).
func (c *dtlsPacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *dtlsPacketConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

// SetWriteDeadline implements net.PacketConn (writes never block).
func (c *dtlsPacketConn) SetWriteDeadline(time.Time) error { return nil }
