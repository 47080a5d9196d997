package dumper

import (
	"encoding/binary"
	"fmt"

	criusa "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-sa"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

// remoteState is what only the process itself can tell: values read by
// system calls injected into it.
type remoteState struct {
	sigactions     []*criusa.SaEntry
	altstack       linux.StackT
	tidAddress     uint64
	pdeathSig      uint32
	dumpable       int32
	securebits     uint32
	thpDisabled    bool
	childSubreaper bool
	brk            uint64
	itimers        [3]linux.Itimerval
}

const (
	sigactionSize = 32 // sizeof(struct kernel sigaction) on x86_64
	sigsetSize    = 8
)

// queryRemote maps a scratch area, runs the queries and removes the area
// again, so that the memory dumped afterwards is exactly the process's.
func (c *collector) queryRemote() (remoteState, error) {
	var rs remoteState
	t := c.task
	if err := t.FindSyscallInsn(); err != nil {
		return rs, err
	}
	// The queries run on the tracer thread with the task pinned to its
	// CPU (see inject.Task.Pin); Detach gives the task its affinity back.
	if err := t.Pin(); err != nil {
		return rs, err
	}
	err := c.tr.Run(func() error {
		if _, err := t.MapScratch(0, inject.ScratchSize, false); err != nil {
			return err
		}
		err := c.runQueries(&rs)
		if uerr := t.UnmapScratch(); err == nil {
			err = uerr
		}
		return err
	})
	return rs, err
}

func (c *collector) runQueries(rs *remoteState) error {
	for _, q := range []func(*remoteState) error{
		c.querySigactions, c.queryAltstack, c.queryPrctls, c.queryItimers, c.queryBrk,
	} {
		if err := q(rs); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) querySigactions(rs *remoteState) error {
	t := c.task
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

func (c *collector) queryAltstack(rs *remoteState) error {
	t := c.task
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

// queryPrctls reads per-process flags: those returned in rax directly and
// those written to memory.
func (c *collector) queryPrctls(rs *remoteState) error {
	t := c.task
	defer t.ReleaseArgs(t.ArgMark())
	out, err := t.AllocArg(8)
	if err != nil {
		return err
	}
	get := func(op int) (uint64, error) {
		return t.Syscall("prctl", linux.SysPrctl, uint64(op), 0, 0, 0, 0)
	}
	getMem := func(op int, size int) (uint64, error) {
		if _, err := t.Syscall("prctl", linux.SysPrctl, uint64(op), uint64(out), 0, 0, 0); err != nil {
			return 0, err
		}
		b := make([]byte, 8)
		if err := t.ReadMem(out, b[:size]); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	v, err := getMem(linux.PrGetTidAddress, 8)
	if err != nil {
		return fmt.Errorf("PR_GET_TID_ADDRESS: %w", err)
	}
	rs.tidAddress = v
	if v, err = getMem(linux.PrGetPdeathsig, 4); err != nil {
		return fmt.Errorf("PR_GET_PDEATHSIG: %w", err)
	}
	rs.pdeathSig = uint32(v)
	if v, err = getMem(linux.PrGetChildSubreaper, 4); err != nil {
		return fmt.Errorf("PR_GET_CHILD_SUBREAPER: %w", err)
	}
	rs.childSubreaper = v != 0
	if v, err = get(linux.PrGetDumpable); err != nil {
		return fmt.Errorf("PR_GET_DUMPABLE: %w", err)
	}
	rs.dumpable = int32(v)
	if v, err = get(linux.PrGetSecurebits); err != nil {
		return fmt.Errorf("PR_GET_SECUREBITS: %w", err)
	}
	rs.securebits = uint32(v)
	if v, err = get(linux.PrGetThpDisable); err != nil {
		return fmt.Errorf("PR_GET_THP_DISABLE: %w", err)
	}
	rs.thpDisabled = v != 0
	return nil
}

// Interval timers, in getitimer(2) order.
const (
	itimerReal    = 0
	itimerVirtual = 1
	itimerProf    = 2
)

func (c *collector) queryItimers(rs *remoteState) error {
	t := c.task
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
func (c *collector) queryBrk(rs *remoteState) error {
	v, err := c.task.Syscall("brk", linux.SysBrk, 0)
	if err != nil {
		return err
	}
	rs.brk = v
	return nil
}
