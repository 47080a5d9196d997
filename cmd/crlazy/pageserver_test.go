package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/pageserver/pstest"
)

// psPort is the page server's port: the namespaces are the test's own,
// so any port is free.
const psPort = 7007

var (
	readyRe = regexp.MustCompile(`^ready `)
	passRe  = regexp.MustCompile(`^pass (\d+) ok`)
)

// startTouch starts a lazytouch victim of mib MiB and waits for its first
// verified pass.
func startTouch(t *testing.T, mib int) *testutil.Victim {
	t.Helper()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "lazytouch"), strconv.Itoa(mib))
	v.WaitLine(t, readyRe, lineTimeout)
	v.WaitLine(t, passRe, lineTimeout)
	return v
}

// passMark is where a restored copy's output starts: the end of the
// victim's output and its last pass number, taken while no copy of the
// victim runs (after the dump, or after a restored copy was killed).
type passMark struct {
	off  int
	pass int
}

func markPasses(t *testing.T, v *testutil.Victim) passMark {
	t.Helper()
	b, err := os.ReadFile(v.Out)
	if err != nil {
		t.Fatal(err)
	}
	m := passMark{off: len(b)}
	for _, line := range strings.Split(string(b), "\n") {
		if p := passRe.FindStringSubmatch(line); p != nil {
			m.pass = max(m.pass, atoi(t, p[1]))
		}
	}
	return m
}

