package restorer

import (
	"fmt"

	corex86 "github.com/checkpoint-restore/go-criu/v8/crit/images/core-x86"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/xsave"
)

// Kernel-internal restart codes a task stopped inside a system call can
// show in rax (include/linux/errno.h).
const (
	errRestartSys          = 512
	errRestartNoIntr       = 513
	errRestartNoHand       = 514
	errRestartRestartBlock = 516
	errIntr                = 4
	syscallInsnLen         = 2
)

// regsOf converts image registers back to the kernel's layout.
func regsOf(g *corex86.UserX86RegsEntry) linux.Regs {
	return linux.Regs{
		R15: g.GetR15(), R14: g.GetR14(), R13: g.GetR13(), R12: g.GetR12(),
		Rbp: g.GetBp(), Rbx: g.GetBx(), R11: g.GetR11(), R10: g.GetR10(), R9: g.GetR9(), R8: g.GetR8(),
		Rax: g.GetAx(), Rcx: g.GetCx(), Rdx: g.GetDx(), Rsi: g.GetSi(), Rdi: g.GetDi(),
		Orig_rax: g.GetOrigAx(), Rip: g.GetIp(), Cs: g.GetCs(), Eflags: g.GetFlags(), Rsp: g.GetSp(), Ss: g.GetSs(),
		Fs_base: g.GetFsBase(), Gs_base: g.GetGsBase(), Ds: g.GetDs(), Es: g.GetEs(), Fs: g.GetFs(), Gs: g.GetGs(),
	}
}

// restartFixup makes a task that was stopped inside a system call resume
// the way the kernel would have resumed it, since the kernel's own restart
// state does not survive: calls that would restart run again (rip back
// over the syscall instruction, rax = the call number). A call that would
// have continued through restart_syscall (a wait with a timeout) runs
// again from its start if its arguments are still in its registers, which
// is so for the sleeps, poll and futex waits: it waits at most its whole
// timeout again (exact for absolute deadlines), which a program cannot
// tell from a late wake-up, where EINTR would break the many that do not
// expect it (coreutils tail -f stops on it). Any other such call returns
// EINTR. orig_rax is cleared so the kernel applies no fix-up of its own.
func restartFixup(r *linux.Regs) {
	if int64(r.Orig_rax) < 0 {
		return
	}
	switch -int64(r.Rax) {
	case errRestartSys, errRestartNoIntr, errRestartNoHand:
		r.Rax = r.Orig_rax
		r.Rip -= syscallInsnLen
	case errRestartRestartBlock:
		switch r.Orig_rax {
		case linux.SysNanosleep, linux.SysClockNanosleep, linux.SysPoll, linux.SysFutex:
			r.Rax = r.Orig_rax
			r.Rip -= syscallInsnLen
		default:
			r.Rax = ^uint64(errIntr - 1) // -EINTR
		}
	}
	r.Orig_rax = ^uint64(0)
}

// restoreCPU sets the final registers, FPU/vector state and blocked mask.
func (tt *threadRestore) restoreCPU() error {
	t := tt.task
	ti := tt.core.GetThreadInfo()
	regs := regsOf(ti.GetGpregs())
	restartFixup(&regs)
	host, err := t.Xstate()
	if err != nil {
		return err
	}
	if fp := ti.GetFpregs(); fp != nil {
		buf, err := xsave.Decode(fp, host)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrIncompatibleHost, err)
		}
		if err := t.SetXstate(buf); err != nil {
			return err
		}
	}
	if err := t.SetRegs(&regs); err != nil {
		return fmt.Errorf("set registers: %w", err)
	}
	return t.SetSigmask(tt.core.GetThreadCore().GetBlkSigset())
}
