package media

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgen/loadgen/internal/iceagent"
	"github.com/loadgen/loadgen/internal/netio"
)

// Transport tuning.
const (
	// batchSize is how many datagrams one recvmmsg or sendmmsg moves.
	batchSize = 64
	// datagramSize bounds a datagram (the MTU-sized media loadgen sends
	// and receives, and a DTLS flight's records).
	datagramSize = 1500
	// iceTick is the granularity of the ICE timers (checks are paced at
	// 50 ms, consent at about 5 s).
	iceTick = 10 * time.Millisecond
)

// transport is the engine's own media transport for callers (see
// EngineConfig.Transport): per core, one UDP socket shared by every call
// placed there, one reader goroutine that reads it in batches and runs
// each packet's protocol work in place (STUN answers, SRTP decryption,
// the receive statistics, RTCP), one goroutine for the ICE timers and the
// pacer shard that writes every call's media and reports and sends them in
// batches. A call costs no goroutine of its own once connected but the two
// pion's DTLS connection keeps parked (for retransmitted flights and the
// far end's close).
type transport struct {
	e     *Engine
	loops []*tloop
	next  atomic.Uint32
	cert  tls.Certificate
	// fingerprint is the certificate's "sha-256 AB:CD:..." (answers)
	fingerprint string
	ips         []netip.Addr      // the host candidates' addresses
	tmpl        [2]*offerTemplate // audio only, audio and video
	stop        chan struct{}
	wg          sync.WaitGroup
}

// tloop is one core's share of the transport.
type tloop struct {
	t     *transport
	conn  *netio.Conn
	local netip.AddrPort
	shard *shard

	mu      sync.RWMutex
	byAddr  map[netip.AddrPort]*tPeer // by the remote's candidate addresses
	byUfrag map[string]*tPeer         // by our ICE ufrag (requests before the answer)

	// ICE timers: the peers whose agents want polling
	iceMu    sync.Mutex
	icePeers []*tPeer
	wake     chan struct{}

	// pacer-owned: the send batch
	out     []netio.Message
	owners  []*outTrack // the track each queued RTP packet is from (nil: RTCP)
	plens   []int       // and its payload's length
	nOut    int
	scratch []byte

	unclaimed atomic.Uint64 // datagrams no call claimed
}

// startTransport builds the transport: the certificate shared with the
// pion peers, the offer templates, one loop per pacer.
func (e *Engine) startTransport() error {
	t := &transport{e: e, stop: make(chan struct{})}
	pem, err := e.pcConfig.Certificates[0].PEM()
	if err != nil {
		return fmt.Errorf("media: transport: certificate: %w", err)
	}
	if t.cert, err = certFromPEM(pem); err != nil {
		return fmt.Errorf("media: transport: certificate: %w", err)
	}
	sum := sha256.Sum256(t.cert.Certificate[0])
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	t.fingerprint = "sha-256 " + strings.Join(hexes, ":")
	if t.ips, err = candidateIPs(e.cfg); err != nil {
		return err
	}
	for i, video := range []bool{false, true} {
		if t.tmpl[i], err = makeOfferTemplate(e, video); err != nil {
			return err
		}
	}
	n := e.cfg.Pacers
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	bind := netip.IPv4Unspecified()
	if len(t.ips) == 1 {
		bind = t.ips[0]
	}
	for i := range n {
		l, err := t.newLoop(bind, i)
		if err != nil {
			t.close()
			return err
		}
		t.loops = append(t.loops, l)
	}
	for _, l := range t.loops {
		t.wg.Go(l.read)
		t.wg.Go(func() { l.timers(t.stop) })
		t.wg.Go(func() { l.shard.run(t.stop, AudioFrameDuration, e.video.period) })
	}
	e.transport = t
	return nil
}

// listen opens a socket on bind: a port from the engine's range when it
// has one.
func (t *transport) listen(bind netip.Addr) (*netio.Conn, error) {
	cfg := t.e.cfg
	var conn *netio.Conn
	var err error
	if cfg.PortMin == 0 {
		conn, err = netio.Listen(netip.AddrPortFrom(bind, 0))
	} else {
		for port := int(cfg.PortMin); port <= int(cfg.PortMax); port++ {
			if conn, err = netio.Listen(netip.AddrPortFrom(bind, uint16(port))); err == nil {
				break
			}
		}
		if conn == nil && err == nil {
			err = errors.New("no free port in the range")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("media: transport: listen: %w", err)
	}
	return conn, nil
}

// newLoop opens loop i's socket.
func (t *transport) newLoop(bind netip.Addr, _ int) (*tloop, error) {
	conn, err := t.listen(bind)
	if err != nil {
		return nil, err
	}
	l := &tloop{
		t: t, conn: conn, local: conn.LocalAddr(), shard: newShard(),
		byAddr: map[netip.AddrPort]*tPeer{}, byUfrag: map[string]*tPeer{},
		wake:    make(chan struct{}, 1),
		out:     make([]netio.Message, batchSize),
		owners:  make([]*outTrack, batchSize),
		plens:   make([]int, batchSize),
		scratch: make([]byte, datagramSize),
	}
	for i := range l.out {
		l.out[i].Buf = make([]byte, datagramSize+64)
	}
	l.shard.flush = l.flush
	return l, nil
}

// candidateIPs lists the addresses the transport's host candidates
// carry: IPv4 addresses of the interfaces the configuration allows.
func candidateIPs(cfg EngineConfig) ([]netip.Addr, error) {
	var want []netip.Addr
	for _, s := range cfg.IPs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("media: engine: bad IP %q", s)
		}
		want = append(want, a.Unmap())
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("media: transport: interfaces: %w", err)
	}
	var out []netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || (len(cfg.Interfaces) > 0 && !slices.Contains(cfg.Interfaces, ifc.Name)) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr().Unmap()
			if !ip.Is4() || (ip.IsLoopback() && !cfg.IncludeLoopback) || (len(want) > 0 && !slices.Contains(want, ip)) {
				continue
			}
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("media: transport: no IPv4 address to gather (IPs %v, loopback %v): %w", cfg.IPs, cfg.IncludeLoopback, ErrNoCandidates)
	}
	return out, nil
}

