package restorer

import (
	"errors"
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/siginfo"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// restoreSignals sets every signal action and the alternate stack.
func (rs *restorer) restoreSignals() error {
	t := rs.task
	defer t.ReleaseArgs(t.ArgMark())
	sas := rs.img.core.GetTc().GetSigactions()
	if len(sas) > linux.NSig {
		return badImage("%d signal actions", len(sas))
	}
	buf, err := t.AllocArg(32)
	if err != nil {
		return err
	}
	for i, sa := range sas {
		sig := i + 1
		if sig == linux.SIGKILL || sig == linux.SIGSTOP {
			continue
		}
		k := linux.KernelSigaction{Handler: sa.GetSigaction(), Flags: sa.GetFlags(), Restorer: sa.GetRestorer(), Mask: sa.GetMask()}
		if err := t.WriteMem(buf, linux.StructBytes(&k)); err != nil {
			return err
		}
		if _, err := t.Syscall("rt_sigaction", linux.SysRtSigaction, uint64(sig), uint64(buf), 0, 8); err != nil {
			return fmt.Errorf("signal %d: %w", sig, err)
		}
	}
	return rs.restoreAltstack(buf)
}

func (rs *restorer) restoreAltstack(buf linux.Addr) error {
	sas := rs.img.core.GetThreadCore().GetSas()
	if sas == nil || sas.GetSsFlags()&linux.SsDisable != 0 {
		return nil
	}
	st := linux.StackT{SP: sas.GetSsSp(), Size: sas.GetSsSize(), Flags: int32(sas.GetSsFlags() & linux.SsAutodisarm)}
	if err := rs.task.WriteMem(buf, linux.StructBytes(&st)); err != nil {
		return err
	}
	_, err := rs.task.Syscall("sigaltstack", linux.SysSigaltstack, uint64(buf), 0)
	return err
}

// restoreSignalQueues queues again the signals that were pending, with
// their siginfo: the process sends them to itself, which the kernel allows
// for any si_code. They stay pending until the final mask is set.
func (rs *restorer) restoreSignalQueues() error {
	t := rs.task
	defer t.ReleaseArgs(t.ArgMark())
	queues := []struct {
		q      []*siginfo.SiginfoEntry
		shared bool
	}{
		{rs.img.core.GetTc().GetSignalsS().GetSignals(), true},
		{rs.img.core.GetThreadCore().GetSignalsP().GetSignals(), false},
	}
	for _, q := range queues {
		for _, e := range q.q {
			if err := rs.queueSignal(e.GetSiginfo(), q.shared); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rs *restorer) queueSignal(raw []byte, shared bool) error {
	var si linux.Siginfo
	if len(raw) != len(si) {
		return badImage("siginfo of %d bytes", len(raw))
	}
	copy(si[:], raw)
	sig := si.Signo()
	if sig <= 0 || sig > linux.NSig {
		return badImage("pending signal %d", sig)
	}
	t := rs.task
	a, err := t.PutArg(si[:])
	if err != nil {
		return err
	}
	pid := uint64(rs.img.pid)
	if shared {
		_, err = t.Syscall("rt_sigqueueinfo", linux.SysRtSigqueueinfo, pid, uint64(sig), uint64(a))
	} else {
		_, err = t.Syscall("rt_tgsigqueueinfo", linux.SysRtTgsigqueueinfo, pid, uint64(t.TID), uint64(sig), uint64(a))
	}
	if err != nil {
		return fmt.Errorf("queue signal %d: %w", sig, err)
	}
	return nil
}

// restoreTimers arms the interval timers that were armed.
func (rs *restorer) restoreTimers() error {
	tm := rs.img.core.GetTc().GetTimers()
	if tm == nil {
		return nil
	}
	t := rs.task
	defer t.ReleaseArgs(t.ArgMark())
	for which, e := range []interface {
		GetIsec() uint64
		GetIusec() uint64
		GetVsec() uint64
		GetVusec() uint64
	}{tm.GetReal(), tm.GetVirt(), tm.GetProf()} {
		v := linux.Itimerval{IntervalSec: int64(e.GetIsec()), IntervalUsec: int64(e.GetIusec()),
			ValueSec: int64(e.GetVsec()), ValueUsec: int64(e.GetVusec())}
		if v.ValueSec == 0 && v.ValueUsec == 0 {
			continue
		}
		a, err := t.PutArg(linux.StructBytes(&v))
		if err != nil {
			return err
		}
		if _, err := t.Syscall("setitimer", linux.SysSetitimer, uint64(which), uint64(a), 0); err != nil {
			return err
		}
	}
	return nil
}

// restoreRlimits sets every resource limit. A hard limit above ours cannot
// be raised without CAP_SYS_RESOURCE: then the limit is kept as high as
// allowed and a warning logged.
func (rs *restorer) restoreRlimits() error {
	t := rs.task
	defer t.ReleaseArgs(t.ArgMark())
	lims := rs.img.core.GetTc().GetRlimits().GetRlimits()
	if len(lims) > proc.NumRlimits {
		return badImage("%d rlimits", len(lims))
	}
	buf, err := t.AllocArg(16)
	if err != nil {
		return err
	}
	for res, l := range lims {
		v := linux.Rlimit64{Cur: l.GetCur(), Max: l.GetMax()}
		err := rs.setRlimit(buf, res, v)
		if errors.Is(err, linux.EPERM) {
			err = rs.lowerRlimit(buf, res, v)
		}
		if err != nil {
			return fmt.Errorf("rlimit %d: %w", res, err)
		}
	}
	return nil
}

func (rs *restorer) setRlimit(buf linux.Addr, res int, v linux.Rlimit64) error {
	if err := rs.task.WriteMem(buf, linux.StructBytes(&v)); err != nil {
		return err
	}
	_, err := rs.task.Syscall("prlimit64", linux.SysPrlimit64, 0, uint64(res), uint64(buf), 0)
	return err
}

// lowerRlimit caps a limit at the current hard limit.
func (rs *restorer) lowerRlimit(buf linux.Addr, res int, want linux.Rlimit64) error {
	var cur linux.Rlimit64
	if _, err := rs.task.Syscall("prlimit64", linux.SysPrlimit64, 0, uint64(res), 0, uint64(buf)); err != nil {
		return err
	}
	if err := rs.task.ReadMem(buf, linux.StructBytes(&cur)); err != nil {
		return err
	}
	got := linux.Rlimit64{Cur: min(want.Cur, cur.Max), Max: min(want.Max, cur.Max)}
	rs.log.Warn("cannot raise hard resource limit without CAP_SYS_RESOURCE; keeping the highest allowed",
		"resource", res, "wanted_soft", want.Cur, "wanted_hard", want.Max, "soft", got.Cur, "hard", got.Max)
	return rs.setRlimit(buf, res, got)
}

// restoreMisc sets per-process and per-thread flags: name, personality,
// prctl values, clear_child_tid, robust list, rseq, nice.
func (rs *restorer) restoreMisc() error {
	tc, th := rs.img.core.GetTc(), rs.img.core.GetThreadCore()
	t := rs.task
	calls := []struct {
		name string
		nr   int
		args []uint64
		skip bool
	}{
		{"personality", linux.SysPersonality, []uint64{uint64(tc.GetPersonality())}, false},
		{"PR_SET_PDEATHSIG", linux.SysPrctl, []uint64{linux.PrSetPdeathsig, uint64(th.GetPdeathSig())}, th.GetPdeathSig() == 0},
		{"PR_SET_CHILD_SUBREAPER", linux.SysPrctl, []uint64{linux.PrSetChildSubreaper, 1}, !tc.GetChildSubreaper()},
		{"PR_SET_THP_DISABLE", linux.SysPrctl, []uint64{linux.PrSetThpDisable, 1, 0, 0, 0}, !rs.img.mm.GetThpDisabled()},
		{"PR_SET_DUMPABLE", linux.SysPrctl, []uint64{linux.PrSetDumpable, uint64(rs.img.mm.GetDumpable())},
			rs.img.mm.Dumpable == nil || rs.img.mm.GetDumpable() > 1},
		{"set_tid_address", linux.SysSetTidAddress, []uint64{rs.img.core.GetThreadInfo().GetClearTidAddr()}, false},
		{"set_robust_list", linux.SysSetRobustList, []uint64{th.GetFutexRla(), uint64(th.GetFutexRlaLen())}, th.GetFutexRla() == 0},
		{"setpriority", linux.SysSetpriority, []uint64{0 /* PRIO_PROCESS */, 0, uint64(int64(th.GetSchedNice()))}, th.GetSchedNice() == 0},
	}
	for _, c := range calls {
		if c.skip {
			continue
		}
		if _, err := t.Syscall(c.name, c.nr, c.args...); err != nil {
			return err
		}
	}
	if err := rs.restoreComm(th.GetComm()); err != nil {
		return err
	}
	return rs.restoreRseq()
}

func (rs *restorer) restoreComm(comm string) error {
	t := rs.task
	defer t.ReleaseArgs(t.ArgMark())
	p, err := t.PutString(comm)
	if err != nil {
		return err
	}
	_, err = t.Syscall("PR_SET_NAME", linux.SysPrctl, linux.PrSetName, uint64(p))
	return err
}

func (rs *restorer) restoreRseq() error {
	e := rs.img.core.GetThreadCore().GetRseqEntry()
	if e == nil || e.GetRseqAbiPointer() == 0 {
		return nil
	}
	_, err := rs.task.Syscall("rseq", linux.SysRseq, e.GetRseqAbiPointer(), uint64(e.GetRseqAbiSize()), 0, uint64(e.GetSignature()))
	return err
}

// restoreSession recreates the process group or session the process led.
func (rs *restorer) restoreSession() error {
	pid := uint32(rs.img.pid)
	switch {
	case rs.img.pstree.GetSid() == pid:
		_, err := rs.task.Syscall("setsid", linux.SysSetsid)
		return err
	case rs.img.pstree.GetPgid() == pid:
		_, err := rs.task.Syscall("setpgid", linux.SysSetpgid, 0, 0)
		return err
	}
	rs.log.Info("process group and session were led by processes outside the image; the restored process joins crlazy's",
		"pgid", rs.img.pstree.GetPgid(), "sid", rs.img.pstree.GetSid())
	return nil
}
