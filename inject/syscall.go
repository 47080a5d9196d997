package inject

import (
	"errors"
	"fmt"

	"github.com/crlazy/crlazy/internal/linux"
)

// ErrNoSyscallInsn is returned by Syscall before a syscall instruction is
// known in the target.
var ErrNoSyscallInsn = errors.New("no syscall instruction known in target")

// maxSyscallArgs is the number of syscall argument registers on x86_64.
const maxSyscallArgs = 6

// syscallInsn is `syscall; int3`.
var syscallInsn = []byte{0x0f, 0x05, 0xcc}

// SyscallError is an errno returned by a system call run inside a target.
type SyscallError struct {
	Name  string
	Errno linux.Errno
}

func (e *SyscallError) Error() string { return e.Name + ": " + e.Errno.Error() }

// Unwrap returns the errno, for errors.Is(err, linux.ENOENT).
func (e *SyscallError) Unwrap() error { return e.Errno }

// Syscall runs system call nr with args inside the task and returns the
// raw result. An errno result comes back as a *SyscallError; name is used
// in error messages.
func (t *Task) Syscall(name string, nr int, args ...uint64) (uint64, error) {
	if len(args) > maxSyscallArgs {
		return 0, fmt.Errorf("task %d: %s: %d arguments: %w", t.TID, name, len(args), linux.EINVAL)
	}
	if t.sysAddr == 0 {
		return 0, fmt.Errorf("task %d: %s: %w", t.TID, name, ErrNoSyscallInsn)
	}
	if !t.attached {
		return 0, fmt.Errorf("task %d: inject %s: %w", t.TID, name, ErrTargetGone)
	}
	var ret uint64
	err := t.tr.do(func() error {
		var err error
		ret, err = t.step(nr, args)
		return err
	})
	if err != nil {
		if linux.IsErrno(err, linux.ESRCH) && !errors.Is(err, ErrTargetGone) {
			err = fmt.Errorf("%w: %w", ErrTargetGone, err)
		}
		return 0, fmt.Errorf("task %d: inject %s: %w", t.TID, name, err)
	}
	if e := linux.ErrnoFromReturn(ret); e != nil {
		return ret, &SyscallError{Name: name, Errno: e.(linux.Errno)}
	}
	return ret, nil
}

// step executes one injected syscall; runs on the tracer thread.
func (t *Task) step(nr int, args []uint64) (uint64, error) {
	r := t.Regs
	r.Rip = uint64(t.sysAddr)
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0)
	if t.scratch.stackTop != 0 {
		r.Rsp = uint64(t.scratch.stackTop)
	}
	regsArgs := [maxSyscallArgs]*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*regsArgs[i] = a
	}
	if err := linux.PtraceSetRegs(t.TID, &r); err != nil {
		return 0, err
	}
	if err := linux.PtraceSingleStep(t.TID, 0); err != nil {
		return 0, err
	}
	if err := t.waitStep(); err != nil {
		return 0, err
	}
	if err := linux.PtraceGetRegs(t.TID, &r); err != nil {
		return 0, err
	}
	return r.Rax, nil
}

// maxJobTraps bounds the job-control traps one step may meet.
const maxJobTraps = 4

// waitStep waits for the single-step trap, stepping past fork events and
// deferring signals the task dequeues on the way.
func (t *Task) waitStep() error {
	jobTraps := 0
	for {
		ws, err := t.wait()
		if err != nil {
			return err
		}
		switch ev := ws.Event(); {
		case ev == 0 && ws.StopSignal() == linux.SIGTRAP:
			return nil
		case ev == linux.PtraceEventStop && jobTraps < maxJobTraps:
			// A job-control trap taken before the step: the
			// interrupt of a seize that met a stopped task (it
			// reported the group stop first) or a new group stop.
			// Nothing ran; step again.
			jobTraps++
		case ev == linux.PtraceEventFork || ev == linux.PtraceEventVfork || ev == linux.PtraceEventClone:
			pid, err := linux.PtraceGetEventMsg(t.TID)
			if err != nil {
				return err
			}
			t.Forked = append(t.Forked, int(pid))
		case ev == 0:
			t.deferred = append(t.deferred, ws.StopSignal())
		default:
			return fmt.Errorf("%w: status %#x", ErrUnexpectedStop, uint32(ws))
		}
		if err := linux.PtraceSingleStep(t.TID, 0); err != nil {
			return err
		}
	}
}

// SetSyscallInsn tells the engine where a `syscall` instruction is in the
// target's memory.
func (t *Task) SetSyscallInsn(a linux.Addr) { t.sysAddr = a }

// SyscallInsn returns the address used for injected system calls.
func (t *Task) SyscallInsn() linux.Addr { return t.sysAddr }

// ReadMem reads len(buf) bytes at addr.
func (t *Task) ReadMem(addr linux.Addr, buf []byte) error {
	if err := linux.ReadRemote(t.TID, addr, buf); err != nil {
		return fmt.Errorf("task %d: read %d bytes at %v: %w", t.TID, len(buf), addr, err)
	}
	return nil
}

// WriteMem writes buf at addr, also into read-only mappings.
func (t *Task) WriteMem(addr linux.Addr, buf []byte) error {
	if err := linux.WriteRemote(t.TID, addr, buf); err != nil {
		return fmt.Errorf("task %d: write %d bytes at %v: %w", t.TID, len(buf), addr, err)
	}
	return nil
}
