package tcprepair

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/testutil"
)

// ioTimeout bounds every read and write of the tests.
const ioTimeout = 20 * time.Second

// tcpPair returns a connected loopback pair of plain TCP connections
// (Go's listeners would use MPTCP).
func tcpPair(t *testing.T, network string) (client, server *net.TCPConn) {
	t.Helper()
	c, s := tcpPairB(t, network)
	return c, s
}

// tcpPairB is tcpPair for any test or benchmark.
func tcpPairB(t testing.TB, network ...string) (client, server *net.TCPConn) {
	t.Helper()
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false)
	nw, addr := "tcp4", "127.0.0.1:0"
	if len(network) > 0 && network[0] == "tcp6" {
		nw, addr = "tcp6", "[::1]:0"
	}
	ln, err := lc.Listen(context.Background(), nw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial(nw, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// fillSend writes to c until its send buffer and the peer's receive
// buffer are full, and returns what it wrote.
func fillSend(t *testing.T, c *net.TCPConn) []byte {
	t.Helper()
	var sent []byte
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		for j := range chunk {
			chunk[j] = byte(i*7 + j)
		}
		if err := c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := c.Write(chunk)
		sent = append(sent, chunk[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return sent
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// detach saves the paused connection c and closes every copy of it in
// repair mode, so that the peer sees nothing.
func detach(t *testing.T, c *net.TCPConn) *State {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Pause(f); err != nil {
		t.Fatal(err)
	}
	st, err := Save(f)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return st
}

// restoreConn restores st and returns it as a net.Conn.
func restoreConn(t *testing.T, st *State) net.Conn {
	t.Helper()
	f, err := Restore(st, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readFull(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// TestRoundTrip saves one end of a connection with bytes queued both
// ways (some never sent: the peer's window is closed), closes it, brings
// it back, and checks that both directions carry on byte-exact.
func TestRoundTrip(t *testing.T) {
	testutil.RequirePriv(t)
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			client, server := tcpPair(t, network)
			greeting := []byte("hello-from-server")
			if _, err := server.Write(greeting); err != nil {
				t.Fatal(err)
			}
			// Wait until the greeting is in the client's receive queue.
			if err := client.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Read(make([]byte, 0)); err != nil {
				t.Fatal(err)
			}
			sent := fillSend(t, client)
			st := detach(t, client)
			if len(st.SendQueue) == 0 || st.Unsent == 0 {
				t.Errorf("send queue %d bytes, %d unsent: want both (the peer window is closed)", len(st.SendQueue), st.Unsent)
			}
			t.Logf("saved: %d bytes received, %d to send (%d unsent), options %#x, wscale %d/%d, mss %d", len(st.RecvQueue), len(st.SendQueue), st.Unsent, st.Options, st.SndWscale, st.RcvWscale, st.MSSClamp)
			if st.TCPState != 1 {
				t.Errorf("state %s", StateName(st.TCPState))
			}
			c := restoreConn(t, st)
			if got := readFull(t, c, len(greeting)); !bytes.Equal(got, greeting) {
				t.Errorf("restored receive queue %q, want %q", got, greeting)
			}
			tail := []byte("tail-after-restore")
			done := make(chan error, 1)
			go func() { _, err := c.Write(tail); done <- err }()
			want := append(sent, tail...)
			if got := readFull(t, server, len(want)); !bytes.Equal(got, want) {
				t.Errorf("server read %d bytes that differ from the %d written", len(got), len(want))
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			more := []byte("more-from-server")
			if _, err := server.Write(more); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, c, len(more)); !bytes.Equal(got, more) {
				t.Errorf("restored socket read %q, want %q", got, more)
			}
		})
	}
}
