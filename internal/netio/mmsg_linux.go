//go:build linux && (amd64 || arm64)

package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// haveBatch: this platform reads and writes with recvmmsg and sendmmsg.
const haveBatch = true

// errFamily is a destination this socket's address family cannot reach
// (the per-packet path leaves that check to the standard library).
var errFamily = errors.New("address not of the socket's family")

// mmsghdr is the kernel's struct mmsghdr, which golang.org/x/sys/unix does
// not define: a msghdr (56 bytes on amd64 and arm64) and the datagram's
// length, padded to 64 bytes.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// The layout the kernel expects (checked at compile time): 64 bytes, the
// length right after the msghdr.
var (
	_ [64 - unsafe.Sizeof(mmsghdr{})]byte
	_ [unsafe.Sizeof(mmsghdr{}) - 64]byte
	_ [56 - unsafe.Offsetof(mmsghdr{}.len)]byte
	_ [unsafe.Offsetof(mmsghdr{}.len) - 56]byte
)

// batch is one direction's preallocated recvmmsg/sendmmsg state: each
// header points at its own iovec and socket address, set up once; a call
// sets the iovecs to the caller's buffers and clears them afterwards so the
// Conn does not keep them alive.
type batch struct {
	hdrs  [MaxBatch]mmsghdr
	iovs  [MaxBatch]unix.Iovec
	names [MaxBatch]unix.RawSockaddrInet6 // large enough for an IPv4 address too

	// k is how many headers the call in progress uses; done how many of them
	// were received or sent; errno the call's error, 0 when none.
	k, done int
	errno   unix.Errno

	// recv and send are the callbacks handed to the raw connection, made
	// once so a call allocates no closure.
	recv, send func(fd uintptr) bool
}

func newBatch() *batch {
	b := &batch{}
	for i := range b.hdrs {
		b.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].hdr.Iov = &b.iovs[i]
		b.hdrs[i].hdr.Iovlen = 1
	}
	b.recv = b.recvmmsg
	b.send = b.sendmmsg
	return b
}

// recvmmsg is the raw connection's read callback: one recvmmsg for the k
// prepared headers. It returns false (wait for the poller) when nothing is
// queued yet.
func (b *batch) recvmmsg(fd uintptr) bool {
	for {
		// RawSyscall: MSG_DONTWAIT never blocks, so the goroutine keeps
		// its P through the call (a Syscall long enough for sysmon to see
		// hands the P to another goroutine, and the caller then queues
		// for it again: a pacer on one CPU lost whole ticks that way).
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(b.k),
			unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			b.done, b.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.done, b.errno = 0, errno
			return true
		}
	}
}

// sendmmsg is the raw connection's write callback: sendmmsg until the k
// prepared headers are sent (a call may send fewer), returning false (wait
// for the poller) when the send buffer is full; the poller calls it again
// and it goes on from done.
func (b *batch) sendmmsg(fd uintptr) bool {
	for b.done < b.k {
		// RawSyscall, as recvmmsg: non-blocking, the P stays.
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[b.done])), uintptr(b.k-b.done),
			unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			b.done += int(n)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.errno = errno
			return true
		}
	}
	return true
}

// clear drops the references to the caller's buffers.
func (b *batch) clear() {
	for i := range b.k {
		b.iovs[i] = unix.Iovec{}
	}
}

// readBatch is ReadBatch through recvmmsg.
func (c *Conn) readBatch(ms []Message) (int, error) {
	b := c.rd
	b.k = min(len(ms), MaxBatch)
	for i := range b.k {
		buf := ms[i].Buf
		b.iovs[i].Base = unsafe.SliceData(buf)
		b.iovs[i].SetLen(len(buf))
		b.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		b.hdrs[i].hdr.Flags = 0
	}
	b.done, b.errno = 0, 0
	err := c.raw.Read(b.recv)
	b.clear()
	if err != nil {
		return 0, fmt.Errorf("netio: recvmmsg: %w", err)
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("netio: recvmmsg: %w", b.errno)
	}
	for i := range b.done {
		m := &ms[i]
		m.N = int(b.hdrs[i].len)
		m.Truncated = b.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0
		m.Addr = addrPort(&b.names[i])
	}
	return b.done, nil
}

// writeBatch is WriteBatch through sendmmsg, MaxBatch messages at a time.
func (c *Conn) writeBatch(ms []Message) (int, error) {
	b := c.wr
	sent := 0
	for sent < len(ms) {
		chunk := ms[sent:min(len(ms), sent+MaxBatch)]
		b.k = 0
		var bad error
		for i := range chunk {
			m := &chunk[i]
			if m.N < 0 || m.N > len(m.Buf) {
				bad = fmt.Errorf("netio: sendmmsg to %v: %w (N %d, len %d)", m.Addr, errLength, m.N, len(m.Buf))
				break
			}
			namelen, ok := c.putSockaddr(&b.names[i], m.Addr)
			if !ok {
				bad = fmt.Errorf("netio: sendmmsg to %v: %w", m.Addr, errFamily)
				break
			}
			b.hdrs[i].hdr.Namelen = namelen
			b.iovs[i].Base = unsafe.SliceData(m.Buf)
			b.iovs[i].SetLen(m.N)
			b.k++
		}
		b.done, b.errno = 0, 0
		var err error
		if b.k > 0 {
			err = c.raw.Write(b.send)
		}
		b.clear()
		sent += b.done
		switch {
		case err != nil:
			return sent, fmt.Errorf("netio: sendmmsg: %w", err)
		case b.errno != 0:
			return sent, fmt.Errorf("netio: sendmmsg to %v: %w", ms[sent].Addr, b.errno)
		case bad != nil:
			return sent, bad
		}
	}
	return sent, nil
}

// putSockaddr writes addr into sa in the socket's family and returns the
// length to pass; false when addr cannot be reached from this socket's
// family (an IPv6 address on an IPv4 socket, or an invalid address).
func (c *Conn) putSockaddr(sa *unix.RawSockaddrInet6, addr netip.AddrPort) (uint32, bool) {
	ip := addr.Addr()
	if !ip.IsValid() {
		return 0, false
	}
	if c.v4 {
		ip = ip.Unmap()
		if !ip.Is4() {
			return 0, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], addr.Port())
		sa4.Addr = ip.As4()
		sa4.Zero = [8]byte{}
		return unix.SizeofSockaddrInet4, true
	}
	sa.Family = unix.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], addr.Port())
	sa.Flowinfo = 0
	sa.Addr = ip.As16()
	sa.Scope_id = 0
	return unix.SizeofSockaddrInet6, true
}

// addrPort reads the socket address the kernel wrote into sa, unmapped,
// without allocating; the IPv6 scope is dropped.
func addrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	default:
		return netip.AddrPort{}
	}
}
