package main

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/netlock"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Lines and timings of the network tests.
const (
	peerTick    = 2 * time.Millisecond // between two lines of the peer
	peerTimeout = 60 * time.Second     // for the peer to see a line
)

var (
	readyPortRe = regexp.MustCompile(`^ready (\d+) port (\d+)$`)
	recvRe      = regexp.MustCompile(`^recv (\d+)$`)
)

// restoreNet restores dir detached with extra flags, adopts the process
// and returns its pid.
func restoreNet(t *testing.T, dir string, extra ...string) int {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pid")
	args := append([]string{"restore", "-D", dir, "-d", "--pidfile", pidfile, "-v", "4", "-o", dir + ".restore.log"}, extra...)
	if out, code := crlazy(t, args...); code != 0 {
		log, _ := os.ReadFile(dir + ".restore.log")
		t.Fatalf("restore: exit %d\n%s\nlog:\n%s", code, out, log)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid := atoi(t, strings.TrimSpace(string(b)))
	testutil.Adopt(t, pid)
	return pid
}

// lockOf returns the network lock a dump recorded and the queue lengths
// of its connections.
func lockOf(t *testing.T, dir string) (string, []*tcpstream.TcpStreamEntry) {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var name wrapperspb.StringValue
	if err := r.Record(images.NetLock, 0, &name); err != nil {
		t.Fatalf("network lock record: %v", err)
	}
	ids, err := r.IDs(images.TCPStream)
	if err != nil {
		t.Fatal(err)
	}
	var streams []*tcpstream.TcpStreamEntry
	for _, id := range ids {
		var e tcpstream.TcpStreamEntry
		if err := r.Record(images.TCPStream, id, &e); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, &e)
	}
	return name.GetValue(), streams
}

// checkNoLocks fails if any crlazy network lock is in the ruleset.
func checkNoLocks(t *testing.T) {
	t.Helper()
	names, err := netlock.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Errorf("network locks left in the ruleset: %v", names)
	}
}

func requireNft(t *testing.T) {
	t.Helper()
	testutil.RequirePriv(t)
	if _, err := netlock.List(); errors.Is(err, netlock.ErrNoNft) {
		testutil.RequireFeature(t, "nft", err)
	}
	checkNoLocks(t)
}

// sendQueueOf returns the bytes queued for sending on the connection
// local -> remote (sock_diag's idiag_wqueue).
func sendQueueOf(t *testing.T, family int, local string) uint32 {
	t.Helper()
	socks, err := linux.InetDiagDump(family, linux.IpprotoTCP)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range socks {
		if d.Local.String() == local && d.State == linux.TCPEstablished {
			return d.WQueue
		}
	}
	return 0
}

// TestTCPEstablished: a server with a client outside the tree exchanging
// numbered lines both ways; the server's send queue is full (the client
// stopped reading) and the client keeps writing while it is dumped with
// --tcp-established and killed; restored, the conversation goes on with
// no line lost, repeated or reset, and the network lock is gone.
func TestTCPEstablished(t *testing.T) {
	requireNft(t)
	for _, fam := range []struct {
		arg    string
		family int
		host   string
	}{{"4", linux.AfInet, "127.0.0.1"}, {"6", linux.AfInet6, "::1"}} {
		t.Run("ipv"+fam.arg, func(t *testing.T) {
			v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_server"), fam.arg, "pad")
			port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
			server := net.JoinHostPort(fam.host, port)
			p := startPeer(t, server)
			v.WaitLine(t, regexp.MustCompile(`^recv 50$`), lineTimeout)
			p.waitGot(t, 50)
			p.pause(true)
			waitSendQueue(t, fam.family, server)
			dir := dump(t, v, "--tcp-established")
			v.Reap(t)
			name, streams := lockOf(t, dir)
			t.Cleanup(func() { _ = netlock.Remove(name) })
			if exists, err := netlock.Exists(name); err != nil || !exists {
				t.Fatalf("network lock %s after the dump: %v, %v", name, exists, err)
			}
			if len(streams) != 1 || streams[0].GetOutqLen() == 0 || streams[0].GetInqLen() == 0 {
				t.Errorf("saved connections %v: want one with bytes queued both ways", streams)
			}
			atDump := p.count()
			if pid := restoreNet(t, dir, "--tcp-established"); pid != v.Pid {
				t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
			}
			checkNoLocks(t)
			restored := time.Now()
			p.pause(false)
			p.waitGot(t, atDump+1)
			t.Logf("first line %v after the restore returned; %d bytes were queued to the peer, %d from it",
				time.Since(restored), streams[0].GetOutqLen(), streams[0].GetInqLen())
			p.waitGot(t, atDump+500)
			after := v.WaitLine(t, recvRe, lineTimeout)
			v.WaitLine(t, regexp.MustCompile(`^recv `+strconv.Itoa(atoi(t, after[1])+200)+`$`), lineTimeout)
		})
	}
}

// minSendQueue is more than the bytes a loopback connection has in flight
// (a few lines): the peer's window is closed.
const minSendQueue = 32 << 10

