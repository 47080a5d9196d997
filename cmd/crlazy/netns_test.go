package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/testutil"
)

// netPair is two network namespaces joined by a veth pair, each end named
// v0 with an address of 10.77.N.0/24 (private, and only inside the two
// namespaces), loopback up in both. They are deleted at cleanup.
type netPair struct {
	a, b         string // namespace names
	addrA, addrB string
}

var netSeq atomic.Int32

// maxNetPairs bounds the pairs one test binary makes (N in 10.77.N.0/24).
const maxNetPairs = 250

func newNetPair(t *testing.T) *netPair {
	t.Helper()
	testutil.RequirePriv(t)
	_, err := exec.LookPath("ip")
	testutil.RequireFeature(t, "iproute2 (ip)", err)
	n := netSeq.Add(1)
	if n > maxNetPairs {
		t.Fatalf("more than %d network namespace pairs", maxNetPairs)
	}
	id := fmt.Sprintf("crlz%d-%d", os.Getpid(), n)
	np := &netPair{a: id + "a", b: id + "b", addrA: fmt.Sprintf("10.77.%d.1", n), addrB: fmt.Sprintf("10.77.%d.2", n)}
	for _, ns := range []string{np.a, np.b} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	ipCmd(t, "link", "add", "v0", "netns", np.a, "type", "veth", "peer", "name", "v0", "netns", np.b)
	for ns, addr := range map[string]string{np.a: np.addrA, np.b: np.addrB} {
		ipCmd(t, "-n", ns, "addr", "add", addr+"/24", "dev", "v0")
		ipCmd(t, "-n", ns, "link", "set", "v0", "up")
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	}
	return np
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// nsCmd returns the command running crlazy with args in namespace ns.
func nsCmd(t *testing.T, ns string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, testutil.BuildCrlazy(t)}, args...)...)
}

// runIn runs crlazy in ns and returns its output and exit status; it
// reports problems as errors, so that it may run on any goroutine.
func runIn(t *testing.T, ns string, args ...string) (string, int, error) {
	cmd := nsCmd(t, ns, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			return out.String(), 0, err
		}
	case <-time.After(runTimeout):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), 0, fmt.Errorf("crlazy %s did not finish in %v", strings.Join(args, " "), runTimeout)
	}
	return out.String(), cmd.ProcessState.ExitCode(), nil
}

// mustRunIn runs crlazy in ns and fails t unless it exits 0.
func mustRunIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, code, err := runIn(t, ns, args...)
	if err != nil || code != 0 {
		t.Fatalf("crlazy %s in %s: exit %d, %v\n%s", strings.Join(args, " "), ns, code, err, out)
	}
	return out
}

// pageServer is a `crlazy page-server` the test started.
type pageServer struct {
	cmd  *exec.Cmd
	log  string
	dir  string
	port int
	done chan error
}

// startPageServer starts a page server in ns on addr:port serving a new
// directory, and returns once it listens (its --status-fd).
func startPageServer(t *testing.T, ns, addr string, port int, extra ...string) *pageServer {
	t.Helper()
	ps := &pageServer{log: filepath.Join(t.TempDir(), "page-server.log"), dir: t.TempDir(), port: port, done: make(chan error, 1)}
	args := append([]string{"page-server", "-D", ps.dir, "--address", addr, "--port", strconv.Itoa(port),
		"--status-fd", "3", "-v", "4", "-o", ps.log}, extra...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	ps.cmd = nsCmd(t, ns, args...)
	var out bytes.Buffer
	ps.cmd.Stdout, ps.cmd.Stderr, ps.cmd.ExtraFiles = &out, &out, []*os.File{pw}
	err = ps.cmd.Start()
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() { ps.done <- ps.cmd.Wait() }()
	t.Cleanup(func() { ps.stop(t) })
	if n, _ := io.ReadFull(pr, make([]byte, 1)); n != 1 {
		<-ps.done
		b, _ := os.ReadFile(ps.log)
		t.Fatalf("page server did not start: %s\nlog:\n%s", out.String(), b)
	}
	return ps
}

// stop ends the server with SIGTERM (it must exit 0), unless it is gone.
func (ps *pageServer) stop(t *testing.T) {
	select {
	case <-ps.done:
		return
	default:
	}
	_ = ps.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-ps.done:
		if err != nil {
			b, _ := os.ReadFile(ps.log)
			t.Errorf("page server exited with %v; log:\n%s", err, b)
		}
	case <-time.After(lineTimeout):
		_ = ps.cmd.Process.Kill()
		t.Errorf("page server did not stop within %v of SIGTERM", lineTimeout)
	}
}

// kill ends the server with SIGKILL, as a crash would.
func (ps *pageServer) kill() {
	_ = ps.cmd.Process.Kill()
	<-ps.done
	ps.done <- nil
}

// writeToken writes a random token into a file of mode 0600.
func writeToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// copyImages copies an images directory, as a user brings the records of a
// dump to the host that restores it.
func copyImages(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	return dst
}
