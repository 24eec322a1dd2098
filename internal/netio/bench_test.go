package netio

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// The benchmarks send 200-byte datagrams (a typical audio RTP packet) over
// 127.0.0.1 and report, besides ns/op, ns/pkt: the time per datagram.

const benchSize = 200

// BenchmarkWriteBatch32 writes 32 datagrams per op to a socket nobody reads
// (the kernel drops what overflows its receive buffer, which costs the
// writer nothing more).
func BenchmarkWriteBatch32(b *testing.B) {
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			a, dst := open(b, loop4, impl.batched), open(b, loop4, impl.batched)
			w := batchOf(32, benchSize, dst.LocalAddr())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.WriteBatch(w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(w)), "ns/pkt")
		})
	}
}

// BenchmarkRoundTrip32 writes 32 datagrams per op and reads them back.
func BenchmarkRoundTrip32(b *testing.B) {
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			a, dst := open(b, loop4, impl.batched), open(b, loop4, impl.batched)
			w, r := batchOf(32, benchSize, dst.LocalAddr()), batchOf(32, 1500, dst.LocalAddr())
			// A lost datagram fails the benchmark rather than hanging it.
			if err := dst.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := roundTrip(a, dst, w, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(w)), "ns/pkt")
		})
	}
}

// BenchmarkWriteToUDPAddrPort is the standard library's one-datagram write,
// for comparison with BenchmarkWriteBatch32.
func BenchmarkWriteToUDPAddrPort(b *testing.B) {
	uc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loop4, 0)))
	if err != nil {
		b.Fatal(err)
	}
	defer uc.Close()
	dst := open(b, loop4, false)
	buf, to := make([]byte, benchSize), dst.LocalAddr()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := uc.WriteToUDPAddrPort(buf, to); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pkt")
}
