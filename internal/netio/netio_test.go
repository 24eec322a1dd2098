package netio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// impls are the two paths every behaviour test runs over: the batched one
// (recvmmsg/sendmmsg where the platform has it) and one datagram at a time.
var impls = []struct {
	name    string
	batched bool
}{
	{"batch", true},
	{"perpacket", false},
}

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

// wait bounds every wait for an event in these tests.
const wait = 5 * time.Second

// open listens on ip:0 with the given path, skipping the test when ip is
// ::1 and the machine has no IPv6 loopback.
func open(t testing.TB, ip netip.Addr, batched bool) *Conn {
	t.Helper()
	c, err := listen(netip.AddrPortFrom(ip, 0), batched)
	if err != nil {
		if ip.Is6() {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// payload is datagram i of length size: its index in the first two bytes
// (when it has room) and then a pattern that depends on the index.
func payload(i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*7 + j)
	}
	if size >= 2 {
		binary.BigEndian.PutUint16(b, uint16(i))
	}
	return b
}

// received is one datagram read, copied out of the read buffers.
type received struct {
	data      []byte
	addr      netip.AddrPort
	truncated bool
}

// readN reads until want datagrams have arrived (or the deadline passes)
// offering bufSize bytes per message.
func readN(t *testing.T, c *Conn, want, bufSize int) []received {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	ms := make([]Message, MaxBatch)
	for i := range ms {
		ms[i].Buf = make([]byte, bufSize)
	}
	var got []received
	for len(got) < want {
		n, err := c.ReadBatch(ms)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), want, err)
		}
		if n < 1 || n > len(ms) {
			t.Fatalf("ReadBatch returned %d for %d messages", n, len(ms))
		}
		for _, m := range ms[:n] {
			got = append(got, received{bytes.Clone(m.Buf[:m.N]), m.Addr, m.Truncated})
		}
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	mixed := func(n int, sizes ...int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = sizes[i%len(sizes)]
		}
		return s
	}
	cases := []struct {
		name  string
		sizes []int
	}{
		{"one", []int{100}},
		{"32 mixed sizes", mixed(32, 20, 172, 1200, 1500, 60)},
		{"more than MaxBatch", mixed(MaxBatch*2+22, 200, 33)},
		{"empty and one byte", []int{0, 1, 0, 2}},
		{"largest", []int{65507, 65507}},
	}
	for _, impl := range impls {
		for _, ip := range []netip.Addr{loop4, loop6} {
			for _, tc := range cases {
				t.Run(impl.name+"/"+ip.String()+"/"+tc.name, func(t *testing.T) {
					a, b := open(t, ip, impl.batched), open(t, ip, impl.batched)
					ms := make([]Message, len(tc.sizes))
					for i, size := range tc.sizes {
						ms[i] = Message{Buf: payload(i, size), N: size, Addr: b.LocalAddr()}
					}
					n, err := a.WriteBatch(ms)
					if err != nil || n != len(ms) {
						t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(ms))
					}
					got := readN(t, b, len(ms), 65536)
					checkReceived(t, got, tc.sizes, a.LocalAddr())
				})
			}
		}
	}
}

// checkReceived checks that got is exactly the datagrams payload(i,
// sizes[i]) from src, in any order (loopback may reorder across CPUs).
func checkReceived(t *testing.T, got []received, sizes []int, src netip.AddrPort) {
	t.Helper()
	if len(got) != len(sizes) {
		t.Fatalf("received %d datagrams, want %d", len(got), len(sizes))
	}
	seen := make([]bool, len(sizes))
	for _, r := range got {
		if r.addr != src {
			t.Errorf("datagram from %v, want %v", r.addr, src)
		}
		if r.truncated {
			t.Errorf("datagram of %d bytes reported truncated", len(r.data))
		}
		idx := -1
		if len(r.data) >= 2 {
			idx = int(binary.BigEndian.Uint16(r.data))
		} else {
			for i, size := range sizes {
				if !seen[i] && size == len(r.data) && bytes.Equal(r.data, payload(i, size)) {
					idx = i
					break
				}
			}
		}
		if idx < 0 || idx >= len(sizes) || seen[idx] || !bytes.Equal(r.data, payload(idx, sizes[idx])) {
			t.Fatalf("unexpected datagram of %d bytes (index %d)", len(r.data), idx)
		}
		seen[idx] = true
	}
}

