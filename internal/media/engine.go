package media

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	dtlsElliptic "github.com/pion/dtls/v3/pkg/crypto/elliptic"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

const (
	kindAudio = webrtc.RTPCodecTypeAudio
	kindVideo = webrtc.RTPCodecTypeVideo
)

// Defaults for EngineConfig's zero values.
const (
	DefaultICEDisconnectedTimeout = 5 * time.Second
	DefaultICEFailedTimeout       = 10 * time.Second
	DefaultICEKeepalive           = 2 * time.Second
	// DefaultGatherTimeout is how long an offer or answer waits for ICE
	// gathering before it goes out with the candidates found so far (the
	// reference SDK's 3 s, protocol §6.1).
	DefaultGatherTimeout = 3 * time.Second
)

// EngineConfig configures an Engine. The zero value is usable: default
// media, every interface, any port.
type EngineConfig struct {
	// PortMin and PortMax bound the local UDP port of every call's socket
	// (both zero: any ephemeral port).
	PortMin, PortMax uint16
	// IncludeLoopback gathers host candidates on loopback addresses too
	// (needed for local runs against 127.0.0.1).
	IncludeLoopback bool
	// Interfaces, when not empty, restricts gathering to these network
	// interface names (e.g. "lo", "eth0").
	Interfaces []string
	// IPs, when not empty, restricts gathering to these local addresses
	// (e.g. "127.0.0.1").
	IPs []string
	// ICEServers are the STUN/TURN servers every call uses.
	ICEServers []webrtc.ICEServer
	// RelayOnly sets the ICE transport policy to relay (TURN only).
	RelayOnly bool
	// ICEDisconnectedTimeout, ICEFailedTimeout and ICEKeepalive are pion's
	// ICE timers (zero: the Default values above).
	ICEDisconnectedTimeout, ICEFailedTimeout, ICEKeepalive time.Duration
	// GatherTimeout bounds the wait for ICE gathering in CreateOffer,
	// HoldOffer and Answer (0: DefaultGatherTimeout). When it expires the
	// description goes out with the candidates gathered so far, or fails
	// with ErrNoCandidates when there are none.
	GatherTimeout time.Duration
	// Audio and Video are the media every peer sends (nil: the embedded
	// defaults). Audio is always sent; Video when PeerOptions.Video is set.
	Audio, Video *Source
	// ExpectAudio and ExpectVideo are the media remote peers are expected
	// to send, for the integrity check (nil: same as Audio and Video).
	ExpectAudio, ExpectVideo *Source
	// NoIntegrity disables the payload comparison (for remotes playing
	// media loadgen does not know); sequence checks still run.
	NoIntegrity bool
	// Pacers is the number of pacer goroutines (0: GOMAXPROCS).
	Pacers int
	// PionDefaults builds every peer the way a straightforward pion
	// program does, for comparison benchmarks: a new certificate per call,
	// pion's default interceptors (NACK, RTCP reports, TWCC, stats), a
	// TrackLocalStaticSample with its own ticker goroutine per track and a
	// goroutine per sender reading RTCP. The ICE network settings are the
	// same as the lean engine's.
	PionDefaults bool
	// Transport builds callers on loadgen's own per-core media transport
	// instead of pion's PeerConnection: shared sockets read and written in
	// batches, ICE, DTLS and SRTP run synchronously from the goroutines
	// that own the sockets (transport.go). Answerers are pion peers
	// whatever this says. Host candidates only: no STUN or TURN server.
	Transport bool
	// LoggerFactory receives pion's logs (nil: discarded).
	LoggerFactory logging.LoggerFactory
	// Now is the clock for event instants (nil: time.Now).
	Now func() time.Time
}

// Engine owns what all calls share: one webrtc.API, one DTLS certificate,
// the decoded media and the pacer goroutines. It is safe for concurrent use.
type Engine struct {
	cfg          EngineConfig
	api          *webrtc.API
	pcConfig     webrtc.Configuration
	audio, video *Source
	audioAlts    []*Source // G.722, PCMU and PCMA clips, sent when negotiated
	audioByPT    ptSources // what each audio payload type carries, for receivers
	expA, expV   *Source
	now          func() time.Time

	shards  []*shard
	next    atomic.Uint32
	router  *rtcpRouter  // lean engine: reads every peer's incoming RTCP
	buffers *pionBuffers // lean engine: the router's adapter to pion's SRTP buffers
	stop    chan struct{}
	wg      sync.WaitGroup

	transport *transport // callers' own transport (Transport), else nil

	mu     sync.Mutex
	closed bool
	peers  map[*Peer]struct{}
	calls  map[*tPeer]struct{} // the transport's callers
}

