package testutil

import (
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/proc"
)

const (
	// adoptTimeout bounds the wait for an adopted process to disappear after
	// SIGKILL; PID 1 may take seconds to reap one that is not ours.
	adoptTimeout = 30 * time.Second
)

// leftoverGrace is how long CheckNoLeftovers lets a process take to die.
// A variable so that the package's tests can shorten it.
var leftoverGrace = 2 * time.Second

// WaitGone waits until /proc/PID no longer exists (the process exited and
// was reaped) and fails t if that takes longer than timeout. It reaps
// nothing itself: a zombie child of the test must be reaped by its owner.
func WaitGone(t testing.TB, pid int, timeout time.Duration) {
	t.Helper()
	if !waitFor(timeout, func() bool { return !pidExists(pid) }) {
		t.Fatalf("process %d still there after %v: %s", pid, timeout, describe(pid))
	}
}

// Adopt makes t responsible for pid, a process the test did not start with
// exec (a restored process): at cleanup it sends SIGKILL to pid, if pid is
// still the same process (same start time), reaps it if it is a child of
// the test binary (see BecomeSubreaper), and waits until it is gone.
// Do not adopt a Victim's own process: StartVictim already looks after it.
func Adopt(t testing.TB, pid int) {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		t.Fatalf("adopt %d: %v", pid, err)
	}
	t.Cleanup(func() { release(t, pid, st.start) })
}

func release(t testing.TB, pid int, start uint64) {
	t.Helper()
	if st, err := readStat(pid); err != nil || st.start != start {
		return // gone, or the PID is another process's now
	}
	killTree(t, member{pid, start}, "adopted process")
}

// killTree sends SIGKILL to root and to every process below it, then waits
// until all of them are gone, reaping those that are (or, orphaned, become)
// children of the test binary.
func killTree(t testing.TB, root member, what string) {
	t.Helper()
	tree := append([]member{root}, descendants(root.pid)...)
	for _, m := range tree {
		if st, err := readStat(m.pid); err == nil && st.start == m.start {
			syscall.Kill(m.pid, syscall.SIGKILL)
		}
	}
	for _, m := range tree {
		gone := waitFor(adoptTimeout, func() bool {
			reapIfChild(m.pid)
			st, err := readStat(m.pid)
			return err != nil || st.start != m.start
		})
		if !gone {
			t.Errorf("%s %d still there %v after SIGKILL: %s", what, m.pid, adoptTimeout, describe(m.pid))
		}
	}
}

// CheckNoLeftovers fails t for each of pids that is still alive after a
// short grace (a zombie counts as dead), naming a process left in a
// ptrace-stop as such. Use it at the end of tests whose crlazy run was meant
// to fail, on every PID that run could have created or stopped.
func CheckNoLeftovers(t testing.TB, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		if waitFor(leftoverGrace, func() bool { return dead(pid) }) {
			continue
		}
		if st, err := readStat(pid); err == nil && st.state == 't' {
			t.Errorf("process %d left in a ptrace-stop: %s", pid, describe(pid))
			continue
		}
		t.Errorf("process %d left behind: %s", pid, describe(pid))
	}
}

// CheckRunning fails t unless pid is alive, not stopped and not traced: how a
// dump that failed, or one with --leave-running, must leave its target.
func CheckRunning(t testing.TB, pid int) {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		t.Errorf("process %d: %v", pid, err)
		return
	}
	switch {
	case st.state == 't' || st.state == 'T':
		t.Errorf("process %d is stopped: %s", pid, describe(pid))
	case st.state == 'Z' || st.state == 'X':
		t.Errorf("process %d is dead: %s", pid, describe(pid))
	case tracerPid(pid) != 0:
		t.Errorf("process %d is still traced: %s", pid, describe(pid))
	}
}

// member is one process of a tree, told apart from a later holder of its
// PID by its start time.
type member struct {
	pid   int
	start uint64
}

// descendants returns the processes below pid, parents before children.
// Processes that vanish while it looks are left out.
func descendants(pid int) []member {
	var out []member
	queue := []int{pid}
	for len(queue) > 0 {
		kids, _ := proc.Children(queue[0])
		queue = queue[1:]
		for _, k := range kids {
			if st, err := readStat(k); err == nil {
				out = append(out, member{k, st.start})
				queue = append(queue, k)
			}
		}
	}
	return out
}

// Descendants returns the PIDs of the processes below pid now, parents
// before children. A test that dumps a tree takes them before the dump so
// that it can wait for them with ReapGone afterwards.
func Descendants(pid int) []int {
	ms := descendants(pid)
	pids := make([]int, len(ms))
	for i, m := range ms {
		pids[i] = m.pid
	}
	return pids
}

// ReapGone waits until every one of pids is gone, reaping those that became
// children of the test binary: a dump kills the whole tree it saved, and the
// victim's children, orphaned, are reparented to the test (a subreaper) as
// zombies that nobody else will reap.
func ReapGone(t testing.TB, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		gone := waitFor(adoptTimeout, func() bool {
			reapIfChild(pid)
			return !pidExists(pid)
		})
		if !gone {
			t.Fatalf("process %d still there after %v: %s", pid, adoptTimeout, describe(pid))
		}
	}
}