func TestTruncated(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			a, b := open(t, loop4, impl.batched), open(t, loop4, impl.batched)
			long, short := bytes.Repeat([]byte{'L'}, 100), []byte("short")
			for _, p := range [][]byte{long, short} {
				if err := a.WriteTo(p, b.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			got := readN(t, b, 2, 10)
			for _, r := range got {
				switch r.data[0] {
				case 'L':
					if !bytes.Equal(r.data, long[:10]) || !r.truncated {
						t.Errorf("long datagram read as %q, truncated %v; want its first 10 bytes, truncated", r.data, r.truncated)
					}
				default:
					if !bytes.Equal(r.data, short) || r.truncated {
						t.Errorf("short datagram read as %q, truncated %v; want %q, not truncated", r.data, r.truncated, short)
					}
				}
			}
		})
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			c := open(t, loop4, impl.batched)
			done := make(chan error, 1)
			go func() {
				_, err := c.ReadBatch(make([]Message, 4))
				done <- err
			}()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("ReadBatch after Close: %v; want net.ErrClosed", err)
				}
			case <-time.After(wait):
				t.Fatal("ReadBatch still blocked after Close")
			}
		})
	}
}

func TestReadDeadline(t *testing.T) {
	for _, impl := range impls {
		for _, d := range []time.Duration{-time.Second, 20 * time.Millisecond} {
			t.Run(impl.name+"/"+d.String(), func(t *testing.T) {
				c := open(t, loop4, impl.batched)
				if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
					t.Fatal(err)
				}
				ms := []Message{{Buf: make([]byte, 1500)}}
				done := make(chan error, 1)
				go func() {
					n, err := c.ReadBatch(ms)
					if n != 0 {
						t.Errorf("ReadBatch read %d datagrams from nobody", n)
					}
					done <- err
				}()
				select {
				case err := <-done:
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("ReadBatch past its deadline: %v; want os.ErrDeadlineExceeded", err)
					}
				case <-time.After(wait):
					t.Fatal("ReadBatch still blocked past its deadline")
				}
			})
		}
	}
}

// TestWriteToConcurrent has one goroutine writing batches, another WriteTo
// and a third reading, all on the same sockets (run it with -race). Credits
// keep the datagrams in flight below any receive buffer's size, so none is
// dropped and every one is counted.
func TestWriteToConcurrent(t *testing.T) {
	const (
		rounds   = 40
		perBatch = 16
		writeTos = 200
		inFlight = 128
	)
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			a, b := open(t, loop4, impl.batched), open(t, loop4, impl.batched)
			credits := make(chan struct{}, inFlight)
			for range inFlight {
				credits <- struct{}{}
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				ms := make([]Message, perBatch)
				for i := range ms {
					ms[i] = Message{Buf: []byte("batch"), N: 5, Addr: b.LocalAddr()}
				}
				for range rounds {
					for range perBatch {
						<-credits
					}
					if n, err := a.WriteBatch(ms); err != nil || n != len(ms) {
						t.Errorf("WriteBatch = %d, %v", n, err)
						return
					}
				}
			})
			wg.Go(func() {
				for range writeTos {
					<-credits
					if err := a.WriteTo([]byte("writeto"), b.LocalAddr()); err != nil {
						t.Errorf("WriteTo: %v", err)
						return
					}
				}
			})
			if err := b.SetReadDeadline(time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			ms := make([]Message, 8)
			for i := range ms {
				ms[i].Buf = make([]byte, 64)
			}
			for total := 0; total < rounds*perBatch+writeTos; {
				n, err := b.ReadBatch(ms)
				if err != nil {
					t.Fatalf("after %d datagrams: %v", total, err)
				}
				for _, m := range ms[:n] {
					counts[string(m.Buf[:m.N])]++
					if m.Addr != a.LocalAddr() {
						t.Errorf("datagram from %v, want %v", m.Addr, a.LocalAddr())
					}
					credits <- struct{}{}
				}
				total += n
			}
			wg.Wait()
			if counts["batch"] != rounds*perBatch || counts["writeto"] != writeTos || len(counts) != 2 {
				t.Errorf("received %v; want %d batch and %d writeto", counts, rounds*perBatch, writeTos)
			}
		})
	}
}

