package netlock

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/tcprepair"
)

const (
	ioTimeout = 30 * time.Second
	// quiet is how long a held connection is watched for bytes that must
	// not come.
	quiet = 300 * time.Millisecond
)

func requireNft(t *testing.T) {
	t.Helper()
	testutil.RequirePriv(t)
	_, err := exec.LookPath("nft")
	testutil.RequireFeature(t, "nft (nftables)", err)
}

func pair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func connOf(c *net.TCPConn) Conn {
	return Conn{Local: c.LocalAddr().(*net.TCPAddr).AddrPort(), Remote: c.RemoteAddr().(*net.TCPAddr).AddrPort()}
}

func expectNothing(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(quiet))
	if n, err := c.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("held connection delivered %d bytes, %v", n, err)
	}
}

func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

func checkGone(t *testing.T, name string) {
	t.Helper()
	names, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, name) {
		t.Errorf("lock table %s is still in the ruleset", name)
	}
}

// TestHoldAndRelease: a held connection carries nothing either way;
// released, the bytes sent meanwhile arrive (retransmitted).
func TestHoldAndRelease(t *testing.T) {
	requireNft(t)
	client, server := pair(t)
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release() })
	if err := l.Add(connOf(client)); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(connOf(client)); err != nil { // already held: nothing to do
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, server)
	expectNothing(t, client)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, l.Name())
	expect(t, server, "ping")
	expect(t, client, "pong")
}

// TestRepairUnderLock is the dump-and-restore sequence of a connection
// with bytes in flight both ways: hold it, save one end, close it,
// restore it, release: both sides get exactly what the other sent. The
// lock holds the client's side, so the server's bytes leave it (and are
// dropped on the way in: sent, never acknowledged) while the client's
// are dropped on the way out (never sent); the server's end is saved.
func TestRepairUnderLock(t *testing.T) {
	requireNft(t)
	client, server := pair(t)
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release() })
	if err := l.Add(connOf(client)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("in-flight-up")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("in-flight-down")); err != nil {
		t.Fatal(err)
	}
	st := saveAndClose(t, server)
	if string(st.SendQueue) != "in-flight-down" || st.Unsent != 0 {
		t.Errorf("send queue %q with %d unsent, want the sent, unacknowledged bytes", st.SendQueue, st.Unsent)
	}
	rf, err := tcprepair.Restore(st, tcprepair.RestoreOptions{Mark: Mark})
	if err != nil {
		t.Fatal(err)
	}
	s, err := net.FileConn(rf)
	rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	expect(t, s, "in-flight-up")
	expect(t, client, "in-flight-down")
	if _, err := s.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	expect(t, client, "after")
}

// saveAndClose saves the connection c and closes it in repair mode.
func saveAndClose(t *testing.T, c *net.TCPConn) *tcprepair.State {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer f.Close()
	if err := tcprepair.Pause(f); err != nil {
		t.Fatal(err)
	}
	st, err := tcprepair.Save(f)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRemoveRefusesOtherTables(t *testing.T) {
	for _, name := range []string{"filter", "crlazy_", "crlazy_zz", "crlazy_0123456789abcdef; flush ruleset"} {
		if err := Remove(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Remove(%q) = %v, want ErrBadName", name, err)
		}
	}
}

// TestForgedFINPasses: restoring a half-closed connection under the lock
// forges the peer's FIN with Mark, which the lock lets through.
func TestForgedFINPasses(t *testing.T) {
	requireNft(t)
	client, server := pair(t)
	if err := server.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(ioTimeout))
	if n, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release() })
	if err := l.Add(connOf(client)); err != nil {
		t.Fatal(err)
	}
	st := saveAndClose(t, client)
	rf, err := tcprepair.Restore(st, tcprepair.RestoreOptions{Mark: Mark})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.FileConn(rf)
	rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("restored socket read %d, %v; want EOF", n, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	expect(t, server, "late")
}
