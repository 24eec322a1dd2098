package netio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// MaxBatch is the most datagrams one recvmmsg or sendmmsg call carries: a
// ReadBatch fills at most MaxBatch messages, and a WriteBatch of more sends
// them MaxBatch at a time.
const MaxBatch = 64

// SocketBufferSize is the SO_RCVBUF and SO_SNDBUF size Listen asks for, best
// effort: the kernel caps it at net.core.rmem_max / wmem_max without saying
// so, and a refusal is ignored (the socket keeps the system default).
const SocketBufferSize = 4 << 20

// Message is one datagram.
//
// Reading: Buf's full length is the capacity offered; N is set to the bytes
// received, Addr to the sender, and Truncated to whether the datagram was
// longer than Buf (the rest of it is lost).
//
// Writing: Buf[:N] is sent to Addr (0 <= N <= len(Buf)); Truncated is
// ignored.
type Message struct {
	// Buf holds the datagram.
	Buf []byte
	// N is the datagram's length in Buf.
	N int
	// Addr is the remote address: the sender when reading, the destination
	// when writing. Addresses read are unmapped (an IPv4 peer is always an
	// Is4 address) and carry no IPv6 zone.
	Addr netip.AddrPort
	// Truncated reports, after a read, that the datagram did not fit in Buf.
	Truncated bool
}

// Conn is one UDP socket read and written in batches.
//
// One goroutine may call ReadBatch while another calls WriteBatch: each
// direction has its own preallocated arrays. ReadBatch must not be called
// concurrently with itself, nor WriteBatch with itself. WriteTo,
// SetReadDeadline, SetWriteDeadline, LocalAddr and Close are safe from any
// goroutine at any time.
type Conn struct {
	uc    *net.UDPConn
	raw   syscall.RawConn
	laddr netip.AddrPort
	// v4 is true for an AF_INET socket, false for AF_INET6.
	v4 bool
	// rd and wr are the reader's and the writer's batch state; nil when the
	// Conn reads and writes one datagram at a time.
	rd, wr *batch
}

// Listen opens a UDP socket on laddr: IPv4 when laddr's address is IPv4 (or
// IPv4-mapped), IPv6 otherwise (IPv6 only, no IPv4-mapped peers); port 0
// picks an ephemeral port. It asks for SocketBufferSize-byte socket buffers,
// best effort.
func Listen(laddr netip.AddrPort) (*Conn, error) {
	return listen(laddr, haveBatch)
}

// listen is Listen with the choice of path: batched (recvmmsg/sendmmsg,
// only where haveBatch) or one datagram at a time (tests use both).
func listen(laddr netip.AddrPort, batched bool) (*Conn, error) {
	if !laddr.IsValid() {
		return nil, fmt.Errorf("netio: listen: invalid address %v", laddr)
	}
	ip := laddr.Addr().Unmap()
	network := "udp6"
	if ip.Is4() {
		network = "udp4"
	}
	uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, laddr.Port())))
	if err != nil {
		return nil, fmt.Errorf("netio: listen %v: %w", laddr, err)
	}
	// Best effort: the kernel caps the size at its maximum silently, and a
	// refusal leaves the system default, which still works.
	_ = uc.SetReadBuffer(SocketBufferSize)
	_ = uc.SetWriteBuffer(SocketBufferSize)
	raw, err := uc.SyscallConn()
	if err != nil {
		_ = uc.Close()
		return nil, fmt.Errorf("netio: listen %v: raw connection: %w", laddr, err)
	}
	local := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	c := &Conn{
		uc:    uc,
		raw:   raw,
		laddr: netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		v4:    ip.Is4(),
	}
	if batched && haveBatch {
		c.rd, c.wr = newBatch(), newBatch()
	}
	return c, nil
}

// LocalAddr is the socket's local address (its port is the one chosen when
// Listen was given port 0).
func (c *Conn) LocalAddr() netip.AddrPort { return c.laddr }

