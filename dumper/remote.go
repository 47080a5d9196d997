package dumper

import (
	"encoding/binary"
	"fmt"

	criusa "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-sa"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/timer"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"google.golang.org/protobuf/proto"
)

// processRemote is what only the process itself can tell about its
// process-wide state: values read by system calls injected into it.
type processRemote struct {
	sigactions     []*criusa.SaEntry
	dumpable       int32
	thpDisabled    bool
	childSubreaper bool
	brk            uint64
	itimers        [3]linux.Itimerval
	posixTimers    []*timer.PosixTimerEntry
}

// threadRemote is the per-thread state read the same way.
type threadRemote struct {
	altstack   linux.StackT
	tidAddress uint64
	pdeathSig  uint32
	securebits uint32
}

const (
	sigactionSize = 32 // sizeof(struct kernel sigaction) on x86_64
	sigsetSize    = 8
)

// queryRemote maps a scratch area, runs the queries (process-wide ones in
// the leader, per-thread ones in each thread) and removes the area again,
// so that the memory dumped afterwards is exactly the process's.
func (c *collector) queryRemote() (processRemote, []threadRemote, error) {
	var prs processRemote
	trs := make([]threadRemote, len(c.p.tasks))
	leader := c.p.leader()
	if err := leader.FindSyscallInsn(); err != nil {
		return prs, nil, err
	}
	// The queries run on the tracer thread with the tasks pinned to its
	// CPU (see inject.Task.Pin); Detach gives them their affinity back.
	for _, t := range c.p.tasks {
		if err := t.Pin(); err != nil {
			return prs, nil, err
		}
	}
	err := c.tr.Run(func() error {
		if _, err := leader.MapScratch(0, inject.ScratchSize, false); err != nil {
			return err
		}
		err := c.runQueries(&prs, trs)
		if uerr := leader.UnmapScratch(); err == nil {
			err = uerr
		}
		return err
	})
	return prs, trs, err
}

func (c *collector) runQueries(prs *processRemote, trs []threadRemote) error {
	leader := c.p.leader()
	for _, q := range []func(*inject.Task, *processRemote) error{
		c.querySigactions, queryProcessPrctls, queryItimers, queryBrk, c.queryPosixTimers,
	} {
		if err := q(leader, prs); err != nil {
			return err
		}
	}
	for i, t := range c.p.tasks {
		if i > 0 {
			t.ShareScratch(leader)
		}
		if err := queryAltstack(t, &trs[i]); err != nil {
			return fmt.Errorf("tid %d: %w", t.TID, err)
		}
		if err := queryThreadPrctls(t, &trs[i]); err != nil {
			return fmt.Errorf("tid %d: %w", t.TID, err)
		}
	}
	return nil
}

func (c *collector) querySigactions(t *inject.Task, rs *processRemote) error {
	if c.p.sighandID != uint32(c.pid) {
		return nil // shared with an earlier process (CLONE_SIGHAND)
	}
	defer t.ReleaseArgs(t.ArgMark())
	buf, err := t.AllocArg(linux.NSig * sigactionSize)
	if err != nil {
		return err
	}
	for sig := 1; sig <= linux.NSig; sig++ {
		if sig == linux.SIGKILL || sig == linux.SIGSTOP {
			continue
		}
		slot := buf + linux.Addr((sig-1)*sigactionSize)
		if _, err := t.Syscall("rt_sigaction", linux.SysRtSigaction, uint64(sig), 0, uint64(slot), sigsetSize); err != nil {
			return fmt.Errorf("signal %d: %w", sig, err)
		}
	}
	raw := make([]byte, linux.NSig*sigactionSize)
	if err := t.ReadMem(buf, raw); err != nil {
		return err
	}
	for sig := 1; sig <= linux.NSig; sig++ {
		var sa linux.KernelSigaction
		linux.StructFromBytes(&sa, raw[(sig-1)*sigactionSize:sig*sigactionSize])
		if sig == linux.SIGKILL || sig == linux.SIGSTOP {
			sa = linux.KernelSigaction{}
		}
		rs.sigactions = append(rs.sigactions, &criusa.SaEntry{
			Sigaction: proto.Uint64(sa.Handler),
			Flags:     proto.Uint64(sa.Flags),
			Restorer:  proto.Uint64(sa.Restorer),
			Mask:      proto.Uint64(sa.Mask),
		})
	}
	return nil
}

func queryAltstack(t *inject.Task, rs *threadRemote) error {
	defer t.ReleaseArgs(t.ArgMark())
	out, err := t.AllocArg(uint64(len(linux.StructBytes(&rs.altstack))))
	if err != nil {
		return err
	}
	if _, err := t.Syscall("sigaltstack", linux.SysSigaltstack, 0, uint64(out)); err != nil {
		return err
	}
	return t.ReadMem(out, linux.StructBytes(&rs.altstack))
}

// prctlGetter runs prctl queries in t: those whose value comes back in
// rax, and those that write it to memory.
type prctlGetter struct {
	t   *inject.Task
	out linux.Addr
}

func newPrctlGetter(t *inject.Task) (*prctlGetter, error) {
	out, err := t.AllocArg(8)
	if err != nil {
		return nil, err
	}
	return &prctlGetter{t: t, out: out}, nil
}

