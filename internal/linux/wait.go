package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// Wait options.
const (
	WALL      = unix.WALL
	WNOHANG   = unix.WNOHANG
	WEXITED   = unix.WEXITED
	WUNTRACED = unix.WUNTRACED
)

// WaitStatus is a wait(2) status word.
type WaitStatus uint32

// Exited reports a normal exit.
func (s WaitStatus) Exited() bool { return unix.WaitStatus(s).Exited() }

// ExitStatus is the exit code of an exited task.
func (s WaitStatus) ExitStatus() int { return unix.WaitStatus(s).ExitStatus() }

// Signaled reports death by a signal.
func (s WaitStatus) Signaled() bool { return unix.WaitStatus(s).Signaled() }

// Signal is the signal that killed the task.
func (s WaitStatus) Signal() int { return int(unix.WaitStatus(s).Signal()) }

// Stopped reports a stop (signal-delivery, group or ptrace-event stop).
func (s WaitStatus) Stopped() bool { return unix.WaitStatus(s).Stopped() }

// StopSignal is the signal of a stop.
func (s WaitStatus) StopSignal() int { return int(unix.WaitStatus(s).StopSignal()) }

// Event is the ptrace event of a stop (status >> 16), 0 if none.
func (s WaitStatus) Event() int { return int(s>>16) & 0xff }

// Wait4 waits for a state change of pid, retrying EINTR.
func Wait4(pid int, options int) (int, WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(pid, &ws, options, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return wpid, 0, os.NewSyscallError("wait4", err)
		}
		return wpid, WaitStatus(ws), nil
	}
}
