package linux

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func inodeOf(t testing.TB, f *os.File) uint64 {
	t.Helper()
	fd, _ := RawFd(f)
	st, err := Stat("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func diagOf(t testing.TB, ino uint64) UnixDiag {
	t.Helper()
	all, err := UnixDiagDump()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if d.Inode == ino {
			return d
		}
	}
	t.Fatalf("inode %d not among %d UNIX sockets", ino, len(all))
	return UnixDiag{}
}

func pair(t testing.TB, typ int) (*os.File, *os.File) {
	t.Helper()
	a, b, err := Socketpair(typ)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// peekAll reads a queue through PeekAt as the dumper does.
func peekAll(t testing.TB, f *os.File) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, 1<<20)
	for off := 0; ; {
		p, err := PeekAt(f, off, buf)
		if errors.Is(err, EAGAIN) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Full > len(p.Data) {
			t.Fatalf("message of %d bytes in a %d-byte buffer", p.Full, len(buf))
		}
		out = append(out, append([]byte(nil), p.Data...))
		off += len(p.Data)
		if len(p.Data) == 0 {
			break
		}
	}
	return out
}

// TestUnixDiagPair: a socketpair's ends name each other, and the bytes
// queued show in the receiver's RQueue.
func TestUnixDiagPair(t *testing.T) {
	a, b := pair(t, SockStream)
	if _, err := SendUnix(a, []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	if err := Shutdown(a, ShutWr); err != nil {
		t.Fatal(err)
	}
	da, db := diagOf(t, inodeOf(t, a)), diagOf(t, inodeOf(t, b))
	if da.Peer != db.Inode || db.Peer != da.Inode || db.RQueue != 5 || da.Type != SockStream || da.State != TCPEstablished {
		t.Errorf("diag %+v / %+v", da, db)
	}
	if da.Shutdown != SendShutdown || db.Shutdown != RcvShutdown {
		t.Errorf("shutdown %d / %d, want %d / %d", da.Shutdown, db.Shutdown, SendShutdown, RcvShutdown)
	}
}

// TestUnixPeekStream: the whole stream queue is read without consuming
// it, and the peek offset is the caller's to restore.
func TestUnixPeekStream(t *testing.T) {
	a, b := pair(t, SockStream)
	want := []byte{}
	for i := range 50 {
		msg := bytes.Repeat([]byte{byte(i)}, 100+i)
		want = append(want, msg...)
		if _, err := SendUnix(a, msg, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := bytes.Join(peekAll(t, b), nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("peeked %d bytes, want %d", len(got), len(want))
	}
	if err := SetsockoptInt(b, SolSocket, SoPeekOff, -1); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(want)+1)
	n, err := b.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("read %d bytes after the peek (%v), want the %d queued", n, err, len(want))
	}
}

// TestUnixPeekDgram: datagrams come one by one with their boundaries,
// also when the buffer is too small at first, and a descriptor in flight
// is reported.
func TestUnixPeekDgram(t *testing.T) {
	a, b := pair(t, SockDgram)
	sizes := []int{1, 3000, 70000, 7}
	for i, n := range sizes {
		if _, err := SendUnix(a, bytes.Repeat([]byte{byte(i)}, n), nil); err != nil {
			t.Fatal(err)
		}
	}
	small := make([]byte, 4096)
	p, err := PeekAt(b, 1, small)
	if err != nil || p.Full != 3000 || len(p.Data) != 3000 {
		t.Fatalf("peek at 1: %d of %d bytes, %v", len(p.Data), p.Full, err)
	}
	p, err = PeekAt(b, 3001, small)
	if err != nil || p.Full != 70000 || len(p.Data) != len(small) {
		t.Fatalf("peek at 3001: %d of %d bytes, %v", len(p.Data), p.Full, err)
	}
	msgs := peekAll(t, b)
	if len(msgs) != len(sizes) {
		t.Fatalf("%d datagrams, want %d", len(msgs), len(sizes))
	}
	for i, m := range msgs {
		if len(m) != sizes[i] || m[0] != byte(i) {
			t.Errorf("datagram %d: %d bytes of %d", i, len(m), m[0])
		}
	}
}

// TestUnixBindConnectAccept: abstract and relative path names, a pending
// connection in the listener's queue and its client's queued bytes.
func TestUnixBindConnectAccept(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l, err := NewSocket(AfUnix, SockStream, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := InDir(d, func() error { return BindUnix(l, []byte("sock")) }); err != nil {
		t.Fatal(err)
	}
	if err := Listen(l, 3); err != nil {
		t.Fatal(err)
	}
	dl := diagOf(t, inodeOf(t, l))
	st, err := Stat(filepath.Join(dir, "sock"))
	if err != nil || string(dl.Name) != "sock" || dl.VFSIno != st.Ino || dl.VFSDev != st.Dev || dl.State != TCPListen || dl.WQueue != 3 {
		t.Fatalf("listener %+v, file %+v %v", dl, st, err)
	}
	c, err := NewSocket(AfUnix, SockStream, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	abstract := []byte("\x00crlazy-test\x00x" + strconv.Itoa(os.Getpid()))
	if err := BindUnix(c, abstract); err != nil {
		t.Fatal(err)
	}
	if err := ConnectUnix(c, []byte(filepath.Join(dir, "sock"))); err != nil {
		t.Fatal(err)
	}
	if _, err := SendUnix(c, []byte("waiting"), nil); err != nil {
		t.Fatal(err)
	}
	dl, dc := diagOf(t, inodeOf(t, l)), diagOf(t, inodeOf(t, c))
	// An embryo (not yet accepted) has no inode: the client shows no
	// peer and the listener lists the client itself.
	if !bytes.Equal(dc.Name, abstract) || len(dl.Pending) != 1 || dl.Pending[0] != dc.Inode || dc.Peer != 0 || dl.RQueue != 1 {
		t.Fatalf("client %+v, listener %+v", dc, dl)
	}
	if dc.WQueue == 0 {
		t.Errorf("the client's 7 bytes in a pending connection do not show in its WQueue: %+v", dc)
	}
	s, err := Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ds := diagOf(t, inodeOf(t, s)); ds.Peer != inodeOf(t, c) || ds.RQueue != 7 {
		t.Errorf("accepted %+v", ds)
	}
}

// FuzzParseUnixDiag: any datagram is parsed without panic.
func FuzzParseUnixDiag(f *testing.F) {
	f.Add(unixDiagRequest())
	f.Add([]byte("\x24\x00\x00\x00\x14\x00\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00" +
		"\x01\x01\x07\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x08\x00\x02\x00\x09\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out []UnixDiag
		_, _ = ParseUnixDiag(b, &out)
		for _, d := range out {
			if len(d.Name) > unixSunPathMax || len(d.Pending) > unixMaxPending {
				t.Fatalf("accepted %+v", d)
			}
		}
	})
}

// BenchmarkPeekStream measures reading a full 1 MiB stream queue
// without consuming it.
func BenchmarkPeekStream(b *testing.B) {
	x, y := pair(b, SockStream)
	if err := SetsockoptInt(x, SolSocket, SoSndbufForce, 4<<20); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	if n, err := SendUnix(x, data, nil); err != nil || n != len(data) {
		b.Fatalf("queued %d bytes: %v", n, err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if got := len(bytes.Join(peekAll(b, y), nil)); got != len(data) {
			b.Fatalf("peeked %d", got)
		}
	}
}

// TestOOBPending: an out-of-band byte is seen without being consumed,
// and a socket without one says so.
func TestOOBPending(t *testing.T) {
	a, b := pair(t, SockStream)
	if oob, err := OOBPending(a); err != nil || oob {
		t.Fatalf("empty socket: oob %v, %v", oob, err)
	}
	if _, err := SendUnix(b, []byte("ab"), nil); err != nil {
		t.Fatal(err)
	}
	err := control(b, func(fd uintptr) error { return unix.Send(int(fd), []byte("!"), unix.MSG_OOB) })
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skip("kernel without CONFIG_AF_UNIX_OOB")
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if oob, err := OOBPending(a); err != nil || !oob {
			t.Fatalf("peek %d: oob %v, %v", i, oob, err)
		}
	}
}
