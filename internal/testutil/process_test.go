package testutil

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func TestStartVictimStdioAndGroup(t *testing.T) {
	v := StartVictim(t, lookPath(t, "sh"), "-c", "readlink /proc/self/fd/0; echo err >&2; echo done")
	v.WaitLine(t, regexp.MustCompile(`^done$`), 10*time.Second)
	if got := v.Tail(3); got != "/dev/null\nerr\ndone\n" {
		t.Fatalf("output %q, want stdin /dev/null, then stderr and stdout in order", got)
	}
	if ws := v.Reap(t); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("exit status %v", ws)
	}
}

func TestStartVictimOwnGroupAndCleanup(t *testing.T) {
	var pid int
	t.Run("victim", func(t *testing.T) {
		v := StartVictim(t, lookPath(t, "sleep"), "60")
		pid = v.Pid
		if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
			t.Errorf("victim %d in process group %d (%v), want its own", pid, pgid, err)
		}
	})
	WaitGone(t, pid, 10*time.Second)
}

func TestReapAfterKill(t *testing.T) {
	v := StartVictim(t, lookPath(t, "sleep"), "60")
	if err := syscall.Kill(v.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ws := v.Reap(t)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("wait status %v, want killed by SIGKILL", ws)
	}
	if pidExists(v.Pid) || !v.Exited() {
		t.Fatalf("victim %d after Reap: %s", v.Pid, describe(v.Pid))
	}
}

func TestWaitGoneTimeout(t *testing.T) {
	f := runFake(func(tb testing.TB) { WaitGone(tb, os.Getpid(), 30*time.Millisecond) })
	if !f.failed || !strings.Contains(f.text(), "still there") {
		t.Fatalf("WaitGone on a live process: failed=%v %q", f.failed, f.text())
	}
}

func TestCheckNoLeftovers(t *testing.T) {
	defer func(g time.Duration) { leftoverGrace = g }(leftoverGrace)
	leftoverGrace = 50 * time.Millisecond
	v := StartVictim(t, lookPath(t, "sleep"), "60")
	f := runFake(func(tb testing.TB) { CheckNoLeftovers(tb, v.Pid) })
	if !f.failed || !strings.Contains(f.text(), "left behind") {
		t.Fatalf("CheckNoLeftovers on a live process: failed=%v %q", f.failed, f.text())
	}
	syscall.Kill(v.Pid, syscall.SIGKILL)
	v.Reap(t)
	if f := runFake(func(tb testing.TB) { CheckNoLeftovers(tb, v.Pid) }); f.failed {
		t.Fatalf("CheckNoLeftovers on a reaped process: %q", f.text())
	}
}

func TestCheckRunning(t *testing.T) {
	v := StartVictim(t, lookPath(t, "sleep"), "60")
	if f := runFake(func(tb testing.TB) { CheckRunning(tb, v.Pid) }); f.failed {
		t.Fatalf("CheckRunning on a sleeping process: %q", f.text())
	}
	syscall.Kill(v.Pid, syscall.SIGSTOP)
	defer syscall.Kill(v.Pid, syscall.SIGCONT)
	stopped := waitFor(10*time.Second, func() bool {
		st, err := readStat(v.Pid)
		return err == nil && st.state == 'T'
	})
	if !stopped {
		t.Fatalf("victim did not stop: %s", describe(v.Pid))
	}
	if f := runFake(func(tb testing.TB) { CheckRunning(tb, v.Pid) }); !f.failed || !strings.Contains(f.text(), "stopped") {
		t.Fatalf("CheckRunning on a stopped process: failed=%v %q", f.failed, f.text())
	}
}

// TestAdoptReapsOrphan relies on TestMain's Main having made the test
// binary a subreaper: the orphaned sleep is reparented here and Adopt's
// cleanup must kill and reap it.
func TestAdoptReapsOrphan(t *testing.T) {
	out, err := exec.Command("sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := readStat(pid)
	if err != nil || st.ppid != os.Getpid() {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("orphan %d: parent %d (%v), want this subreaper %d", pid, st.ppid, err, os.Getpid())
	}
	t.Run("adopt", func(t *testing.T) { Adopt(t, pid) })
	if pidExists(pid) {
		t.Fatalf("adopted process %d after cleanup: %s", pid, describe(pid))
	}
}

func TestAdoptLeavesReusedPidAlone(t *testing.T) {
	v := StartVictim(t, lookPath(t, "sleep"), "60")
	st, err := readStat(v.Pid)
	if err != nil {
		t.Fatal(err)
	}
	release(t, v.Pid, st.start+1) // as if the PID now belonged to another process
	if v.Exited() || dead(v.Pid) {
		t.Fatalf("release killed a process with another start time: %s", describe(v.Pid))
	}
}

// TestVictimGetsOnlyStdio: descriptors the test binary inherited without
// close-on-exec must not reach a victim (a dump would meet them).
func TestVictimGetsOnlyStdio(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	stray, err := syscall.Dup(int(w.Fd())) // a dup has no close-on-exec, like an inherited fd
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(stray)
	v := StartVictim(t, lookPath(t, "sh"), "-c", "ls /proc/self/fd; echo done")
	v.WaitLine(t, regexp.MustCompile(`^done$`), 10*time.Second)
	fds := strings.Fields(v.Tail(tailLines))
	if len(fds) < 3 || !slices.Equal(fds[:3], []string{"0", "1", "2"}) || slices.Contains(fds, strconv.Itoa(stray)) {
		t.Fatalf("victim's descriptors %q: want stdio and not the stray %d", fds, stray)
	}
}
