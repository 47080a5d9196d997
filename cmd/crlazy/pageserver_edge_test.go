package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/pageserver/pstest"
)

// TestPageServerGone kills the page server while a lazy restore still
// needs pages: after the retry window the restored process must be
// killed with a clear error, never run on zeros.
func TestPageServerGone(t *testing.T) {
	np := newNetPair(t)
	ps := startPageServer(t, np.a, "127.0.0.1", psPort)
	v := startTouch(t, 1024)
	dir, err := pushDump(t, np.a, v.Pid, "127.0.0.1", "gone")
	if err != nil {
		t.Fatal(err)
	}
	v.Reap(t)
	pid, log, err := remoteRestore(t, np.a, dir, "127.0.0.1", "gone")
	if err != nil {
		t.Fatal(err)
	}
	adoptRestored(t, pid)
	ps.kill()
	waitLog(t, log, regexp.MustCompile(`page server unavailable`), lineTimeout)
	waitLog(t, log, regexp.MustCompile(`killing the restored process`), lineTimeout)
	reapRestored(t, pid)
	if b, _ := os.ReadFile(log); allInRe.Match(b) {
		t.Fatalf("every page was in before the server was killed; the test proves nothing:\n%s", b)
	}
	if tail := v.Tail(5); strings.Contains(tail, "FAIL") {
		t.Errorf("the victim ran on bad memory:\n%s", tail)
	}
}

// TestPageServerSourceSide dumps with --lazy-pages: the process stays
// frozen and the dump serves its memory until a lazy restore in the other
// namespace (and, as on another host, in a PID namespace of its own) has
// every page; then the dump kills it and exits.
func TestPageServerSourceSide(t *testing.T) {
	np := newNetPair(t)
	token := writeToken(t)
	auth := []string{"--auth-token-file", token}
	v := startTouch(t, 128)
	dir := filepath.Join(t.TempDir(), "live")
	dumpLog := dir + ".dump.log"
	dump := nsCmd(t, np.b, append([]string{"dump", "-t", strconv.Itoa(v.Pid), "-D", dir, "--lazy-pages",
		"--address", np.addrB, "--port", strconv.Itoa(psPort), "-v", "4", "-o", dumpLog}, auth...)...)
	dumpDone := startCmd(t, dump)
	waitLog(t, dumpLog, regexp.MustCompile(`serving the frozen process's pages`), lineTimeout)
	mark := markPasses(t, v) // the process is frozen: its output is final
	local := copyImages(t, dir)
	log := filepath.Join(t.TempDir(), "restore.log")
	restore := exec.Command("ip", append([]string{"netns", "exec", np.a, "unshare", "--pid", "--fork", "--kill-child",
		"--mount-proc", testutil.BuildCrlazy(t), "restore", "-D", local, "--checkpoint-name", "live", "--lazy-pages",
		"--page-server", "--address", np.addrB, "--port", strconv.Itoa(psPort), "-v", "4", "-o", log}, auth...)...)
	startCmd(t, restore)
	if err := <-dumpDone; err != nil {
		b, _ := os.ReadFile(dumpLog)
		t.Fatalf("dump: %v\nlog:\n%s", err, b)
	}
	v.Reap(t)
	waitLog(t, log, allInRe, lineTimeout)
	waitPass(t, v, mark)
}

// startCmd starts cmd, kills it at cleanup if it still runs, and returns
// a channel that receives its Wait error.
func startCmd(t *testing.T, cmd *exec.Cmd) <-chan error {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return done
}

// TestPageServerRefusals: a wrong token, no token, and a client
// certificate of another CA are refused and logged by the server; a
// server will not listen off loopback without authentication.
func TestPageServerRefusals(t *testing.T) {
	np := newNetPair(t)
	out, code, err := runIn(t, np.a, "page-server", "-D", t.TempDir(), "--address", np.addrA, "--port", strconv.Itoa(psPort))
	if err != nil || code != 1 || !strings.Contains(out, "needs authentication") {
		t.Fatalf("page server off loopback without auth: exit %d, %v\n%s", code, err, out)
	}
	certs, err := pstest.WriteCerts(t.TempDir(), np.addrA)
	if err != nil {
		t.Fatal(err)
	}
	token := writeToken(t)
	tls := []string{"--tls-cacert", certs.CA, "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey}
	good := append([]string{"--auth-token-file", token}, tls...)
	ps := startPageServer(t, np.a, np.addrA, psPort, "--auth-token-file", token,
		"--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-cacert", certs.CA)
	v := startTouch(t, 8)
	dir, err := pushDump(t, np.b, v.Pid, np.addrA, "refusals", good...)
	if err != nil {
		t.Fatal(err)
	}
	v.Reap(t)
	cases := []struct {
		name   string
		auth   []string
		server string // what the server logs
	}{
		{"wrong token", append([]string{"--auth-token-file", writeToken(t)}, tls...), "client sent a wrong token"},
		{"no token", tls, ""},
		{"client certificate of another CA", []string{"--auth-token-file", token, "--tls-cacert", certs.CA,
			"--tls-cert", certs.OtherClientCert, "--tls-key", certs.OtherClientKey}, "tls handshake"},
		{"no TLS", []string{"--auth-token-file", token}, "tls handshake"},
	}
	for _, c := range cases {
		args := append([]string{"restore", "-D", dir, "--checkpoint-name", "refusals", "--lazy-pages", "--page-server",
			"--address", np.addrA, "--port", strconv.Itoa(psPort)}, c.auth...)
		out, code, err := runIn(t, np.b, args...)
		if err != nil || code != 1 {
			t.Errorf("%s: exit %d, %v\n%s", c.name, code, err, out)
		}
		t.Logf("%s: %s", c.name, strings.TrimSpace(out))
		if c.server != "" {
			waitLog(t, ps.log, regexp.MustCompile(regexp.QuoteMeta(c.server)), lineTimeout)
		}
	}
	testutil.CheckNoLeftovers(t, v.Pid)
}
