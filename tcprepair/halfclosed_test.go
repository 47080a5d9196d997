package tcprepair

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

// readToEOF reads c until the end of the stream and returns what came.
func readToEOF(t *testing.T, c interface {
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
}) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read to EOF: %v", err)
	}
	return b
}

// TestCloseWait: the peer had shut down writing (we were in CLOSE_WAIT
// with its last bytes unread). After restore we read those bytes and then
// EOF, and can still write.
func TestCloseWait(t *testing.T) {
	testutil.RequirePriv(t)
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			client, server := tcpPair(t, network)
			last := []byte("last-words")
			if _, err := server.Write(last); err != nil {
				t.Fatal(err)
			}
			if err := server.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			waitState(t, client, linux.TCPCloseWait)
			st := detach(t, client)
			if st.TCPState != linux.TCPCloseWait || !bytes.Equal(st.RecvQueue, last) {
				t.Fatalf("saved %s with %q queued", StateName(st.TCPState), st.RecvQueue)
			}
			c := restoreConn(t, st)
			if got := readToEOF(t, c); !bytes.Equal(got, last) {
				t.Errorf("restored socket read %q then EOF, want %q", got, last)
			}
			reply := []byte("reply-after-restore")
			if _, err := c.Write(reply); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, server, len(reply)); !bytes.Equal(got, reply) {
				t.Errorf("peer read %q, want %q", got, reply)
			}
		})
	}
}

// TestFinWait2: we had shut down writing and the peer acknowledged it.
// After restore the peer still sees EOF once, and what it sends still
// arrives.
func TestFinWait2(t *testing.T) {
	testutil.RequirePriv(t)
	client, server := tcpPair(t, "tcp4")
	if _, err := client.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitState(t, client, linux.TCPFinWait2)
	st := detach(t, client)
	c := restoreConn(t, st)
	if got := readToEOF(t, server); string(got) != "bye" {
		t.Errorf("peer read %q then EOF, want \"bye\"", got)
	}
	msg := []byte("still-talking")
	if _, err := server.Write(msg); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Errorf("restored socket read %q, want %q", got, msg)
	}
}

// waitState waits until c is in TCP state want (the peer's FIN or ACK
// arrives asynchronously), polling TCP_INFO.
func waitState(t *testing.T, c interface{ File() (*os.File, error) }, want uint8) {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deadline := time.Now().Add(ioTimeout)
	for {
		info, err := linux.TCPInfo(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket in %s, want %s", StateName(info.State), StateName(want))
		}
		time.Sleep(time.Millisecond)
	}
}