// pick assigns a new call to a loop, round robin.
func (t *transport) pick() *tloop {
	return t.loops[int(t.next.Add(1))%len(t.loops)]
}

// close stops the loops and waits for their goroutines.
func (t *transport) close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	for _, l := range t.loops {
		_ = l.conn.Close()
	}
	t.wg.Wait()
}

// read is the loop's reader goroutine: batches of datagrams, each handed
// to the call it belongs to, in place.
func (l *tloop) read() { readBatches(l.conn, batchSize, l.dispatch) }

// readBatches reads conn in batches of n datagrams until it is closed,
// handing each to handle with the batch's arrival instant.
func readBatches(conn *netio.Conn, n int, handle func(b []byte, from netip.AddrPort, now time.Time)) {
	ms := make([]netio.Message, n)
	for i := range ms {
		ms[i].Buf = make([]byte, datagramSize+64)
	}
	for {
		k, err := conn.ReadBatch(ms)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		for i := range k {
			m := &ms[i]
			handle(m.Buf[:m.N], m.Addr, now)
		}
	}
}

// dispatch demultiplexes one datagram (RFC 7983: STUN, DTLS, SRTP/SRTCP)
// to its call: by the remote address, or for a STUN request from an
// address not known yet, by our ICE ufrag.
func (l *tloop) dispatch(b []byte, from netip.AddrPort, now time.Time) {
	if len(b) == 0 {
		return
	}
	l.mu.RLock()
	p := l.byAddr[from]
	if p == nil && b[0] < 4 {
		if u, ok := iceagent.LocalUfragOf(b); ok {
			p = l.byUfrag[string(u)]
		}
	}
	l.mu.RUnlock()
	if p == nil {
		l.unclaimed.Add(1)
		return
	}
	p.in1(b, from, now)
}

// register makes the loop route a call's packets: by our ufrag now, by
// the remote's addresses once they are known (addrs).
func (l *tloop) register(p *tPeer, addrs []netip.AddrPort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byUfrag[p.ufrag] = p
	for _, a := range addrs {
		if _, taken := l.byAddr[a]; !taken {
			l.byAddr[a] = p
			p.addrs = append(p.addrs, a)
		}
	}
}

// unregister forgets a call's routes.
func (l *tloop) unregister(p *tPeer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUfrag[p.ufrag] == p {
		delete(l.byUfrag, p.ufrag)
	}
	for _, a := range p.addrs {
		if l.byAddr[a] == p {
			delete(l.byAddr, a)
		}
	}
}

// watchICE adds a peer to the ICE timers.
func (l *tloop) watchICE(p *tPeer) {
	l.iceMu.Lock()
	l.icePeers = append(l.icePeers, p)
	l.iceMu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// unwatchICE removes a peer from the ICE timers.
func (l *tloop) unwatchICE(p *tPeer) {
	l.iceMu.Lock()
	l.icePeers = slices.DeleteFunc(l.icePeers, func(q *tPeer) bool { return q == p })
	l.iceMu.Unlock()
}

// timers is the loop's ICE timer goroutine: every iceTick it polls the
// agents whose next instant has come (checks, retransmissions, consent);
// it sleeps while no call is there.
func (l *tloop) timers(stop <-chan struct{}) {
	timer := time.NewTimer(iceTick)
	defer timer.Stop()
	var peers []*tPeer
	for {
		l.iceMu.Lock()
		peers = append(peers[:0], l.icePeers...)
		l.iceMu.Unlock()
		if len(peers) == 0 {
			select {
			case <-stop:
				return
			case <-l.wake:
			}
			continue
		}
		timer.Reset(iceTick)
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		for _, p := range peers {
			if due := p.iceNext.Load(); due != 0 && now.UnixNano() >= due {
				p.pollICE(now)
			}
		}
		clear(peers)
	}
}

// slot returns the next free message of the send batch (pacer
// goroutine), sending the batch first when it is full.
func (l *tloop) slot() *netio.Message {
	if l.nOut == len(l.out) {
		l.flush()
	}
	m := &l.out[l.nOut]
	m.Buf = m.Buf[:cap(m.Buf)]
	return m
}

// queued commits the slot taken last, from track t (nil: RTCP) with a
// payload of plen bytes.
func (l *tloop) queued(t *outTrack, plen int) {
	l.owners[l.nOut] = t
	l.plens[l.nOut] = plen
	l.nOut++
}

// flush sends the queued batch (pacer goroutine). Packets the socket
// refused are taken back from their tracks' sent counters and counted as
// write errors.
func (l *tloop) flush() {
	if l.nOut == 0 {
		return
	}
	n, err := l.conn.WriteBatch(l.out[:l.nOut])
	if err != nil {
		for i := n; i < l.nOut; i++ {
			if t := l.owners[i]; t != nil {
				t.pktsSent.Add(^uint64(0))
				t.bytesSent.Add(^uint64(l.plens[i] - 1))
				t.writeErrs.Add(1)
			}
		}
	}
	clear(l.owners[:l.nOut])
	l.nOut = 0
}

// transportCert turns pion's certificate (PEM with its key) into the
// tls.Certificate pion/dtls takes.
func certFromPEM(s string) (tls.Certificate, error) {
	return tls.X509KeyPair([]byte(s), []byte(s))
}