func (g *prctlGetter) get(name string, op int) (uint64, error) {
	v, err := g.t.Syscall("prctl", linux.SysPrctl, uint64(op), 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

func (g *prctlGetter) getMem(name string, op int, size int) (uint64, error) {
	if _, err := g.t.Syscall("prctl", linux.SysPrctl, uint64(op), uint64(g.out), 0, 0, 0); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	b := make([]byte, 8)
	if err := g.t.ReadMem(g.out, b[:size]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// queryProcessPrctls reads per-process flags.
func queryProcessPrctls(t *inject.Task, rs *processRemote) error {
	defer t.ReleaseArgs(t.ArgMark())
	g, err := newPrctlGetter(t)
	if err != nil {
		return err
	}
	v, err := g.getMem("PR_GET_CHILD_SUBREAPER", linux.PrGetChildSubreaper, 4)
	if err != nil {
		return err
	}
	rs.childSubreaper = v != 0
	if v, err = g.get("PR_GET_DUMPABLE", linux.PrGetDumpable); err != nil {
		return err
	}
	rs.dumpable = int32(v)
	if v, err = g.get("PR_GET_THP_DISABLE", linux.PrGetThpDisable); err != nil {
		return err
	}
	rs.thpDisabled = v != 0
	return nil
}

// queryThreadPrctls reads per-thread values.
func queryThreadPrctls(t *inject.Task, rs *threadRemote) error {
	defer t.ReleaseArgs(t.ArgMark())
	g, err := newPrctlGetter(t)
	if err != nil {
		return err
	}
	if rs.tidAddress, err = g.getMem("PR_GET_TID_ADDRESS", linux.PrGetTidAddress, 8); err != nil {
		return err
	}
	v, err := g.getMem("PR_GET_PDEATHSIG", linux.PrGetPdeathsig, 4)
	if err != nil {
		return err
	}
	rs.pdeathSig = uint32(v)
	if v, err = g.get("PR_GET_SECUREBITS", linux.PrGetSecurebits); err != nil {
		return err
	}
	rs.securebits = uint32(v)
	return nil
}

// Interval timers, in getitimer(2) order.
const (
	itimerReal    = 0
	itimerVirtual = 1
	itimerProf    = 2
)

func queryItimers(t *inject.Task, rs *processRemote) error {
	defer t.ReleaseArgs(t.ArgMark())
	for which := itimerReal; which <= itimerProf; which++ {
		b := linux.StructBytes(&rs.itimers[which])
		out, err := t.AllocArg(uint64(len(b)))
		if err != nil {
			return err
		}
		if _, err := t.Syscall("getitimer", linux.SysGetitimer, uint64(which), uint64(out)); err != nil {
			return err
		}
		if err := t.ReadMem(out, b); err != nil {
			return err
		}
	}
	return nil
}

// queryBrk reads the current program break, which /proc does not show.
func queryBrk(t *inject.Task, rs *processRemote) error {
	v, err := t.Syscall("brk", linux.SysBrk, 0)
	if err != nil {
		return err
	}
	rs.brk = v
	return nil
}

// queryPosixTimers reads the POSIX timers (timer_create) of the process:
// /proc tells their ids, clocks and how they notify, timer_gettime and
// timer_getoverrun in the process tell the rest.
func (c *collector) queryPosixTimers(t *inject.Task, rs *processRemote) error {
	timers, err := proc.ReadPosixTimers(c.pid)
	if err != nil {
		return err
	}
	defer t.ReleaseArgs(t.ArgMark())
	var v linux.Itimerspec
	out, err := t.AllocArg(uint64(len(linux.StructBytes(&v))))
	if err != nil {
		return err
	}
	for _, pt := range timers {
		if _, err := t.Syscall("timer_gettime", linux.SysTimerGettime, uint64(pt.ID), uint64(out)); err != nil {
			return fmt.Errorf("timer %d: %w", pt.ID, err)
		}
		if err := t.ReadMem(out, linux.StructBytes(&v)); err != nil {
			return err
		}
		overrun, err := t.Syscall("timer_getoverrun", linux.SysTimerGetoverrun, uint64(pt.ID))
		if err != nil {
			return fmt.Errorf("timer %d: %w", pt.ID, err)
		}
		e := &timer.PosixTimerEntry{
			ItId: proto.Uint32(uint32(pt.ID)), ClockId: proto.Uint32(uint32(pt.Clock)),
			SiSigno: proto.Uint32(uint32(pt.Signo)), ItSigevNotify: proto.Uint32(uint32(pt.Notify)),
			SivalPtr: proto.Uint64(pt.SigvalPtr), Overrun: proto.Uint32(uint32(overrun)),
			Isec: proto.Uint64(uint64(v.IntervalSec)), Insec: proto.Uint64(uint64(v.IntervalNsec)),
			Vsec: proto.Uint64(uint64(v.ValueSec)), Vnsec: proto.Uint64(uint64(v.ValueNsec)),
		}
		if pt.Notify&linux.SigevThreadID != 0 {
			e.NotifyThreadId = proto.Int32(int32(pt.NotifyPid))
		}
		rs.posixTimers = append(rs.posixTimers, e)
	}
	return nil
}