// waitPass waits until the output after m holds a verified pass numbered
// above m's (one the restored copy ran through all its memory), failing
// at once on a FAIL line.
func waitPass(t *testing.T, v *testutil.Victim, m passMark) {
	t.Helper()
	deadline := time.Now().Add(lineTimeout)
	for {
		b, _ := os.ReadFile(v.Out)
		for _, line := range strings.Split(string(b[min(m.off, len(b)):]), "\n") {
			if strings.HasPrefix(line, "FAIL") {
				t.Fatalf("victim %d: %s", v.Pid, line)
			}
			if p := passRe.FindStringSubmatch(line); p != nil && atoi(t, p[1]) > m.pass {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("victim %d: no pass after %d within %v; output ends:\n%s", v.Pid, m.pass, lineTimeout, v.Tail(5))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushDump dumps pid from namespace ns, sending its pages to the page
// server at addr as checkpoint name, and returns the images directory
// (which holds the records). It may run on any goroutine.
func pushDump(t *testing.T, ns string, pid int, addr, name string, auth ...string) (string, error) {
	dir := filepath.Join(t.TempDir(), name)
	log := dir + ".dump.log"
	args := append([]string{"dump", "-t", strconv.Itoa(pid), "-D", dir, "--page-server", "--address", addr,
		"--port", strconv.Itoa(psPort), "-v", "4", "-o", log}, auth...)
	out, code, err := runIn(t, ns, args...)
	if err == nil && code != 0 {
		b, _ := os.ReadFile(log)
		err = fmt.Errorf("dump %d: exit %d\n%s\nlog:\n%s", pid, code, out, b)
	}
	return dir, err
}

// remoteRestore restores lazily, detached, in namespace ns: the records
// from dir, the pages of checkpoint name from the page server at addr.
// It returns the pid and the log. It may run on any goroutine.
func remoteRestore(t *testing.T, ns, dir, addr, name string, auth ...string) (int, string, error) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	log := filepath.Join(t.TempDir(), "restore.log")
	args := append([]string{"restore", "-D", dir, "--checkpoint-name", name, "-d", "--lazy-pages", "--page-server",
		"--address", addr, "--port", strconv.Itoa(psPort), "--pidfile", pidfile, "-v", "4", "-o", log}, auth...)
	out, code, err := runIn(t, ns, args...)
	if err == nil && code != 0 {
		b, _ := os.ReadFile(log)
		err = fmt.Errorf("restore %s: exit %d\n%s\nlog:\n%s", name, code, out, b)
	}
	if err != nil {
		return 0, log, err
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, log, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, log, err
}

// adoptRestored makes the test kill the restored process (and the crlazy
// that serves its pages) at cleanup.
func adoptRestored(t *testing.T, pid int) {
	t.Helper()
	testutil.Adopt(t, pid)
	if ppid := parentOf(t, pid); ppid > 1 {
		adoptDaemon(t, ppid)
	}
}

// TestPageServerNetns dumps a victim in one network namespace to a page
// server in another (across a veth pair, with a token), restores it
// lazily on the server's side from there (the records copied over, every
// page over the network), and then restores it again from the complete
// store the server received, without the network.
func TestPageServerNetns(t *testing.T) {
	np := newNetPair(t)
	token := writeToken(t)
	auth := []string{"--auth-token-file", token}
	ps := startPageServer(t, np.a, np.addrA, psPort, auth...)
	mib := 256
	if testing.Short() {
		mib = 64
	}
	v := startTouch(t, mib)
	dir, err := pushDump(t, np.b, v.Pid, np.addrA, "touch", auth...)
	if err != nil {
		t.Fatal(err)
	}
	v.Reap(t)
	mark := markPasses(t, v)
	pid, log, err := remoteRestore(t, np.a, copyImages(t, dir), np.addrA, "touch", auth...)
	if err != nil {
		t.Fatal(err)
	}
	adoptRestored(t, pid)
	if pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	waitLog(t, log, allInRe, lineTimeout)
	waitPass(t, v, mark)
	guardGone(t, pid)
	waitLog(t, ps.log, regexp.MustCompile(`msg="a restore has every page".*name=touch`), lineTimeout)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reapRestored(t, pid)
	mark = markPasses(t, v)
	// An eager restore takes every page from the server too.
	args := append([]string{"restore", "-D", copyImages(t, dir), "--checkpoint-name", "touch", "-d", "--page-server",
		"--address", np.addrA, "--port", strconv.Itoa(psPort)}, auth...)
	mustRunIn(t, np.a, args...)
	testutil.Adopt(t, v.Pid)
	waitPass(t, v, mark)
	if err := syscall.Kill(v.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reapRestored(t, v.Pid)
	mark = markPasses(t, v)
	// The server's own store is complete: restore from it on its host.
	if got := restore(t, filepath.Join(ps.dir, "touch")); got != v.Pid {
		t.Fatalf("restored pid %d from the server's store, dumped %d", got, v.Pid)
	}
	waitPass(t, v, mark)
}

// TestPageServerMany stores 8 checkpoints of 8 victims in one page server
// (pushed at the same time) and restores all 8 lazily at the same time.
func TestPageServerMany(t *testing.T) {
	const n = 8
	np := newNetPair(t)
	token := writeToken(t)
	auth := []string{"--auth-token-file", token}
	startPageServer(t, np.a, np.addrA, psPort, auth...)
	vs := make([]*testutil.Victim, n)
	for i := range vs {
		vs[i] = startTouch(t, 32+8*i)
	}
	dirs := make([]string, n)
	all(t, n, func(i int) (err error) {
		dirs[i], err = pushDump(t, np.b, vs[i].Pid, np.addrA, fmt.Sprintf("victim-%d", i), auth...)
		return err
	})
	marks := make([]passMark, n)
	for i, v := range vs {
		v.Reap(t)
		marks[i] = markPasses(t, v)
	}
	pids, logs := make([]int, n), make([]string, n)
	all(t, n, func(i int) (err error) {
		pids[i], logs[i], err = remoteRestore(t, np.a, copyImages(t, dirs[i]), np.addrA, fmt.Sprintf("victim-%d", i), auth...)
		return err
	})
	for i, v := range vs {
		adoptRestored(t, pids[i])
		if pids[i] != v.Pid {
			t.Errorf("victim %d: restored pid %d, dumped %d", i, pids[i], v.Pid)
		}
	}
	for i, v := range vs {
		waitLog(t, logs[i], allInRe, lineTimeout)
		waitPass(t, v, marks[i])
	}
}

// all runs f(0..n-1) at once and fails t with every error.
func all(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestPageServerRepeat restores one checkpoint lazily 3 times in a row
// from the same server, over TLS with client certificates.
func TestPageServerRepeat(t *testing.T) {
	np := newNetPair(t)
	certs, err := pstest.WriteCerts(t.TempDir(), np.addrA)
	if err != nil {
		t.Fatal(err)
	}
	startPageServer(t, np.a, np.addrA, psPort, "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-cacert", certs.CA)
	client := []string{"--tls-cacert", certs.CA, "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey}
	v := startTouch(t, 128)
	dir, err := pushDump(t, np.b, v.Pid, np.addrA, "again", client...)
	if err != nil {
		t.Fatal(err)
	}
	v.Reap(t)
	local := copyImages(t, dir)
	for round := range 3 {
		mark := markPasses(t, v)
		pid, log, err := remoteRestore(t, np.b, local, np.addrA, "again", client...)
		if err != nil {
			t.Fatalf("round %d: %v", round+1, err)
		}
		adoptRestored(t, pid)
		waitLog(t, log, allInRe, lineTimeout)
		waitPass(t, v, mark)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		reapRestored(t, pid)
	}
}
