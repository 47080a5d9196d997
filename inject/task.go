package inject

import (
	"errors"
	"fmt"
	"os"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// ErrTargetGone is returned when the task exits or is killed while we
// work on it.
var ErrTargetGone = errors.New("target task is gone")

// ExitError is the ErrTargetGone of a task whose exit the tracer's wait
// reported, and so consumed: if the tracer is also its parent, the exit
// status is no longer there for anyone else to wait for.
type ExitError struct {
	Status linux.WaitStatus
}

func (e *ExitError) Error() string {
	if e.Status.Signaled() {
		return fmt.Sprintf("%v: killed by signal %d", ErrTargetGone, e.Status.Signal())
	}
	return fmt.Sprintf("%v: exited with status %d", ErrTargetGone, e.Status.ExitStatus())
}

func (e *ExitError) Is(target error) bool { return target == ErrTargetGone }

// ErrUnexpectedStop is returned when a task stops for a reason the engine
// does not expect (for example a group stop during injection).
var ErrUnexpectedStop = errors.New("unexpected stop")

// allBlocked is every signal but SIGKILL and SIGSTOP, which cannot be
// blocked.
const allBlocked = ^uint64(0) &^ (1<<(linux.SIGKILL-1) | 1<<(linux.SIGSTOP-1))

// Task is one seized, stopped thread.
//
// A Task is not safe for concurrent use; all its ptrace work is funneled
// through its Tracer's thread.
type Task struct {
	tr  *Tracer
	TID int

	// Regs are the registers the task had when it was seized; Restore
	// puts them back.
	Regs linux.Regs
	// Sigmask is the blocked mask the task had when it was seized.
	Sigmask uint64
	// GroupStop is the signal of a group stop the task was in when
	// seized (0 if it was running).
	GroupStop int

	sysAddr linux.Addr // a `syscall` instruction in the target, 0 if none yet
	scratch scratch

	// Forked holds pids of children created by injected fork/clone
	// calls, in order.
	Forked []int
	// deferred holds signals the task dequeued while we single-stepped
	// it; they are sent again after Detach.
	deferred []int
	attached bool

	pinned      bool
	affinity    linux.CPUSet // what Detach restores after Pin
	affinitySet bool
}

// SeizeOptions are PTRACE_O_* options; zero means none.
type SeizeOptions int

// SuspendSeccomp returns PTRACE_O_SUSPEND_SECCOMP, which lets the system
// calls injected into a tracee pass its seccomp filters, when this
// process may use it: the kernel refuses it to a tracer that is under
// seccomp itself. Otherwise it returns 0 and ok false.
func SuspendSeccomp() (opt SeizeOptions, ok bool) {
	st, err := proc.ReadStatus(os.Getpid())
	if err != nil || st.Seccomp != 0 {
		return 0, false
	}
	return SeizeOptions(linux.PtraceOSuspendSeccomp), true
}

// Seize attaches to tid with PTRACE_SEIZE, interrupts it and waits until it
// stops. On success the task is stopped with all signals blocked.
func (tr *Tracer) Seize(tid int, opts SeizeOptions) (*Task, error) {
	t := &Task{tr: tr, TID: tid}
	err := tr.do(func() error {
		if err := linux.PtraceSeize(tid, int(opts)); err != nil {
			if linux.IsErrno(err, linux.ESRCH) {
				return fmt.Errorf("%w: %w", ErrTargetGone, err)
			}
			return err
		}
		t.attached = true
		if err := linux.PtraceInterrupt(tid); err != nil {
			return err
		}
		return t.waitSeizeStop()
	})
	if err != nil {
		t.abandon()
		return nil, fmt.Errorf("seize %d: %w", tid, err)
	}
	return t, nil
}

// Adopt takes over a task that became traced automatically (a child of an
// injected fork or clone with PTRACE_O_TRACEFORK/TRACECLONE) and waits for
// its first stop.
func (tr *Tracer) Adopt(tid int) (*Task, error) {
	t := &Task{tr: tr, TID: tid, attached: true}
	if err := tr.do(t.waitSeizeStop); err != nil {
		t.abandon()
		return nil, fmt.Errorf("adopt %d: %w", tid, err)
	}
	return t, nil
}

// abandon detaches a task whose seize failed halfway.
func (t *Task) abandon() {
	if t.attached {
		_ = t.tr.do(func() error { return linux.PtraceDetach(t.TID, 0) })
		t.attached = false
	}
}

// waitSeizeStop waits for the PTRACE_EVENT_STOP that follows
// PTRACE_INTERRUPT (or an auto-attach), lets through signals that are
// being delivered meanwhile, then saves registers and blocks signals.
// Runs on the tracer thread.
func (t *Task) waitSeizeStop() error {
	for {
		ws, err := t.wait()
		if err != nil {
			return err
		}
		if ws.Event() == linux.PtraceEventStop {
			if sig := ws.StopSignal(); sig != linux.SIGTRAP {
				t.GroupStop = sig
			}
			break
		}
		// A signal-delivery stop: let the signal be delivered, the
		// interrupt stays pending and is reported next.
		if err := linux.PtraceCont(t.TID, ws.StopSignal()); err != nil {
			return err
		}
	}
	if err := linux.PtraceGetRegs(t.TID, &t.Regs); err != nil {
		return err
	}
	m, err := linux.PtraceGetSigmask(t.TID)
	if err != nil {
		return err
	}
	t.Sigmask = m
	return linux.PtraceSetSigmask(t.TID, allBlocked)
}

// wait waits for the next stop of the task; an exit gives ErrTargetGone.
// Runs on the tracer thread.
func (t *Task) wait() (linux.WaitStatus, error) {
	_, ws, err := linux.Wait4(t.TID, linux.WALL)
	if err != nil {
		if linux.IsErrno(err, linux.ECHILD) {
			t.attached = false
			return 0, fmt.Errorf("%w: %w", ErrTargetGone, err)
		}
		return 0, err
	}
	switch {
	case ws.Exited(), ws.Signaled():
		t.attached = false
		return ws, &ExitError{Status: ws}
	}
	return ws, nil
}
