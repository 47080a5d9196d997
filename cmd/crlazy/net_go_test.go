package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/netlock"
)

// mptcpListening reports whether an MPTCP socket listens on 127.0.0.1:port.
func mptcpListening(t *testing.T, port string) bool {
	t.Helper()
	socks, err := linux.InetDiagDump(linux.AfInet, linux.IpprotoMPTCP)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range socks {
		if d.State == linux.TCPListen && d.Local.String() == "127.0.0.1:"+port {
			return true
		}
	}
	return false
}

var goHelloRe = regexp.MustCompile(`^hello from go (\d+)\n$`)

// TestGoHTTPServer: a Go HTTP server built with the machine's Go listens
// with MPTCP; restored, it listens with MPTCP again and answers new
// connections, its request counter going on.
func TestGoHTTPServer(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildGoVictim(t, "net_gohttp"))
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	url := "http://127.0.0.1:" + port + "/"
	if !mptcpListening(t, port) {
		t.Fatalf("the Go server does not listen with MPTCP on port %s", port)
	}
	first := goHelloRe.FindStringSubmatch(httpGet(t, url))
	if first == nil {
		t.Fatal("unexpected answer before the dump")
	}
	checkpoint(t, v)
	if !mptcpListening(t, port) {
		t.Errorf("the restored server does not listen with MPTCP on port %s", port)
	}
	for i := 1; i <= 3; i++ {
		got := goHelloRe.FindStringSubmatch(httpGet(t, url))
		if got == nil || atoi(t, got[1]) != atoi(t, first[1])+i {
			t.Fatalf("request %d after restore answered %v, want counter %d", i, got, atoi(t, first[1])+i)
		}
	}
}

// TestMPTCPConnectionRefused: a connection from an MPTCP client accepted
// by an MPTCP listener is an MPTCP socket, which the kernel cannot
// repair: the dump refuses it by name, even with --tcp-established, and
// the server goes on.
func TestMPTCPConnectionRefused(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildGoVictim(t, "net_gohttp"))
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	var d net.Dialer
	d.SetMultipathTCP(true)
	c, err := d.Dial("tcp4", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	httpGet(t, "http://127.0.0.1:"+port+"/") // the server has accepted c by now
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", filepath.Join(t.TempDir(), "img"), "--tcp-established")
	wantFailure(t, out, code, `established MPTCP connections cannot be checkpointed \(the kernel has no repair mode for MPTCP\): ESTABLISHED 127\.0\.0\.1:`+port+` -> `+
		regexp.QuoteMeta(c.LocalAddr().String()))
	checkNoLocks(t)
	if got := httpGet(t, "http://127.0.0.1:"+port+"/"); !strings.HasPrefix(got, "hello from go") {
		t.Errorf("after the refused dump: %q", got)
	}
}

// TestGoHTTPKeepAlive: a plain TCP client's connection to an MPTCP
// listener falls back to TCP (the accepted socket is a TCP socket), so an
// idle keep-alive connection of a Go server is saved with
// --tcp-established and serves the next request after restore, reused.
func TestGoHTTPKeepAlive(t *testing.T) {
	requireNft(t)
	v := testutil.StartVictim(t, testutil.BuildGoVictim(t, "net_gohttp"))
	port := v.WaitLine(t, readyPortRe, lineTimeout)[2]
	url := "http://127.0.0.1:" + port + "/"
	client := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{MaxIdleConns: 1}}
	defer client.CloseIdleConnections()
	if _, reused := getTraced(t, client, url); reused {
		t.Fatal("the first request reused a connection")
	}
	dir := dump(t, v, "--tcp-established")
	v.Reap(t)
	name, streams := lockOf(t, dir)
	t.Cleanup(func() { _ = netlock.Remove(name) })
	if len(streams) != 1 {
		t.Fatalf("%d connections saved, want the keep-alive one", len(streams))
	}
	restoreNet(t, dir, "--tcp-established")
	checkNoLocks(t)
	body, reused := getTraced(t, client, url)
	if !reused || body != "hello from go 2\n" {
		t.Errorf("after restore: %q, connection reused: %v; want the second answer on the same connection", body, reused)
	}
}

// getTraced GETs url and reports whether the connection was reused.
func getTraced(t *testing.T, c *http.Client, url string) (string, bool) {
	t.Helper()
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), reused
}
