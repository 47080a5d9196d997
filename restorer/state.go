package restorer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/timer"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// restoreSignals sets every signal action (process-wide).
func (rs *restorer) restoreSignals() error {
	t := rs.leader()
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
	return nil
}

// restoreAltstack sets the thread's alternate signal stack.
func (tt *threadRestore) restoreAltstack() error {
	sas := tt.core.GetThreadCore().GetSas()
	if sas == nil || sas.GetSsFlags()&linux.SsDisable != 0 {
		return nil
	}
	t := tt.task
	defer t.ReleaseArgs(t.ArgMark())
	st := linux.StackT{SP: sas.GetSsSp(), Size: sas.GetSsSize(), Flags: int32(sas.GetSsFlags() & linux.SsAutodisarm)}
	buf, err := t.PutArg(linux.StructBytes(&st))
	if err != nil {
		return err
	}
	_, err = t.Syscall("sigaltstack", linux.SysSigaltstack, uint64(buf), 0)
	return err
}

// restoreSharedQueue queues again the signals that were pending for the
// process, with their siginfo: the process sends them to itself, which the
// kernel allows for any si_code. They stay pending until the final mask is
// set. First it drops the SIGCHLDs the zombie children just made, which
// the process had already had (or has in the saved queue).
func (rs *restorer) restoreSharedQueue() error {
	if err := rs.flushSigchld(); err != nil {
		return err
	}
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	for _, e := range rs.img.core.GetTc().GetSignalsS().GetSignals() {
		if err := queueSignal(t, rs.img.pid, e.GetSiginfo(), true); err != nil {
			return err
		}
	}
	return nil
}

// restoreThreadQueue queues the signals pending for the thread alone.
func (tt *threadRestore) restoreThreadQueue() error {
	t := tt.task
	defer t.ReleaseArgs(t.ArgMark())
	for _, e := range tt.core.GetThreadCore().GetSignalsP().GetSignals() {
		if err := queueSignal(t, tt.rs.img.pid, e.GetSiginfo(), false); err != nil {
			return err
		}
	}
	return nil
}

