package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
)

// lazyRestore restores dir with --lazy-pages -d and returns the pid and
// the log file.
func lazyRestore(t *testing.T, dir string, extra ...string) (int, string) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pid")
	log := filepath.Join(t.TempDir(), "lazy.log")
	args := append([]string{"restore", "-D", dir, "-d", "--lazy-pages", "--pidfile", pidfile, "-v", "4", "-o", log}, extra...)
	out, code := crlazy(t, args...)
	if code != 0 {
		b, _ := os.ReadFile(log)
		t.Fatalf("lazy restore: exit %d\n%s\nlog:\n%s", code, out, b)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid := atoi(t, strings.TrimSpace(string(b)))
	testutil.Adopt(t, pid)
	if ppid := parentOf(t, pid); ppid > 1 {
		adoptDaemon(t, ppid)
	}
	return pid, log
}

// parentOf returns the parent pid: after a lazy -d restore, the crlazy
// daemon that serves the pages.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	st, err := proc.ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st.PPid
}

// adoptDaemon makes sure the daemon is gone at the end of the test (it
// exits by itself once the pages are in, and is reaped by us, a
// subreaper).
func adoptDaemon(t *testing.T, pid int) {
	t.Helper()
	if isCrlazy(t, pid) {
		testutil.Adopt(t, pid)
	}
}

// isCrlazy tells whether pid runs the crlazy under test. A restored
// process whose lazy handler has already exited is the test binary's
// child (a subreaper), whose name also holds "crlazy": a test that took
// its parent for the handler would kill itself.
func isCrlazy(t *testing.T, pid int) bool {
	t.Helper()
	if pid == os.Getpid() {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && exe == testutil.BuildCrlazy(t)
}

// waitLog waits until the log file has a line matching re and returns it.
func waitLog(t *testing.T, log string, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(log)
		if m := re.Find(b); m != nil {
			return string(m)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %q within %v; log:\n%s", re, timeout, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var allInRe = regexp.MustCompile(`level=INFO msg="all pages in".*`)

// guardGone checks the restored process holds no userfaultfd any more.
func guardGone(t *testing.T, pid int) {
	t.Helper()
	fds, err := proc.ListFds(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if link, _ := proc.ReadFdLink(pid, fd); strings.Contains(link, "userfaultfd") {
			t.Errorf("fd %d of the restored process is still %s after all pages are in", fd, link)
		}
	}
}

// TestLazyTouch restores a victim that verifies every page in a random
// order: it must find all of its memory, none of it zero.
func TestLazyTouch(t *testing.T) {
	testutil.RequirePriv(t)
	mib := "256"
	if testing.Short() {
		mib = "64"
	}
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "lazytouch"), mib)
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	pass := regexp.MustCompile(`^pass (\d+) ok`)
	v.WaitLine(t, pass, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	pid, log := lazyRestore(t, dir)
	if pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	v.WaitLine(t, pass, lineTimeout)
	v.WaitLine(t, pass, lineTimeout)
	waitLog(t, log, allInRe, lineTimeout)
	guardGone(t, pid)
	if _, err := os.Stat(filepath.Join(dir, "working-set")); err != nil {
		t.Errorf("the first lazy restore recorded no working set: %v", err)
	}
}

// TestLazyOps restores a victim that forks, mremaps, munmaps and
// discards memory (MADV_DONTNEED) all the time, checking its memory.
func TestLazyOps(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "lazyops"), "256")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	tick := regexp.MustCompile(`^tick (\d+) `)
	before := v.WaitLine(t, tick, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	_, log := lazyRestore(t, dir)
	var after []string
	for range 5 {
		after = v.WaitLine(t, tick, lineTimeout)
	}
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("steps went from %s to %s", before[1], after[1])
	}
	line := waitLog(t, log, allInRe, lineTimeout)
	t.Logf("%s", line)
}

// TestLazyWorkingSet restores a store twice: the second restore uses the
// working set the first recorded.
func TestLazyWorkingSet(t *testing.T) {
	testutil.RequirePriv(t)
	bin := testutil.BuildVictim(t, "lazytouch")
	v := testutil.StartVictim(t, bin, "32")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	pass := regexp.MustCompile(`^pass (\d+) ok`)
	v.WaitLine(t, pass, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	for round := range 2 {
		pid, log := lazyRestore(t, dir)
		v.WaitLine(t, pass, lineTimeout)
		waitLog(t, log, allInRe, lineTimeout)
		m := waitLog(t, log, regexp.MustCompile(`working_set_pages=(\d+)`), lineTimeout)
		if got := strings.TrimPrefix(m, "working_set_pages="); (round == 0) != (got == "0") {
			t.Errorf("restore %d used a working set of %s pages", round+1, got)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		reapRestored(t, pid)
	}
}

// reapRestored waits until a restored process that was killed is gone:
// it becomes our child (we are a subreaper) once its crlazy daemon exits.
func reapRestored(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(lineTimeout)
	for {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restored process %d still there after %v", pid, lineTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLazyStoreDamaged damages the value log under a running lazy
// restore: the handler must kill the process, never let it read zeros.
func TestLazyStoreDamaged(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "lazytouch"), "512")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if len(vlogs) == 0 {
		t.Fatal("no value log in the store")
	}
	pid, log := lazyRestore(t, dir)
	// Flip a byte every 64 KiB in the second half of the value log, where
	// the chunks of the upper half of the memory are: the prefetch, in
	// address order, cannot be there yet.
	f, err := os.OpenFile(vlogs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	for off := st.Size() / 2; off < st.Size(); off += 64 << 10 {
		if _, err := f.WriteAt([]byte{0xa5}, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	waitLog(t, log, regexp.MustCompile(`killing the restored process`), lineTimeout)
	reapRestored(t, pid)
	if tail := v.Tail(5); strings.Contains(tail, "FAIL") {
		t.Errorf("the victim ran on bad memory:\n%s", tail)
	}
}

// TestLazyHandlerKilled kills the crlazy daemon that serves the pages: the
// process must die with it (parent-death signal), not go on with zeros.
func TestLazyHandlerKilled(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "lazytouch"), "512")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	pid, _ := lazyRestore(t, dir)
	daemon := parentOf(t, pid)
	if !isCrlazy(t, daemon) {
		t.Fatalf("the restored process's parent %d is not its lazy handler: the handler ended before the test could kill it", daemon)
	}
	if err := syscall.Kill(daemon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reapRestored(t, pid)
	if tail := v.Tail(5); strings.Contains(tail, "FAIL") {
		t.Errorf("the victim ran on zero pages after its handler died:\n%s", tail)
	}
}
