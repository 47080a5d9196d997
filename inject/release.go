package inject

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// ErrNoVdso is returned when a target has no vDSO to borrow a syscall
// instruction from.
var ErrNoVdso = errors.New("no [vdso] mapping")

// syscallOpcode is the two-byte `syscall` instruction.
var syscallOpcode = []byte{0x0f, 0x05}

// FindSyscallInsn finds a `syscall` instruction already in the target:
// the one the task is stopped after, if it was interrupted inside a
// system call, or else one in the vDSO. Any 0f 05 byte pair decodes as
// `syscall` when execution starts there, and single-stepping stops right
// after it.
func (t *Task) FindSyscallInsn() error {
	if int64(t.Regs.Orig_rax) >= 0 && t.Regs.Rip >= 2 {
		var b [2]byte
		at := linux.Addr(t.Regs.Rip - 2)
		if t.ReadMem(at, b[:]) == nil && bytes.Equal(b[:], syscallOpcode) {
			t.sysAddr = at
			return nil
		}
	}
	maps, err := proc.ReadMaps(t.TID)
	if err != nil {
		return fmt.Errorf("task %d: find syscall instruction: %w", t.TID, err)
	}
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		text := make([]byte, m.Len())
		if err := t.ReadMem(linux.Addr(m.Start), text); err != nil {
			return fmt.Errorf("task %d: find syscall instruction: %w", t.TID, err)
		}
		if i := bytes.Index(text, syscallOpcode); i >= 0 {
			t.sysAddr = linux.Addr(m.Start) + linux.Addr(i)
			return nil
		}
	}
	return fmt.Errorf("task %d: find syscall instruction: %w", t.TID, ErrNoVdso)
}

// Restore puts back the registers and signal mask saved at Seize, undoing
// the effect of injection on the task's CPU state.
func (t *Task) Restore() error {
	err := t.tr.do(func() error {
		if err := linux.PtraceSetRegs(t.TID, &t.Regs); err != nil {
			return err
		}
		return linux.PtraceSetSigmask(t.TID, t.Sigmask)
	})
	if err != nil {
		return fmt.Errorf("task %d: restore registers: %w", t.TID, err)
	}
	return nil
}

// SetRegs sets the registers the task will resume with.
func (t *Task) SetRegs(r *linux.Regs) error {
	return t.tr.do(func() error { return linux.PtraceSetRegs(t.TID, r) })
}

// SetSigmask sets the blocked mask the task will resume with.
func (t *Task) SetSigmask(m uint64) error {
	return t.tr.do(func() error { return linux.PtraceSetSigmask(t.TID, m) })
}

// xstateBufSize fits every x86 xsave layout (AMX tile data included).
const xstateBufSize = 16 * 1024

