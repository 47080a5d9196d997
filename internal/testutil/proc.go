package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/crlazy/crlazy/internal/proc"
)

// pollInterval is how often the waits in this package look at their condition.
const pollInterval = 10 * time.Millisecond

// procStat holds the fields of /proc/PID/stat that the tests look at.
type procStat struct {
	state byte   // R, S, D, T (stopped), t (ptrace-stop), Z, X, ...
	ppid  int    // parent PID
	start uint64 // start time in clock ticks since boot: tells PIDs reused apart
}

// readStat reads /proc/PID/stat. A process that is gone gives an error
// matching fs.ErrNotExist.
func readStat(pid int) (procStat, error) {
	st, err := proc.ReadStat(pid)
	if err != nil {
		return procStat{}, err
	}
	return procStat{state: st.State, ppid: st.PPid, start: st.StartTime}, nil
}

// tracerPid returns the TracerPid of /proc/PID/status, or 0.
func tracerPid(pid int) int {
	st, err := proc.ReadStatus(pid)
	if err != nil {
		return 0
	}
	return st.TracerPid
}

// dead reports whether pid is gone or only a zombie waiting to be reaped.
func dead(pid int) bool {
	st, err := readStat(pid)
	return errors.Is(err, fs.ErrNotExist) || err == nil && (st.state == 'Z' || st.state == 'X')
}

// describe says what pid is now, for failure messages.
func describe(pid int) string {
	st, err := readStat(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return "gone"
	}
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("state %c, parent %d, tracer %d", st.state, st.ppid, tracerPid(pid))
}

// waitFor polls cond every pollInterval until it holds (true) or timeout
// passes (false).
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// reapIfChild reaps pid if it is a child of this process that has exited.
func reapIfChild(pid int) {
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}
