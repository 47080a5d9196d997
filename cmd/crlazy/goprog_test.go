package main

import (
	"regexp"
	"syscall"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestGoProgram restores a real Go program: the runtime's threads,
// goroutines parked on futexes and channels, its netpoller and timers,
// preemption signals, the garbage collector, os/signal.
func TestGoProgram(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildGoVictim(t, "gocount"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	tick := regexp.MustCompile(`^tick (\d+) rounds=(\d+) gc=\d+$`)
	before := v.WaitLine(t, tick, lineTimeout)
	checkpoint(t, v)
	after := waitProgress(t, v, tick, 2, before)
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("tick went from %s to %s", before[1], after[1])
	}
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^signal$`), lineTimeout)
	v.WaitLine(t, tick, lineTimeout)
}