func queueSignal(t *inject.Task, pid int, raw []byte, shared bool) error {
	var si linux.Siginfo
	if len(raw) != len(si) {
		return badImage("siginfo of %d bytes", len(raw))
	}
	copy(si[:], raw)
	sig := si.Signo()
	if sig <= 0 || sig > linux.NSig {
		return badImage("pending signal %d", sig)
	}
	a, err := t.PutArg(si[:])
	if err != nil {
		return err
	}
	if shared {
		_, err = t.Syscall("rt_sigqueueinfo", linux.SysRtSigqueueinfo, uint64(pid), uint64(sig), uint64(a))
	} else {
		_, err = t.Syscall("rt_tgsigqueueinfo", linux.SysRtTgsigqueueinfo, uint64(pid), uint64(t.TID), uint64(sig), uint64(a))
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
	t := rs.leader()
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
			// A periodic ITIMER_REAL whose SIGALRM is pending shows
			// no time left: the kernel rearms it only when the
			// signal is taken. Arm it for one interval; the pending
			// signal is queued again with the others.
			v.ValueSec, v.ValueUsec = v.IntervalSec, v.IntervalUsec
		}
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

// maxPosixTimers bounds the POSIX timers of one process in an image.
const maxPosixTimers = 1 << 16

// restorePosixTimers creates the POSIX timers again with their ids
// (PR_TIMER_CREATE_RESTORE_IDS), clocks and notification, and arms those
// that were armed with the time that was left and their interval. The
// overrun count is not restored: the kernel has no call to set it.
func (rs *restorer) restorePosixTimers() error {
	timers := rs.img.core.GetTc().GetTimers().GetPosix()
	if len(timers) == 0 {
		return nil
	}
	if len(timers) > maxPosixTimers {
		return badImage("%d POSIX timers", len(timers))
	}
	t := rs.leader()
	if _, err := t.Syscall("PR_TIMER_CREATE_RESTORE_IDS", linux.SysPrctl, linux.PrTimerCreateRestoreIds,
		linux.PrTimerCreateRestoreIdsOn, 0, 0, 0); err != nil {
		return fmt.Errorf("%w (POSIX timers need Linux 6.15 or later)", err)
	}
	for _, pt := range timers {
		if err := rs.createTimer(pt); err != nil {
			return fmt.Errorf("POSIX timer %d: %w", pt.GetItId(), err)
		}
	}
	_, err := t.Syscall("PR_TIMER_CREATE_RESTORE_IDS", linux.SysPrctl, linux.PrTimerCreateRestoreIds,
		linux.PrTimerCreateRestoreIdsOff, 0, 0, 0)
	return err
}

func (rs *restorer) createTimer(pt *timer.PosixTimerEntry) error {
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	se := linux.Sigevent{Value: pt.GetSivalPtr(), Signo: int32(pt.GetSiSigno()), Notify: int32(pt.GetItSigevNotify())}
	if se.Notify&linux.SigevThreadID != 0 {
		se.Tid = pt.GetNotifyThreadId()
	}
	seAddr, err := t.PutArg(linux.StructBytes(&se))
	if err != nil {
		return err
	}
	var id [4]byte
	binary.LittleEndian.PutUint32(id[:], pt.GetItId())
	idAddr, err := t.PutArg(id[:])
	if err != nil {
		return err
	}
	if _, err := t.Syscall("timer_create", linux.SysTimerCreate, uint64(pt.GetClockId()), uint64(seAddr), uint64(idAddr)); err != nil {
		return err
	}
	var got [4]byte
	if err := t.ReadMem(idAddr, got[:]); err != nil {
		return err
	}
	if got != id {
		return fmt.Errorf("timer_create gave id %d", binary.LittleEndian.Uint32(got[:]))
	}
	v := linux.Itimerspec{IntervalSec: int64(pt.GetIsec()), IntervalNsec: int64(pt.GetInsec()),
		ValueSec: int64(pt.GetVsec()), ValueNsec: int64(pt.GetVnsec())}
	if v.ValueSec == 0 && v.ValueNsec == 0 {
		return nil // disarmed
	}
	vAddr, err := t.PutArg(linux.StructBytes(&v))
	if err != nil {
		return err
	}
	_, err = t.Syscall("timer_settime", linux.SysTimerSettime, uint64(pt.GetItId()), 0, uint64(vAddr), 0)
	return err
}

// restoreRlimits sets every resource limit. A hard limit above ours cannot
// be raised without CAP_SYS_RESOURCE: then the limit is kept as high as
// allowed and a warning logged.
func (rs *restorer) restoreRlimits() error {
	t := rs.leader()
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
	if err := rs.leader().WriteMem(buf, linux.StructBytes(&v)); err != nil {
		return err
	}
	_, err := rs.leader().Syscall("prlimit64", linux.SysPrlimit64, 0, uint64(res), uint64(buf), 0)
	return err
}

// lowerRlimit caps a limit at the current hard limit.
func (rs *restorer) lowerRlimit(buf linux.Addr, res int, want linux.Rlimit64) error {
	var cur linux.Rlimit64
	if _, err := rs.leader().Syscall("prlimit64", linux.SysPrlimit64, 0, uint64(res), 0, uint64(buf)); err != nil {
		return err
	}
	if err := rs.leader().ReadMem(buf, linux.StructBytes(&cur)); err != nil {
		return err
	}
	got := linux.Rlimit64{Cur: min(want.Cur, cur.Max), Max: min(want.Max, cur.Max)}
	rs.log.Warn("cannot raise hard resource limit without CAP_SYS_RESOURCE; keeping the highest allowed",
		"resource", res, "wanted_soft", want.Cur, "wanted_hard", want.Max, "soft", got.Cur, "hard", got.Max)
	return rs.setRlimit(buf, res, got)
}

// restoreProcessMisc sets per-process flags: personality and prctl
// values.
func (rs *restorer) restoreProcessMisc() error {
	tc := rs.img.core.GetTc()
	rs.restoreOomScoreAdj(int(tc.GetOomScoreAdj()))
	return runCalls(rs.leader(), []call{
		{"personality", linux.SysPersonality, []uint64{uint64(tc.GetPersonality())}, false},
		{"PR_SET_CHILD_SUBREAPER", linux.SysPrctl, []uint64{linux.PrSetChildSubreaper, 1}, !tc.GetChildSubreaper()},
		{"PR_SET_THP_DISABLE", linux.SysPrctl, []uint64{linux.PrSetThpDisable, 1, 0, 0, 0}, !rs.img.mm.GetThpDisabled()},
		{"PR_SET_DUMPABLE", linux.SysPrctl, []uint64{linux.PrSetDumpable, uint64(rs.img.mm.GetDumpable())},
			rs.img.mm.Dumpable == nil || rs.img.mm.GetDumpable() > 1},
	})
}

// restoreOomScoreAdj sets the process's OOM killer adjustment again.
// Lowering it below the value the process started with (crlazy's) takes
// CAP_SYS_RESOURCE; without it the restore goes on and says so.
func (rs *restorer) restoreOomScoreAdj(adj int) {
	if adj < -1000 || adj > 1000 {
		rs.log.Warn("oom_score_adj out of range in the image; left as it is", "oom_score_adj", adj)
		return
	}
	path := fmt.Sprintf("/proc/%d/oom_score_adj", rs.img.pid)
	if cur, err := proc.ReadIntFile(path); err == nil && cur == int64(adj) {
		return
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(adj)), 0); err != nil {
		rs.log.Warn("cannot set oom_score_adj again (lowering it takes CAP_SYS_RESOURCE)", "oom_score_adj", adj, "err", err)
	}
}