// NewEngine validates cfg, decodes the default media where needed, builds
// the webrtc.API and the certificate and starts the pacers.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	e := &Engine{cfg: cfg, audio: cfg.Audio, video: cfg.Video, now: cfg.Now, peers: map[*Peer]struct{}{}, calls: map[*tPeer]struct{}{}}
	if e.now == nil {
		e.now = time.Now
	}
	if e.cfg.GatherTimeout == 0 {
		e.cfg.GatherTimeout = DefaultGatherTimeout
	}
	if e.cfg.GatherTimeout < 0 {
		return nil, fmt.Errorf("media: engine: negative GatherTimeout %v", cfg.GatherTimeout)
	}
	if err := e.loadMedia(); err != nil {
		return nil, err
	}
	ips, err := cfg.networkIPs()
	if err != nil {
		return nil, err
	}
	if !cfg.PionDefaults {
		e.router = newRTCPRouter()
		e.buffers = &pionBuffers{r: e.router}
	}
	if e.api, err = e.buildAPI(ips); err != nil {
		return nil, err
	}
	if err := e.configurePeers(); err != nil {
		return nil, err
	}
	if cfg.Transport {
		if cfg.PionDefaults || len(cfg.ICEServers) > 0 || cfg.RelayOnly {
			return nil, errors.New("media: engine: the transport takes no ICE servers, relay policy or PionDefaults")
		}
		if err := e.startTransport(); err != nil {
			return nil, err
		}
	}
	e.startPacers()
	return e, nil
}

// loadMedia decodes the default media the config leaves out, and sets the
// sources received media is checked against, by payload type.
func (e *Engine) loadMedia() error {
	cfg := e.cfg
	var err error
	if e.audio == nil {
		if e.audio, err = DefaultAudio(); err != nil {
			return err
		}
	}
	if e.video == nil {
		if e.video, err = DefaultVideo(); err != nil {
			return err
		}
	}
	if e.audio.kind != kindAudio || e.video.kind != kindVideo {
		return errors.New("media: engine: Audio must be an audio Source and Video a video Source")
	}
	e.expA, e.expV = cfg.ExpectAudio, cfg.ExpectVideo
	if e.expA == nil {
		e.expA = e.audio
	}
	if e.expV == nil {
		e.expV = e.video
	}
	if cfg.NoIntegrity {
		e.expA, e.expV = nil, nil
	}
	for _, load := range []func() (*Source, error){DefaultG722, DefaultPCMU, DefaultPCMA} {
		s, err := load()
		if err != nil {
			return err
		}
		e.audioAlts = append(e.audioAlts, s)
	}
	e.audioByPT[opusPayloadType] = e.audio
	if e.expA != nil {
		e.audioByPT[opusPayloadType] = e.expA
	}
	e.audioByPT[g722PayloadType], e.audioByPT[pcmuPayloadType], e.audioByPT[pcmaPayloadType] = e.audioAlts[0], e.audioAlts[1], e.audioAlts[2]
	return nil
}

// networkIPs checks the port range and the pacer count and parses the
// media IPs.
func (cfg EngineConfig) networkIPs() ([]net.IP, error) {
	if (cfg.PortMin == 0) != (cfg.PortMax == 0) || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("media: engine: bad port range %d-%d", cfg.PortMin, cfg.PortMax)
	}
	var ips []net.IP
	for _, s := range cfg.IPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("media: engine: bad IP %q", s)
		}
		ips = append(ips, ip)
	}
	if cfg.Pacers < 0 {
		return nil, fmt.Errorf("media: engine: negative Pacers %d", cfg.Pacers)
	}
	return ips, nil
}