// ReadBatch blocks until at least one datagram has arrived (waiting through
// Go's netpoller), then fills up to min(len(ms), MaxBatch) messages with
// those already queued, and returns how many it filled. Each message's Buf
// is the space offered; N, Addr and Truncated are set. An error (deadline,
// Close: errors.Is(err, net.ErrClosed)) comes with 0 messages.
func (c *Conn) ReadBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	if c.rd != nil {
		return c.readBatch(ms)
	}
	return c.readOne(ms)
}

// WriteBatch sends every ms[i].Buf[:ms[i].N] to ms[i].Addr, in order,
// waiting through the netpoller while the socket's send buffer is full. It
// returns how many were sent before an error; the message at that index is
// the one that failed (unsent), so a caller may skip it and resend the rest.
func (c *Conn) WriteBatch(ms []Message) (int, error) {
	if c.wr != nil {
		return c.writeBatch(ms)
	}
	return c.writeEach(ms)
}

// WriteTo sends one datagram b to addr. It is meant for rare packets from
// goroutines other than the batch writer, and is safe concurrently with
// ReadBatch, WriteBatch and itself.
func (c *Conn) WriteTo(b []byte, addr netip.AddrPort) error {
	if _, err := c.uc.WriteToUDPAddrPort(b, c.dest(addr)); err != nil {
		return fmt.Errorf("netio: write to %v: %w", addr, err)
	}
	return nil
}

// SetReadDeadline sets when a ReadBatch in progress or to come gives up with
// an error satisfying errors.Is(err, os.ErrDeadlineExceeded); the zero time
// means never.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if err := c.uc.SetReadDeadline(t); err != nil {
		return fmt.Errorf("netio: set read deadline: %w", err)
	}
	return nil
}

// SetWriteDeadline sets when a WriteBatch or WriteTo waiting for room in the
// send buffer gives up with an error satisfying
// errors.Is(err, os.ErrDeadlineExceeded); the zero time means never.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if err := c.uc.SetWriteDeadline(t); err != nil {
		return fmt.Errorf("netio: set write deadline: %w", err)
	}
	return nil
}

// Close closes the socket. A ReadBatch or WriteBatch in progress returns an
// error satisfying errors.Is(err, net.ErrClosed).
func (c *Conn) Close() error {
	if err := c.uc.Close(); err != nil {
		return fmt.Errorf("netio: close: %w", err)
	}
	return nil
}

// dest is addr in the socket's family: unmapped for an IPv4 socket,
// IPv4-mapped for an IPv6 one (where the kernel then refuses it, the socket
// being IPv6 only).
func (c *Conn) dest(addr netip.AddrPort) netip.AddrPort {
	if c.v4 {
		return netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	}
	if addr.Addr().Is4() {
		return netip.AddrPortFrom(netip.AddrFrom16(addr.Addr().As16()), addr.Port())
	}
	return addr
}

// errLength is a message whose N is outside Buf.
var errLength = errors.New("message length outside its buffer")

// readOne is ReadBatch one datagram at a time: it fills ms[0] only.
func (c *Conn) readOne(ms []Message) (int, error) {
	m := &ms[0]
	n, _, flags, addr, err := c.uc.ReadMsgUDPAddrPort(m.Buf, nil)
	if err != nil {
		return 0, fmt.Errorf("netio: read: %w", err)
	}
	m.N = n
	m.Addr = netip.AddrPortFrom(addr.Addr().Unmap().WithZone(""), addr.Port())
	m.Truncated = flags&msgTrunc != 0
	return 1, nil
}

// writeEach is WriteBatch one datagram at a time.
func (c *Conn) writeEach(ms []Message) (int, error) {
	for i := range ms {
		m := &ms[i]
		if m.N < 0 || m.N > len(m.Buf) {
			return i, fmt.Errorf("netio: write to %v: %w (N %d, len %d)", m.Addr, errLength, m.N, len(m.Buf))
		}
		if _, err := c.uc.WriteToUDPAddrPort(m.Buf[:m.N], c.dest(m.Addr)); err != nil {
			return i, fmt.Errorf("netio: write to %v: %w", m.Addr, err)
		}
	}
	return len(ms), nil
}
