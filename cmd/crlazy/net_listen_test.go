package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

// httpTimeout bounds one request of the tests.
const httpTimeout = 30 * time.Second

// httpGet fetches url on a new connection (no keep-alive: no connection
// of the server stays open to be dumped) and returns the body.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(b)
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startHTTPServer starts Python's http.server on 127.0.0.1, serving a
// directory holding hello.txt, and returns it with its base URL.
func startHTTPServer(t *testing.T) (*testutil.Victim, string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from python\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(freePort(t))
	v := testutil.StartVictim(t, py, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, port)
	v.WaitLine(t, regexp.MustCompile(`^Serving HTTP on 127\.0\.0\.1 port `+port), lineTimeout)
	return v, "http://127.0.0.1:" + port
}

// TestPythonHTTPServer: a real server (Python's http.server) still
// accepts and answers new connections after it is restored.
func TestPythonHTTPServer(t *testing.T) {
	testutil.RequirePriv(t)
	v, url := startHTTPServer(t)
	if got := httpGet(t, url+"/hello.txt"); got != "hello from python\n" {
		t.Fatalf("before the dump: %q", got)
	}
	checkpoint(t, v)
	for i := 0; i < 3; i++ {
		if got := httpGet(t, url+"/hello.txt"); got != "hello from python\n" {
			t.Fatalf("after restore, request %d: %q", i, got)
		}
	}
}

// TestRestoreAddressTaken: the listening address was taken by another
// process meanwhile: restore fails saying so, and nothing is left.
func TestRestoreAddressTaken(t *testing.T) {
	testutil.RequirePriv(t)
	v, url := startHTTPServer(t)
	httpGet(t, url+"/hello.txt")
	dir := dump(t, v)
	v.Reap(t)
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp4", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, code := crlazy(t, "restore", "-D", dir, "-d")
	wantFailure(t, out, code, `listening socket 127\.0\.0\.1:\d+ \(file id \d+\): bind 127\.0\.0\.1:\d+: address already in use`)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", v.Pid)); err == nil {
		t.Errorf("pid %d exists after a failed restore", v.Pid)
	}
	checkNoStubs(t)
}

// TestUDP: a bound UDP socket (with SO_REUSEADDR and IP_PKTINFO) answers
// on its port after restore, and a connected one goes on sending from its
// port to its peer.
func TestUDP(t *testing.T) {
	testutil.RequirePriv(t)
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_udp"), strconv.Itoa(peer.LocalAddr().(*net.UDPAddr).Port))
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: atoi(t, v.WaitLine(t, readyPortRe, lineTimeout)[2])}
	from, before := readTick(t, peer)
	udpEcho(t, peer, server, "before")
	checkpoint(t, v)
	udpEcho(t, peer, server, "after")
	for {
		src, n := readTick(t, peer)
		if src.String() != from.String() {
			t.Fatalf("ticks came from %s, now from %s", from, src)
		}
		if n > before+10 {
			return
		}
	}
}

// readTick reads one "tick <n>" datagram, skipping echoes.
func readTick(t *testing.T, c net.PacketConn) (net.Addr, int) {
	t.Helper()
	buf := make([]byte, 512)
	for {
		_ = c.SetReadDeadline(time.Now().Add(lineTimeout))
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read a tick: %v", err)
		}
		if s, ok := strings.CutPrefix(string(buf[:n]), "tick "); ok {
			return from, atoi(t, s)
		}
	}
}

// udpEcho sends msg to the server and waits for its echo (resending: UDP
// may lose a datagram; ticks arriving meanwhile are skipped).
func udpEcho(t *testing.T, c net.PacketConn, server net.Addr, msg string) {
	t.Helper()
	buf := make([]byte, 512)
	deadline := time.Now().Add(lineTimeout)
	for time.Now().Before(deadline) {
		if _, err := c.WriteTo([]byte(msg), server); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				break // resend
			}
			if from.String() == server.String() && string(buf[:n]) == "echo "+msg {
				return
			}
		}
	}
	t.Fatalf("no echo of %q from %s", msg, server)
}

// TestRawSocketRefused: a raw socket is refused by name.
func TestRawSocketRefused(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_udp"), "raw")
	v.WaitLine(t, readyPortRe, lineTimeout)
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", filepath.Join(t.TempDir(), "img"))
	wantFailure(t, out, code, `fd 3 \(socket:\[\d+\]\): raw sockets cannot be checkpointed \(IPv4 UDP\)`)
	testutil.CheckRunning(t, v.Pid)
}