// waitSendQueue waits until the server's end of its connection has bytes
// queued (the peer stopped reading; the kernel gives no event for it).
func waitSendQueue(t *testing.T, family int, server string) {
	t.Helper()
	deadline := time.Now().Add(peerTimeout)
	for sendQueueOf(t, family, server) < minSendQueue {
		if time.Now().After(deadline) {
			t.Fatalf("the server's send queue stayed empty for %v", peerTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTCPEstablishedRefused: without --tcp-established the dump names
// the connection and leaves everything as it was.
func TestTCPEstablishedRefused(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_server"), "4")
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	p := startPeer(t, "127.0.0.1:"+port)
	p.waitGot(t, 20)
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", filepath.Join(t.TempDir(), "img"))
	wantFailure(t, out, code, `fd 4 \(socket:\[\d+\]\): established TCP connection ESTABLISHED 127\.0\.0\.1:`+port+
		` -> 127\.0\.0\.1:\d+ \(dump with --tcp-established to save it\)`)
	checkNoLocks(t)
	p.waitGot(t, p.count()+100)
}

// TestNetLockReleasedOnFailure: a dump that fails after the lock was
// taken (a raw socket comes after the connection) releases it and lets
// the connection go on.
func TestNetLockReleasedOnFailure(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_server"), "4", "raw")
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	p := startPeer(t, "127.0.0.1:"+port)
	p.waitGot(t, 20)
	dir := filepath.Join(t.TempDir(), "img")
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir, "--tcp-established")
	wantFailure(t, out, code, `fd 5 \(socket:\[\d+\]\): raw sockets cannot be checkpointed \(IPv4 UDP\)`)
	checkNoLocks(t)
	p.waitGot(t, p.count()+100)
	before := v.WaitLine(t, recvRe, lineTimeout)
	v.WaitLine(t, regexp.MustCompile(`^recv `+strconv.Itoa(atoi(t, before[1])+100)+`$`), lineTimeout)
}

// TestTCPLeaveRunning: --leave-running resumes the connection and
// releases the lock.
func TestTCPLeaveRunning(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_server"), "4")
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	p := startPeer(t, "127.0.0.1:"+port)
	p.waitGot(t, 20)
	dump(t, v, "--tcp-established", "--leave-running")
	checkNoLocks(t)
	p.waitGot(t, p.count()+100)
}

// TestTCPHalfClosed: one connection in FIN_WAIT2 (the server had shut
// down writing), one in CLOSE_WAIT with the peer's last bytes unread.
// After restore the first still carries the client's bytes to the
// server; on the second the server reads the bytes, then EOF, and can
// still answer.
func TestTCPHalfClosed(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_halfclosed"))
	addr := "127.0.0.1:" + v.WaitLine(t, readyPortRe, lineTimeout)[2]
	a := dialTCP(t, addr)
	if got := readAll(t, a); got != "bye-A\n" {
		t.Fatalf("A: %q then EOF, want \"bye-A\\n\"", got)
	}
	b := dialTCP(t, addr)
	if _, err := b.Write([]byte("last-B\n")); err != nil {
		t.Fatal(err)
	}
	if err := b.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^half-closed$`), lineTimeout)
	dir := dump(t, v, "--tcp-established")
	v.Reap(t)
	name, streams := lockOf(t, dir)
	t.Cleanup(func() { _ = netlock.Remove(name) })
	if len(streams) != 2 {
		t.Fatalf("%d connections saved, want 2", len(streams))
	}
	restoreNet(t, dir, "--tcp-established")
	checkNoLocks(t)
	if _, err := a.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^B last-B EOF$`), peerTimeout)
	if got := readAll(t, b); got != "reply-B 7\n" {
		t.Errorf("B: %q then EOF, want \"reply-B 7\\n\"", got)
	}
	v.WaitLine(t, regexp.MustCompile(`^done$`), lineTimeout)
}

func dialTCP(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// readAll reads c to EOF (a reset or a timeout fails the test).
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(peerTimeout))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read to EOF: %v", err)
	}
	return string(b)
}

// TestRestoreNeedsTCPEstablished: an image with a connection is refused
// without --tcp-established; the lock stays (the error names it), and
// the restore tried again with the flag brings the connection back.
func TestRestoreNeedsTCPEstablished(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_server"), "4")
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	p := startPeer(t, "127.0.0.1:"+port)
	p.waitGot(t, 20)
	dir := dump(t, v, "--tcp-established")
	v.Reap(t)
	name, _ := lockOf(t, dir)
	t.Cleanup(func() { _ = netlock.Remove(name) })
	out, code := crlazy(t, "restore", "-D", dir, "-d")
	wantFailure(t, out, code, `the image holds established TCP connections: restore with --tcp-established \(TCP connection 127\.0\.0\.1:`+
		port+` -> 127\.0\.0\.1:\d+ \(file id \d+\)\) \(the connections stay held by nftables table inet `+name)
	if exists, err := netlock.Exists(name); err != nil || !exists {
		t.Fatalf("lock %s after the refused restore: %v, %v", name, exists, err)
	}
	restoreNet(t, dir, "--tcp-established")
	checkNoLocks(t)
	p.waitGot(t, p.count()+200)
}