// call is one injected system call; skip leaves it out.
type call struct {
	name string
	nr   int
	args []uint64
	skip bool
}

func runCalls(t *inject.Task, calls []call) error {
	for _, c := range calls {
		if c.skip {
			continue
		}
		if _, err := t.Syscall(c.name, c.nr, c.args...); err != nil {
			return err
		}
	}
	return nil
}

// restoreThreadMisc sets per-thread values: parent-death signal,
// clear_child_tid, robust list, nice, name and rseq.
func (tt *threadRestore) restoreThreadMisc() error {
	th := tt.core.GetThreadCore()
	err := runCalls(tt.task, []call{
		{"PR_SET_PDEATHSIG", linux.SysPrctl, []uint64{linux.PrSetPdeathsig, uint64(th.GetPdeathSig())}, th.GetPdeathSig() == 0},
		{"set_tid_address", linux.SysSetTidAddress, []uint64{tt.core.GetThreadInfo().GetClearTidAddr()}, false},
		{"set_robust_list", linux.SysSetRobustList, []uint64{th.GetFutexRla(), uint64(th.GetFutexRlaLen())}, th.GetFutexRla() == 0},
		{"setpriority", linux.SysSetpriority, []uint64{0 /* PRIO_PROCESS: this thread */, 0, uint64(int64(th.GetSchedNice()))}, th.GetSchedNice() == 0},
	})
	if err != nil {
		return err
	}
	if err := tt.restoreComm(th.GetComm()); err != nil {
		return err
	}
	if err := tt.restoreSched(); err != nil {
		return err
	}
	return tt.restoreRseq()
}

// restoreSched sets the scheduling policy and real-time priority of the
// thread when they are not the default (SCHED_OTHER); nice is set with
// the other values.
func (tt *threadRestore) restoreSched() error {
	th := tt.core.GetThreadCore()
	if th.GetSchedPolicy() == 0 {
		return nil
	}
	t := tt.task
	defer t.ReleaseArgs(t.ArgMark())
	var prio [4]byte
	binary.LittleEndian.PutUint32(prio[:], th.GetSchedPrio())
	a, err := t.PutArg(prio[:])
	if err != nil {
		return err
	}
	_, err = t.Syscall("sched_setscheduler", linux.SysSchedSetscheduler, 0, uint64(th.GetSchedPolicy()), uint64(a))
	return err
}

func (tt *threadRestore) restoreComm(comm string) error {
	t := tt.task
	defer t.ReleaseArgs(t.ArgMark())
	p, err := t.PutString(comm)
	if err != nil {
		return err
	}
	_, err = t.Syscall("PR_SET_NAME", linux.SysPrctl, linux.PrSetName, uint64(p))
	return err
}

func (tt *threadRestore) restoreRseq() error {
	e := tt.core.GetThreadCore().GetRseqEntry()
	if e == nil || e.GetRseqAbiPointer() == 0 {
		return nil
	}
	_, err := tt.task.Syscall("rseq", linux.SysRseq, e.GetRseqAbiPointer(), uint64(e.GetRseqAbiSize()), 0, uint64(e.GetSignature()))
	return err
}
