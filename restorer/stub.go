package restorer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	stubpkg "github.com/crlazy/crlazy/internal/stub"
)

// ErrPidInUse is returned when the pid to restore is taken.
var ErrPidInUse = errors.New("pid is in use")

// stub is a running, seized stub process.
type stub struct {
	cmd  *exec.Cmd
	task *inject.Task
}

// startStub starts the stub and seizes it.
func startStub(tr *inject.Tracer) (*stub, error) {
	cmd, err := stubpkg.Start()
	if err != nil {
		return nil, err
	}
	s := &stub{cmd: cmd}
	// Tasks cloned from the stub inherit these options; seccomp filters
	// restored in them must not block the calls injected later.
	suspend, _ := inject.SuspendSeccomp()
	opts := inject.SeizeOptions(linux.PtraceOExitKill|linux.PtraceOTraceFork|linux.PtraceOTraceClone) | suspend
	if s.task, err = tr.Seize(cmd.Process.Pid, opts); err != nil {
		s.kill()
		return nil, err
	}
	if err := s.task.FindSyscallInsn(); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// kill ends the stub and reaps it. When the stub was seized, the tracer's
// wait in Kill already reaped it (we are its parent too), so cmd.Wait fails
// with ECHILD; Release then frees the pidfd os/exec still holds.
func (s *stub) kill() {
	if s.task != nil {
		_ = s.task.Kill()
	} else {
		_ = s.cmd.Process.Kill()
	}
	if s.cmd.Wait() != nil {
		_ = s.cmd.Process.Release()
	}
}

// cloneTask makes creator clone a task with exactly pid (clone3 with
// set_tid), with clone flags: CLONE_PARENT for a sibling (the restored
// root is then our child), sharing flags for the children of a tree,
// thread flags for a thread. The new task is traced like creator (the
// kernel attaches it); the caller adopts it.
func cloneTask(creator *inject.Task, pid int, flags uint64) (int, error) {
	t := creator
	if err := ensureScratch(t); err != nil {
		return 0, err
	}
	defer t.ReleaseArgs(t.ArgMark())
	var tid [4]byte
	binary.LittleEndian.PutUint32(tid[:], uint32(pid))
	tidAddr, err := t.PutArg(tid[:])
	if err != nil {
		return 0, err
	}
	// clone3 wants exit_signal 0 with CLONE_PARENT (the child inherits
	// the creator's, SIGCHLD) and with CLONE_THREAD.
	args := linux.CloneArgs{Flags: flags, SetTid: uint64(tidAddr), SetTidSize: 1}
	if flags&(linux.CloneParent|linux.CloneThread) == 0 {
		args.ExitSignal = linux.SIGCHLD
	}
	argsAddr, err := t.PutArg(linux.StructBytes(&args))
	if err != nil {
		return 0, err
	}
	ret, err := t.Syscall("clone3", linux.SysClone3, uint64(argsAddr), uint64(len(linux.StructBytes(&args))))
	if err != nil {
		if errors.Is(err, linux.EEXIST) {
			return 0, fmt.Errorf("pid %d: %w%s", pid, ErrPidInUse, pidUsers(pid))
		}
		return 0, err
	}
	if int(ret) != pid {
		return 0, fmt.Errorf("clone3 gave pid %d, want %d", ret, pid)
	}
	return pid, nil
}

// ensureScratch gives t scratch memory for arguments if it has none yet,
// wherever the kernel puts it (the task is still the stub's code).
func ensureScratch(t *inject.Task) error {
	if base, _ := t.Scratch(); base != 0 {
		return nil
	}
	_, err := t.MapScratch(0, inject.ScratchSize, false)
	return err
}

// pidUsers names the processes that keep pid allocated though no process
// has it: as their process group or session id.
func pidUsers(pid int) string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	var users []string
	for _, e := range ents {
		other, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := proc.ReadStat(other); err == nil && (st.Pgrp == pid || st.Session == pid) {
			users = append(users, fmt.Sprintf("%d (%s, state %c)", other, st.Comm, st.State))
		}
	}
	if len(users) == 0 {
		return ""
	}
	return " as the process group or session of " + strings.Join(users, ", ")
}
