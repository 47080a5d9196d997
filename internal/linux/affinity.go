package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// CPUSet is a CPU affinity mask.
type CPUSet = unix.CPUSet

// SchedGetaffinity returns the affinity of thread tid (0: the caller).
func SchedGetaffinity(tid int) (CPUSet, error) {
	var s CPUSet
	err := unix.SchedGetaffinity(tid, &s)
	return s, os.NewSyscallError("sched_getaffinity", err)
}

// SchedSetaffinity sets the affinity of thread tid (0: the caller).
func SchedSetaffinity(tid int, s CPUSet) error {
	return os.NewSyscallError("sched_setaffinity", unix.SchedSetaffinity(tid, &s))
}

// Gettid returns the calling thread's id.
func Gettid() int { return unix.Gettid() }