// configurePeers sets the configuration every PeerConnection shares: ICE
// servers and policy, no header encryption and (lean engine) one
// certificate.
func (e *Engine) configurePeers() error {
	cfg := e.cfg
	e.pcConfig = webrtc.Configuration{
		ICEServers: cfg.ICEServers,
		// No session-level a=cryptex: the reference SDK never offers
		// RTP header extension encryption.
		RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable,
	}
	if cfg.RelayOnly {
		e.pcConfig.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	if !cfg.PionDefaults {
		cert, err := newCertificate()
		if err != nil {
			return err
		}
		e.pcConfig.Certificates = []webrtc.Certificate{*cert}
	}
	return nil
}

// startPacers starts the lean engine's pacer shards (Pacers of them, or
// GOMAXPROCS).
func (e *Engine) startPacers() {
	n := e.cfg.Pacers
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	e.stop = make(chan struct{})
	if !e.cfg.PionDefaults {
		for range n {
			s := newShard()
			e.shards = append(e.shards, s)
			e.wg.Go(func() { s.run(e.stop, AudioFrameDuration, e.video.period) })
		}
	}
}

// newCertificate generates the ECDSA P-256 certificate every call shares.
func newCertificate() (*webrtc.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("media: certificate key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("media: certificate: %w", err)
	}
	return cert, nil
}

// buildAPI assembles the MediaEngine, interceptors and SettingEngine.
func (e *Engine) buildAPI(ips []net.IP) (*webrtc.API, error) {
	cfg := e.cfg
	m := &webrtc.MediaEngine{}
	if err := registerOffer(m, e.audio, e.video, !cfg.PionDefaults); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if cfg.PionDefaults {
		if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
			return nil, fmt.Errorf("media: interceptors: %w", err)
		}
	}
	// The lean engine registers no interceptor: the pacer writes the RTCP
	// sender and receiver reports itself, from counters it keeps anyway,
	// which spares two goroutines and a ticker per call and an allocation
	// per received packet (pion's report interceptors).

	se := webrtc.SettingEngine{LoggerFactory: e.loggerFactory()}
	if e.buffers != nil {
		// Incoming RTCP (and declared RTP) is read in pion's SRTCP (SRTP)
		// session goroutine, not by a goroutine per sender and per
		// receiver (rtcpRouter, through the pionBuffers adapter).
		e.buffers.install(&se)
	}
	if !cfg.PionDefaults {
		// One network for every call: without it each call's ICE agent
		// lists the interfaces and their addresses afresh (netlink
		// dumps) and keeps its own copy. The list is taken once, when the
		// engine starts.
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("media: network interfaces: %w", err)
		}
		se.SetNet(n)
		// P-256 first for the DTLS key exchange: Go's P-256 has assembly,
		// its X25519 does not (X25519 was a sixth of the setup CPU). Both
		// are offered, so any remote still finds a common curve.
		se.SetDTLSEllipticCurves(dtlsElliptic.P256, dtlsElliptic.X25519)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if cfg.PortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
			return nil, fmt.Errorf("media: port range: %w", err)
		}
	}
	disc, failed, keep := cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepalive
	if disc == 0 {
		disc = DefaultICEDisconnectedTimeout
	}
	if failed == 0 {
		failed = DefaultICEFailedTimeout
	}
	if keep == 0 {
		keep = DefaultICEKeepalive
	}
	se.SetICETimeouts(disc, failed, keep)
	if len(cfg.Interfaces) > 0 {
		names := slices.Clone(cfg.Interfaces)
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(names, name) })
	}
	if len(ips) > 0 {
		se.SetIPFilter(func(ip net.IP) bool {
			return slices.ContainsFunc(ips, func(want net.IP) bool { return want.Equal(ip) })
		})
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

func (e *Engine) loggerFactory() logging.LoggerFactory {
	if e.cfg.LoggerFactory != nil {
		return e.cfg.LoggerFactory
	}
	return discardLoggerFactory{}
}

// Audio returns the Source the engine's peers send as audio.
func (e *Engine) Audio() *Source { return e.audio }

// Video returns the Source the engine's peers send as video.
func (e *Engine) Video() *Source { return e.video }

// Peers returns the number of open peers.
func (e *Engine) Peers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.peers) + len(e.calls)
}

// Close closes every open peer, stops the pacers and waits for them. It is
// idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	peers := make([]*Peer, 0, len(e.peers))
	for p := range e.peers {
		peers = append(peers, p)
	}
	calls := make([]*tPeer, 0, len(e.calls))
	for p := range e.calls {
		calls = append(calls, p)
	}
	e.mu.Unlock()
	var errs []error
	for _, p := range peers {
		errs = append(errs, p.Close())
	}
	for _, p := range calls {
		errs = append(errs, p.Close())
	}
	if e.transport != nil {
		e.transport.close()
	}
	close(e.stop)
	e.wg.Wait()
	return errors.Join(errs...)
}

// register adds a new peer; it fails once the engine is closed.
func (e *Engine) register(p *Peer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.peers[p] = struct{}{}
	return nil
}

// registerCall adds a transport caller; it fails once the engine is closed.
func (e *Engine) registerCall(p *tPeer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.calls[p] = struct{}{}
	return nil
}

func (e *Engine) unregisterCall(p *tPeer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.calls, p)
}

func (e *Engine) unregister(p *Peer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.peers, p)
}

// pickShard assigns a peer to a pacer shard, round robin.
func (e *Engine) pickShard() *shard {
	if len(e.shards) == 0 {
		return nil
	}
	return e.shards[int(e.next.Add(1))%len(e.shards)]
}

// discardLoggerFactory drops pion's logs: library code prints nothing.
type discardLoggerFactory struct{}

func (discardLoggerFactory) NewLogger(string) logging.LeveledLogger { return discardLogger{} }

type discardLogger struct{}

func (discardLogger) Trace(string)          {}
func (discardLogger) Tracef(string, ...any) {}
func (discardLogger) Debug(string)          {}
func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Info(string)           {}
func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Warn(string)           {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Error(string)          {}
func (discardLogger) Errorf(string, ...any) {}