// Xstate returns the task's extended FPU state in the standard (uabi)
// XSAVE format (NT_X86_XSTATE).
func (t *Task) Xstate() ([]byte, error) {
	buf := make([]byte, xstateBufSize)
	var n int
	err := t.tr.do(func() error {
		var err error
		n, err = linux.PtraceGetRegset(t.TID, linux.NTX86Xstate, buf)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("task %d: get xstate: %w", t.TID, err)
	}
	return buf[:n], nil
}

// SetXstate sets the task's extended FPU state (NT_X86_XSTATE).
func (t *Task) SetXstate(b []byte) error {
	err := t.tr.do(func() error { return linux.PtraceSetRegset(t.TID, linux.NTX86Xstate, b) })
	if err != nil {
		return fmt.Errorf("task %d: set xstate: %w", t.TID, err)
	}
	return nil
}

// RseqConfig returns the task's rseq registration.
func (t *Task) RseqConfig() (linux.RseqConfig, error) {
	var c linux.RseqConfig
	err := t.tr.do(func() error {
		var err error
		c, err = linux.PtraceGetRseqConfig(t.TID)
		return err
	})
	return c, err
}

// Detach lets the task run again, with its affinity back if it was
// pinned. Signals the task dequeued while we single-stepped it are sent to
// it again.
func (t *Task) Detach() error { return t.DetachSignal(0) }

// DetachSignal is Detach that delivers sig (if not 0) to the task as it
// resumes, before it runs an instruction of its own: SIGSTOP puts a
// process that was stopped straight back into its group stop.
func (t *Task) DetachSignal(sig int) error {
	if !t.attached {
		return nil
	}
	if err := t.unpin(); err != nil {
		return fmt.Errorf("task %d: detach: %w", t.TID, err)
	}
	err := t.tr.do(func() error { return linux.PtraceDetach(t.TID, sig) })
	if err != nil {
		return fmt.Errorf("task %d: detach: %w", t.TID, err)
	}
	t.attached = false
	for _, sig := range t.deferred {
		_ = linux.Kill(t.TID, sig)
	}
	t.deferred = nil
	return nil
}

// Kill ends the task with SIGKILL while it is still stopped, so it never
// executes another instruction, and consumes its exit notification as the
// tracer. The real parent still has to reap the zombie.
func (t *Task) Kill() error {
	if !t.attached {
		return nil
	}
	err := t.tr.do(func() error {
		// ESRCH: another thread's kill already took the process down;
		// its exit is still ours to consume.
		if err := linux.Kill(t.TID, linux.SIGKILL); err != nil && !linux.IsErrno(err, linux.ESRCH) {
			return err
		}
		for {
			if _, err := t.wait(); err != nil {
				if errors.Is(err, ErrTargetGone) {
					return nil
				}
				return err
			}
			// A stop reported before the kill took effect: let the
			// task go on to die.
			_ = linux.PtraceCont(t.TID, 0)
		}
	})
	t.attached = false
	if err != nil {
		return fmt.Errorf("task %d: kill: %w", t.TID, err)
	}
	return nil
}

// PendingSignals returns the signals pending for the task (shared: those
// pending for the whole process) without dequeuing them.
func (t *Task) PendingSignals(shared bool) ([]linux.Siginfo, error) {
	var out []linux.Siginfo
	err := t.tr.do(func() error {
		var err error
		out, err = linux.PtracePeekSiginfo(t.TID, shared)
		return err
	})
	return out, err
}

// DieBySignal makes the task die of signal sig, as a zombie restored with
// that status must: the default action, no core dump, the signal
// unblocked and sent, the task resumed; it returns once the tracer has
// seen it die.
func (t *Task) DieBySignal(sig int) error {
	var zero linux.Rlimit64
	if err := t.putRlimitZero(&zero); err != nil {
		return err
	}
	if _, err := t.Syscall("rt_sigaction", linux.SysRtSigaction, uint64(sig), 0, 0, 8); err != nil {
		return err
	}
	err := t.tr.do(func() error {
		if err := linux.PtraceSetSigmask(t.TID, 0); err != nil {
			return err
		}
		if err := linux.Kill(t.TID, sig); err != nil {
			return err
		}
		for {
			ws, err := t.wait0()
			if err != nil {
				return err
			}
			if ws.Signaled() || ws.Exited() {
				return nil
			}
			// The signal-delivery stop: deliver it.
			if err := linux.PtraceCont(t.TID, ws.StopSignal()); err != nil {
				return err
			}
		}
	})
	t.attached = false
	if err != nil {
		return fmt.Errorf("task %d: die by signal %d: %w", t.TID, sig, err)
	}
	return nil
}

// rlimitCore is RLIMIT_CORE.
const rlimitCore = 4

func (t *Task) putRlimitZero(zero *linux.Rlimit64) error {
	defer t.ReleaseArgs(t.ArgMark())
	a, err := t.PutArg(linux.StructBytes(zero))
	if err != nil {
		return err
	}
	_, err = t.Syscall("prlimit64 RLIMIT_CORE", linux.SysPrlimit64, 0, rlimitCore, uint64(a), 0)
	return err
}

// wait0 waits for the next state change without treating an exit as an
// error. Runs on the tracer thread.
func (t *Task) wait0() (linux.WaitStatus, error) {
	_, ws, err := linux.Wait4(t.TID, linux.WALL)
	return ws, err
}
