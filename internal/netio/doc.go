// Package netio is a UDP socket read and written in batches with no
// allocation per packet: the lowest layer of the per-core media transport.
//
// One Conn is one UDP socket. On Linux (amd64 and arm64) ReadBatch is one
// recvmmsg(2) and WriteBatch one or more sendmmsg(2), both waiting through
// Go's netpoller (never a busy loop); elsewhere, and in tests on request, a
// portable path reads and writes one datagram at a time through
// *net.UDPConn. Remote addresses are netip.AddrPort values (comparable, so
// usable as map keys for demultiplexing), never net.Addr, which allocates.
package netio
