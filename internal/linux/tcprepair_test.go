package linux

import (
	"testing"
	"unsafe"

	"github.com/crlazy/crlazy/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestTCPRepairABI pins the option numbers and struct sizes
// (KERNEL-FACTS §6).
func TestTCPRepairABI(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"TCP_REPAIR", SockoptTCPRepair, 19},
		{"TCP_REPAIR_QUEUE", SockoptTCPRepairQueue, 20},
		{"TCP_QUEUE_SEQ", SockoptTCPQueueSeq, 21},
		{"TCP_REPAIR_OPTIONS", SockoptTCPRepairOptions, 22},
		{"TCP_TIMESTAMP", SockoptTCPTimestamp, 24},
		{"TCP_REPAIR_WINDOW", SockoptTCPRepairWindow, 29},
		{"SIOCINQ", SiocInq, 0x541B},
		{"SIOCOUTQ", SiocOutq, 0x5411},
		{"SIOCOUTQNSD", SiocOutqNSD, 0x894B},
		{"sizeof(struct tcp_repair_opt)", int(unsafe.Sizeof(TCPRepairOpt{})), 8},
		{"sizeof(struct tcp_repair_window)", int(unsafe.Sizeof(TCPRepairWindow{})), 20},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// loopbackPair returns the fds of a connected IPv4 TCP pair (plain TCP:
// Go's net package would listen with MPTCP).
func loopbackPair(t *testing.T) (client, server int) {
	t.Helper()
	sock := func() int {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	ln := sock()
	lo := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(ln, lo); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatal(err)
	}
	addr, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	client = sock()
	if err := unix.Connect(client, addr); err != nil {
		t.Fatal(err)
	}
	server, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(server) })
	return client, server
}

// TestTCPRepairQueueSeq enters repair mode on a connected socket, reads
// the send sequence, checks it moves by what was sent, and leaves.
func TestTCPRepairQueueSeq(t *testing.T) {
	testutil.RequirePriv(t)
	client, server := loopbackPair(t)
	seqOf := func() uint32 {
		t.Helper()
		if err := TCPRepair(client, TCPRepairOn); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := TCPRepair(client, TCPRepairOff); err != nil {
				t.Fatal(err)
			}
		}()
		if err := unix.SetsockoptInt(client, IPProtoTCP, SockoptTCPRepairQueue, TCPSendQueue); err != nil {
			t.Fatal(err)
		}
		seq, err := unix.GetsockoptInt(client, IPProtoTCP, SockoptTCPQueueSeq)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(seq)
	}
	before := seqOf()
	msg := []byte("hello")
	if _, err := unix.Write(client, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Read(server, buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	if after := seqOf(); after-before != uint32(len(msg)) {
		t.Errorf("send seq moved from %d to %d, want +%d", before, after, len(msg))
	}
	// Out of repair mode the socket works as before.
	if _, err := unix.Write(client, msg); err != nil {
		t.Errorf("write after repair mode: %v", err)
	}
}