// TestWriteBatchError: a message WriteBatch cannot send stops it, and it
// reports how many went before.
func TestWriteBatchError(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			a, b := open(t, loop4, impl.batched), open(t, loop4, impl.batched)
			to := b.LocalAddr()
			for _, bad := range []Message{
				{Buf: make([]byte, 4), N: 5, Addr: to},
				{Buf: make([]byte, 4), N: -1, Addr: to},
				{Buf: make([]byte, 4), N: 4, Addr: netip.AddrPortFrom(loop6, to.Port())},
			} {
				ms := []Message{{Buf: payload(0, 8), N: 8, Addr: to}, bad, {Buf: payload(2, 8), N: 8, Addr: to}}
				n, err := a.WriteBatch(ms)
				if n != 1 || err == nil {
					t.Errorf("WriteBatch with %+v second = %d, %v; want 1 and an error", bad, n, err)
				}
				checkReceived(t, readN(t, b, 1, 64), []int{8}, a.LocalAddr())
			}
		})
	}
}

func TestListen(t *testing.T) {
	c := open(t, loop4, true)
	if got := c.LocalAddr(); got.Addr() != loop4 || got.Port() == 0 {
		t.Errorf("LocalAddr = %v; want 127.0.0.1 and a port", got)
	}
	if (c.rd != nil) != haveBatch || (open(t, loop4, false).rd != nil) {
		t.Errorf("batched path: %v; want %v, and never when asked for one datagram at a time", c.rd != nil, haveBatch)
	}
	if _, err := Listen(netip.AddrPort{}); err == nil {
		t.Error("Listen on the zero AddrPort succeeded")
	}
	// An IPv4-mapped address listens on IPv4.
	m, err := Listen(netip.AddrPortFrom(netip.AddrFrom16(loop4.As16()), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.LocalAddr().Addr().Is4() {
		t.Errorf("LocalAddr of a socket on ::ffff:127.0.0.1 = %v; want an IPv4 address", m.LocalAddr())
	}
}

// TestBatchNoAllocs: a write of 32 and their read allocate nothing.
func TestBatchNoAllocs(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			a, b := open(t, loop4, impl.batched), open(t, loop4, impl.batched)
			w, r := batchOf(32, 200, b.LocalAddr()), batchOf(32, 1500, netip.AddrPort{})
			if err := b.SetReadDeadline(time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			var err error
			allocs := testing.AllocsPerRun(50, func() {
				if err == nil {
					err = roundTrip(a, b, w, r)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Errorf("a round trip of 32 datagrams allocates %v times; want 0", allocs)
			}
		})
	}
}

// batchOf is n messages of size bytes to addr.
func batchOf(n, size int, addr netip.AddrPort) []Message {
	ms := make([]Message, n)
	for i := range ms {
		ms[i] = Message{Buf: make([]byte, size), N: size, Addr: addr}
	}
	return ms
}

// roundTrip writes w from a to b and reads them back into r.
func roundTrip(a, b *Conn, w, r []Message) error {
	if _, err := a.WriteBatch(w); err != nil {
		return err
	}
	for got := 0; got < len(w); {
		n, err := b.ReadBatch(r)
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}