// sockOptions describes every inet socket of pid (read through a
// pidfd_getfd copy): protocol, address, the options a restore must bring
// back, and a listener's backlog, by local address.
func sockOptions(t *testing.T, pid int) map[string]string {
	t.Helper()
	pidfd, err := linux.PidfdOpen(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer pidfd.Close()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if !strings.HasPrefix(link, "socket:") {
			continue
		}
		f, err := linux.PidfdGetfd(pidfd, atoi(t, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		local, desc := describeSock(t, f)
		f.Close()
		out[local] = desc
	}
	return out
}

var sockOptList = []struct {
	name       string
	level, opt int
}{
	{"reuseaddr", linux.SolSocket, linux.SoReuseaddr}, {"reuseport", linux.SolSocket, linux.SoReuseport},
	{"keepalive", linux.SolSocket, linux.SoKeepalive}, {"rcvbuf", linux.SolSocket, linux.SoRcvbuf},
	{"buflock", linux.SolSocket, linux.SoBufLock}, {"priority", linux.SolSocket, linux.SoPriority},
	{"mark", linux.SolSocket, linux.SoMark}, {"nodelay", linux.IPProtoTCP, linux.TCPNodelay},
	{"keepidle", linux.IPProtoTCP, linux.TCPKeepidle}, {"keepintvl", linux.IPProtoTCP, linux.TCPKeepintvl},
	{"keepcnt", linux.IPProtoTCP, linux.TCPKeepcnt}, {"v6only", linux.SolIPv6, linux.IPv6V6only},
}

func describeSock(t *testing.T, f *os.File) (string, string) {
	t.Helper()
	fam, typ, proto, err := linux.SocketInfo(f)
	if err != nil {
		t.Fatal(err)
	}
	local, err := linux.SockName(f)
	if err != nil {
		t.Fatal(err)
	}
	desc := fmt.Sprintf("family %d type %d proto %d", fam, typ, proto)
	for _, o := range sockOptList {
		v, err := linux.GetsockoptInt(f, o.level, o.opt)
		if err == nil {
			desc += fmt.Sprintf(" %s=%d", o.name, v)
		}
	}
	dev, _ := linux.BoundDevice(f)
	sndtimeo, _ := linux.GetsockoptTimeout(f, linux.SoSndtimeo)
	on, secs, _ := linux.Linger(f)
	desc += fmt.Sprintf(" dev=%q sndtimeo=%v linger=%v/%d", dev, sndtimeo, on, secs)
	socks, err := linux.InetDiagDump(fam, proto)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range socks {
		if d.Local.Port() == local.Port() && d.State == linux.TCPListen {
			desc += fmt.Sprintf(" listening backlog=%d", d.WQueue)
		}
	}
	return local.String(), desc
}

// TestListenerOptions: listening sockets (IPv6 TCP and MPTCP) come back
// with their protocol, address, backlog and every option set on them.
func TestListenerOptions(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "net_opts"))
	v.WaitLine(t, regexp.MustCompile(`^ready \d+ ports \d+ \d+$`), lineTimeout)
	before := sockOptions(t, v.Pid)
	if len(before) != 2 {
		t.Fatalf("sockets before: %v", before)
	}
	checkpoint(t, v)
	after := sockOptions(t, v.Pid)
	for addr, want := range before {
		if after[addr] != want {
			t.Errorf("%s after restore:\n  %s\nwant\n  %s", addr, after[addr], want)
		}
	}
	t.Logf("%v", after)
}

// TestTCPInFlight: a connection waiting in a listener's accept queue (the
// server has not accepted it) cannot be saved: the dump refuses, as criu
// does, naming --tcp-skip-in-flight, and leaves the server running; with
// that flag it drops the connection and the restored listener accepts
// new ones.
func TestTCPInFlight(t *testing.T) {
	testutil.RequirePriv(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	port := strconv.Itoa(freePort(t))
	src := `import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("listening", flush=True)
while True:
    time.sleep(0.05)
`
	v := testutil.StartVictim(t, py, "-c", src, port)
	v.WaitLine(t, regexp.MustCompile(`^listening$`), lineTimeout)
	addr := "127.0.0.1:" + port
	dialer := net.Dialer{Timeout: lineTimeout}
	pending, err := dialer.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()

	dir := filepath.Join(t.TempDir(), "img")
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir)
	wantFailure(t, out, code, `1 connections wait in the accept queue of this listener \(127\.0\.0\.1:\d+\).*--tcp-skip-in-flight`)
	testutil.CheckRunning(t, v.Pid)
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a refused dump left %s", dir)
	}

	dir = dump(t, v, "--tcp-skip-in-flight")
	v.Reap(t)
	restoreNet(t, dir)
	for i := 0; i < 2; i++ {
		c, err := dialer.Dial("tcp4", addr)
		if err != nil {
			t.Fatalf("connect to the restored listener: %v", err)
		}
		c.Close()
	}
}
