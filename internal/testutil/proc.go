package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollInterval is how often the waits in this package look at their condition.
const pollInterval = 10 * time.Millisecond

// statFields is how many fields after "(comm)" readStat needs: up to starttime.
const statFields = 20

var errShortStat = errors.New("short /proc stat line")

// procStat holds the fields of /proc/PID/stat that the tests look at.
type procStat struct {
	state byte   // R, S, D, T (stopped), t (ptrace-stop), Z, X, ...
	ppid  int    // parent PID
	start uint64 // start time in clock ticks since boot: tells PIDs reused apart
}

// readStat reads /proc/PID/stat. A process that is gone gives an error
// matching fs.ErrNotExist.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if errors.Is(err, syscall.ESRCH) {
		return procStat{}, fmt.Errorf("read stat of %d: %w", pid, fs.ErrNotExist)
	}
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < statFields || len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("parse stat of %d: %w", pid, errShortStat)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat of %d: ppid: %w", pid, err)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat of %d: starttime: %w", pid, err)
	}
	return procStat{state: fields[0][0], ppid: ppid, start: start}, nil
}

// tracerPid returns the TracerPid of /proc/PID/status, or 0.
func tracerPid(pid int) int {
	f, err := os.Open(procPath(pid, "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "TracerPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
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
