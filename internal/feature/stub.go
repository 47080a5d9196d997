package feature

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/stub"
)

const (
	pidMaxPath = "/proc/sys/kernel/pid_max"
	// maxPidScan bounds the search for a free pid below pid_max.
	maxPidScan = 4096
	// maxCloneTries bounds the retries when another process takes the
	// chosen pid first.
	maxCloneTries = 3
)

var errNoFreePid = errors.New("no free pid")

// seizedStub is a running stub process stopped under a tracer.
type seizedStub struct {
	tr   *inject.Tracer
	cmd  *exec.Cmd
	task *inject.Task
}

// startStub starts the stub and seizes it with opts plus
// PTRACE_O_EXITKILL, so that it dies with the tracer if anything goes
// wrong. The caller calls stop.
func startStub(opts int) (*seizedStub, error) {
	cmd, err := stub.Start()
	if err != nil {
		return nil, err
	}
	s := &seizedStub{tr: inject.NewTracer(), cmd: cmd}
	task, err := s.tr.Seize(cmd.Process.Pid, inject.SeizeOptions(opts|linux.PtraceOExitKill))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.task = task
	if err := task.FindSyscallInsn(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop kills the stub (it never runs again after we touched it), closes
// the tracer and reaps the stub.
func (s *seizedStub) stop() {
	if s.task != nil {
		_ = s.task.Kill()
	}
	s.tr.Close()
	_ = s.cmd.Process.Kill()
	// The tracer thread, being in the parent process, may already have
	// reaped it: Wait then fails with ECHILD and keeps the process's
	// pidfd, which Release closes.
	if err := s.cmd.Wait(); err != nil {
		_ = s.cmd.Process.Release()
	}
}

// withChild makes the seized stub clone a child (pid 0: any pid; else
// exactly pid, with set_tid) that is our child (CLONE_PARENT) and traced,
// runs fn on it, then kills and reaps the child. It returns the child's
// pid.
func (s *seizedStub) withChild(pid int, fn func(child *inject.Task) error) (int, error) {
	got, err := s.clone3(pid)
	if err != nil {
		return 0, err
	}
	child, err := s.tr.Adopt(got)
	if err != nil {
		_ = linux.Kill(got, linux.SIGKILL)
		reap(got)
		return got, err
	}
	child.SetSyscallInsn(s.task.SyscallInsn())
	err = fn(child)
	if kerr := child.Kill(); kerr != nil {
		_ = linux.Kill(got, linux.SIGKILL)
	}
	reap(got)
	return got, err
}

// reap collects a dead child; the tracer's wait may have done it already
// (ECHILD).
func reap(pid int) { _, _, _ = linux.Wait4(pid, linux.WALL) }

// clone3 injects clone3(CLONE_PARENT) into the stub, with set_tid = pid
// if pid is not 0, and returns the child's pid.
func (s *seizedStub) clone3(pid int) (int, error) {
	t := s.task
	if base, _ := t.Scratch(); base == 0 {
		if _, err := t.MapScratch(0, inject.ScratchSize, false); err != nil {
			return 0, err
		}
	}
	defer t.ReleaseArgs(t.ArgMark())
	// exit_signal must be 0 with CLONE_PARENT; the child gets the stub's.
	args := linux.CloneArgs{Flags: linux.CloneParent}
	if pid != 0 {
		var tid [4]byte
		binary.LittleEndian.PutUint32(tid[:], uint32(pid))
		tidAddr, err := t.PutArg(tid[:])
		if err != nil {
			return 0, err
		}
		args.SetTid, args.SetTidSize = uint64(tidAddr), 1
	}
	b := linux.StructBytes(&args)
	argsAddr, err := t.PutArg(b)
	if err != nil {
		return 0, err
	}
	ret, err := t.Syscall("clone3", linux.SysClone3, uint64(argsAddr), uint64(len(b)))
	if err != nil {
		return 0, err
	}
	if pid != 0 && int(ret) != pid {
		return int(ret), fmt.Errorf("clone3 with set_tid %d gave pid %d", pid, ret)
	}
	return int(ret), nil
}

// freePids returns up to n pids below pid_max that no task uses now,
// highest first.
func freePids(n int) ([]int, error) {
	max, err := proc.ReadIntFile(pidMaxPath)
	if err != nil {
		return nil, err
	}
	var pids []int
	for pid := int(max) - 1; pid > 1 && int(max)-pid <= maxPidScan && len(pids) < n; pid-- {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		if errors.Is(err, fs.ErrNotExist) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%w in the %d below pid_max %d", errNoFreePid, maxPidScan, max)
	}
	return pids, nil
}
