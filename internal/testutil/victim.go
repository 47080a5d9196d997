package testutil

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// reapTimeout bounds Reap's wait for a victim to exit (a dump kills it).
	reapTimeout = 30 * time.Second
	// cleanupTimeout bounds the wait for a victim to die after SIGKILL.
	cleanupTimeout = 10 * time.Second
)

var errNoWaitStatus = errors.New("no wait status")

// Victim is a process the test started with StartVictim: its own child, in
// its own process group, with stdout and stderr appended to the file Out.
type Victim struct {
	Pid int       // the PID, which a restore gives back
	Out string    // path of the output file, shared with a restored victim
	Cmd *exec.Cmd // the started command; the package waits for it, do not call Cmd.Wait

	mu       sync.Mutex // serialises WaitLine
	consumed int64      // bytes of Out consumed by WaitLine; guarded by mu

	exited  chan struct{} // closed when Cmd.Wait returned (the process is reaped)
	waitErr error         // Cmd.Wait's error; read after exited is closed
}

// StartVictim starts bin with args as a child of the test: stdin /dev/null,
// stdout and stderr one file in t.TempDir() opened with O_APPEND, no other
// descriptor, working directory that same temporary directory, and a
// process group of its own so that signals meant for the test do not reach it. The test binary reaps
// it as soon as it exits. At cleanup a victim still running is killed.
func StartVictim(t testing.TB, bin string, args ...string) *Victim {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, filepath.Base(bin)+".out")
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("start victim %s: %v", bin, err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = f, f, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stopFdInheritance()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start victim %s: %v", bin, err)
	}
	v := &Victim{Pid: cmd.Process.Pid, Out: out, Cmd: cmd, exited: make(chan struct{})}
	go v.wait()
	t.Cleanup(func() { v.kill(t) })
	return v
}

// stopFdInheritance marks every descriptor above stderr close-on-exec. The
// test binary may have inherited descriptors without it (from go test, a CI
// runner or a terminal) that exec would pass on to victims, and a dump must
// not meet fds that the victim did not open (a stray pipe fails it). Go opens
// its own descriptors close-on-exec, so marking them again changes nothing.
func stopFdInheritance() {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

func (v *Victim) wait() {
	v.waitErr = v.Cmd.Wait()
	close(v.exited)
}

// kill sends SIGKILL unless the victim was reaped (Process uses a pidfd, so
// a PID reused by a restored process is never hit) and waits for it, and
// kills and waits for the processes below it too.
func (v *Victim) kill(t testing.TB) {
	t.Helper()
	select {
	case <-v.exited:
		return
	default:
	}
	kids := descendants(v.Pid)
	v.Cmd.Process.Kill()
	for _, k := range kids {
		killTree(t, k, "child of victim")
	}
	select {
	case <-v.exited:
	case <-time.After(cleanupTimeout):
		t.Errorf("victim %d did not die within %v of SIGKILL: %s", v.Pid, cleanupTimeout, describe(v.Pid))
	}
}

// Exited reports whether the victim's own process has exited and been reaped
// (a restored process with the same PID does not count).
func (v *Victim) Exited() bool {
	select {
	case <-v.exited:
		return true
	default:
		return false
	}
}

// Reap waits for the victim's own process to exit, as after a dump killed
// it, and returns its wait status once /proc/PID is gone, so that a restore
// can take the PID. It fails t if the process is still running after
// reapTimeout.
func (v *Victim) Reap(t testing.TB) syscall.WaitStatus {
	t.Helper()
	select {
	case <-v.exited:
	case <-time.After(reapTimeout):
		t.Fatalf("victim %d still running %v after it should have exited: %s", v.Pid, reapTimeout, describe(v.Pid))
	}
	WaitGone(t, v.Pid, reapTimeout)
	var exitErr *exec.ExitError
	if v.waitErr != nil && !errors.As(v.waitErr, &exitErr) {
		t.Fatalf("wait for victim %d: %v", v.Pid, v.waitErr)
	}
	ws, ok := v.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		t.Fatalf("wait for victim %d: %v", v.Pid, errNoWaitStatus)
	}
	return ws
}

// WaitLine waits until a line of the output that no earlier WaitLine
// consumed matches re, consuming the lines up to it, and returns the
// submatches. It fails t at once if a line starting with FAIL appears, and
// after timeout otherwise, showing the end of the output. A partial last
// line is left until its newline arrives. Call it from the test's goroutine.
func (v *Victim) WaitLine(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	var m []string
	var failLine string
	var err error
	found := waitFor(timeout, func() bool {
		m, failLine, err = v.scan(re)
		return m != nil || failLine != "" || err != nil
	})
	switch {
	case err != nil:
		t.Fatalf("victim %d: %v", v.Pid, err)
	case failLine != "":
		t.Fatalf("victim %d reported %q; output ends:\n%s", v.Pid, failLine, v.Tail(tailLines))
	case !found:
		t.Fatalf("victim %d: no new line matching %q within %v (process: %s); output ends:\n%s",
			v.Pid, re, timeout, describe(v.Pid), v.Tail(tailLines))
	}
	return m
}
