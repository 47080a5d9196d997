package dumper

import (
	"fmt"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit"
	corex86 "github.com/checkpoint-restore/go-criu/v8/crit/images/core-x86"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/creds"
	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	fsimg "github.com/checkpoint-restore/go-criu/v8/crit/images/fs"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/rlimit"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/rseq"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/siginfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/timer"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/xsave"
	"google.golang.org/protobuf/proto"
)

// image is everything collected about one process.
type image struct {
	pstree  *pstree.PstreeEntry
	core    *criucore.CoreEntry
	ids     *criucore.TaskKobjIdsEntry
	mm      *mm.MmEntry
	fs      *fsimg.FsEntry
	files   *fileTable
	fdinfos []*fdinfo.FdinfoEntry
	areas   []area
	// xfeatures is the XCR0 mask of the dumping host, for the header.
	xfeatures uint64
}

func (c *collector) collect() (*image, error) {
	img := &image{files: &fileTable{}, mm: &mm.MmEntry{}, fs: &fsimg.FsEntry{}}
	status, err := proc.ReadStatus(c.pid)
	if err != nil {
		return nil, err
	}
	stat, err := proc.ReadStat(c.pid)
	if err != nil {
		return nil, err
	}
	for _, step := range []func(*image) error{c.collectFiles, c.collectFs, c.collectMemory} {
		if err := step(img); err != nil {
			return nil, err
		}
	}
	rs, err := c.queryRemote()
	if err != nil {
		return nil, err
	}
	if err := c.collectMM(img, stat, rs); err != nil {
		return nil, err
	}
	if err := c.collectCore(img, status, stat, rs); err != nil {
		return nil, err
	}
	img.pstree = &pstree.PstreeEntry{
		Pid:     proto.Uint32(uint32(c.pid)),
		Ppid:    proto.Uint32(0),
		Pgid:    proto.Uint32(uint32(stat.Pgrp)),
		Sid:     proto.Uint32(uint32(stat.Session)),
		Threads: []uint32{uint32(c.pid)},
	}
	id := proto.Uint32(uint32(c.pid))
	img.ids = &criucore.TaskKobjIdsEntry{VmId: id, FilesId: id, FsId: id, SighandId: id}
	img.fs.Umask = proto.Uint32(status.Umask)
	return img, nil
}

func (c *collector) collectMM(img *image, stat *proc.Stat, rs remoteState) error {
	auxv, err := proc.ReadAuxv(c.pid)
	if err != nil {
		return err
	}
	exe, err := proc.ReadLink(c.pid, "exe")
	if err != nil {
		return err
	}
	if strings.HasSuffix(exe, " (deleted)") {
		return unsupported("the executable was deleted; this is not supported yet", "exe %s", exe)
	}
	exeSt, err := linux.Stat(fmt.Sprintf("/proc/%d/exe", c.pid))
	if err != nil {
		return err
	}
	m := img.mm
	m.MmStartCode, m.MmEndCode = proto.Uint64(stat.StartCode), proto.Uint64(stat.EndCode)
	m.MmStartData, m.MmEndData = proto.Uint64(stat.StartData), proto.Uint64(stat.EndData)
	m.MmStartStack = proto.Uint64(stat.StartStack)
	m.MmStartBrk, m.MmBrk = proto.Uint64(stat.StartBrk), proto.Uint64(rs.brk)
	m.MmArgStart, m.MmArgEnd = proto.Uint64(stat.ArgStart), proto.Uint64(stat.ArgEnd)
	m.MmEnvStart, m.MmEnvEnd = proto.Uint64(stat.EnvStart), proto.Uint64(stat.EnvEnd)
	m.ExeFileId = proto.Uint32(img.files.byIdentity(exe, exeSt, linux.ORdonly))
	m.MmSavedAuxv = auxv
	m.Dumpable = proto.Int32(rs.dumpable)
	m.ThpDisabled = proto.Bool(rs.thpDisabled)
	return nil
}

func (c *collector) collectCore(img *image, status *proc.Status, stat *proc.Stat, rs remoteState) error {
	ti, err := c.collectCPU(img)
	if err != nil {
		return err
	}
	ti.ClearTidAddr = proto.Uint64(rs.tidAddress)
	tc, err := c.taskCore(status, stat, rs)
	if err != nil {
		return err
	}
	th, err := c.threadCore(status, stat, rs)
	if err != nil {
		return err
	}
	img.core = &criucore.CoreEntry{
		Mtype:      criucore.CoreEntry_X86_64.Enum(),
		ThreadInfo: ti,
		Tc:         tc,
		ThreadCore: th,
	}
	return nil
}

// collectCPU reads registers, xstate and rseq by ptrace.
func (c *collector) collectCPU(img *image) (*corex86.ThreadInfoX86, error) {
	x, err := c.task.Xstate()
	if err != nil {
		return nil, err
	}
	fp, err := xsave.Encode(x)
	if err != nil {
		return nil, unsupported(err.Error(), "pid %d xstate", c.pid)
	}
	img.xfeatures = xsave.HostFeatures(x)
	return &corex86.ThreadInfoX86{Gpregs: gpregs(&c.task.Regs), Fpregs: fp}, nil
}

func gpregs(r *linux.Regs) *corex86.UserX86RegsEntry {
	u := proto.Uint64
	return &corex86.UserX86RegsEntry{
		R15: u(r.R15), R14: u(r.R14), R13: u(r.R13), R12: u(r.R12),
		Bp: u(r.Rbp), Bx: u(r.Rbx), R11: u(r.R11), R10: u(r.R10), R9: u(r.R9), R8: u(r.R8),
		Ax: u(r.Rax), Cx: u(r.Rcx), Dx: u(r.Rdx), Si: u(r.Rsi), Di: u(r.Rdi),
		OrigAx: u(r.Orig_rax), Ip: u(r.Rip), Cs: u(r.Cs), Flags: u(r.Eflags), Sp: u(r.Rsp), Ss: u(r.Ss),
		FsBase: u(r.Fs_base), GsBase: u(r.Gs_base), Ds: u(r.Ds), Es: u(r.Es), Fs: u(r.Fs), Gs: u(r.Gs),
		Mode: corex86.UserX86RegsMode_NATIVE.Enum(),
	}
}

func (c *collector) taskCore(status *proc.Status, stat *proc.Stat, rs remoteState) (*criucore.TaskCoreEntry, error) {
	pers, err := proc.ReadPersonality(c.pid)
	if err != nil {
		return nil, err
	}
	limits, err := proc.ReadLimits(c.pid)
	if err != nil {
		return nil, err
	}
	oom, err := proc.ReadIntFile(fmt.Sprintf("/proc/%d/oom_score_adj", c.pid))
	if err != nil {
		return nil, err
	}
	state := crit.TaskAlive
	if c.task.GroupStop != 0 {
		state = crit.TaskStopped
	}
	tc := &criucore.TaskCoreEntry{
		TaskState:      proto.Uint32(uint32(state)),
		ExitCode:       proto.Uint32(0),
		Personality:    proto.Uint32(pers),
		Flags:          proto.Uint32(stat.Flags),
		BlkSigset:      proto.Uint64(c.task.Sigmask),
		Comm:           proto.String(status.Name),
		Timers:         itimers(rs.itimers),
		Rlimits:        &criucore.TaskRlimitsEntry{},
		OomScoreAdj:    proto.Int32(int32(oom)),
		Sigactions:     rs.sigactions,
		ChildSubreaper: proto.Bool(rs.childSubreaper),
	}
	if c.task.GroupStop != 0 {
		tc.StopSigno = proto.Uint32(uint32(c.task.GroupStop))
	}
	if tc.SignalsS, err = c.pendingSignals(true); err != nil {
		return nil, err
	}
	for _, l := range limits {
		tc.Rlimits.Rlimits = append(tc.Rlimits.Rlimits, &rlimit.RlimitEntry{Cur: proto.Uint64(l.Cur), Max: proto.Uint64(l.Max)})
	}
	return tc, nil
}

func itimers(t [3]linux.Itimerval) *timer.TaskTimersEntry {
	e := func(v linux.Itimerval) *timer.ItimerEntry {
		return &timer.ItimerEntry{
			Isec: proto.Uint64(uint64(v.IntervalSec)), Iusec: proto.Uint64(uint64(v.IntervalUsec)),
			Vsec: proto.Uint64(uint64(v.ValueSec)), Vusec: proto.Uint64(uint64(v.ValueUsec)),
		}
	}
	return &timer.TaskTimersEntry{Real: e(t[itimerReal]), Virt: e(t[itimerVirtual]), Prof: e(t[itimerProf])}
}

func (c *collector) threadCore(status *proc.Status, stat *proc.Stat, rs remoteState) (*criucore.ThreadCoreEntry, error) {
	head, length, err := linux.GetRobustList(c.pid)
	if err != nil {
		return nil, err
	}
	rc, err := c.task.RseqConfig()
	if err != nil {
		return nil, err
	}
	th := &criucore.ThreadCoreEntry{
		FutexRla:    proto.Uint64(head),
		FutexRlaLen: proto.Uint32(uint32(length)),
		SchedNice:   proto.Int32(int32(stat.Nice)),
		SchedPolicy: proto.Uint32(stat.Policy),
		SchedPrio:   proto.Uint32(stat.RtPriority),
		BlkSigset:   proto.Uint64(c.task.Sigmask),
		Sas: &criucore.ThreadSasEntry{
			SsSp:    proto.Uint64(rs.altstack.SP),
			SsSize:  proto.Uint64(rs.altstack.Size),
			SsFlags: proto.Uint32(uint32(rs.altstack.Flags)),
		},
		PdeathSig: proto.Uint32(rs.pdeathSig),
		Creds:     credsOf(status, rs.securebits),
		Comm:      proto.String(status.Name),
	}
	if th.SignalsP, err = c.pendingSignals(false); err != nil {
		return nil, err
	}
	if rc.RseqAbiPointer != 0 {
		th.RseqEntry = &rseq.RseqEntry{
			RseqAbiPointer: proto.Uint64(rc.RseqAbiPointer),
			RseqAbiSize:    proto.Uint32(rc.RseqAbiSize),
			Signature:      proto.Uint32(rc.Signature),
		}
	}
	return th, nil
}

// pendingSignals saves the signals queued for the process (shared) or the
// thread, with their siginfo, so that none is lost across the checkpoint.
func (c *collector) pendingSignals(shared bool) (*siginfo.SignalQueueEntry, error) {
	infos, err := c.task.PendingSignals(shared)
	if err != nil {
		return nil, err
	}
	q := &siginfo.SignalQueueEntry{}
	for _, si := range infos {
		q.Signals = append(q.Signals, &siginfo.SiginfoEntry{Siginfo: si[:]})
	}
	return q, nil
}

func credsOf(s *proc.Status, securebits uint32) *creds.CredsEntry {
	caps := func(v uint64) []uint32 { return []uint32{uint32(v), uint32(v >> 32)} }
	nnp := uint32(0)
	if s.NoNewPrivs {
		nnp = 1
	}
	return &creds.CredsEntry{
		Uid: proto.Uint32(s.Uid[0]), Euid: proto.Uint32(s.Uid[1]), Suid: proto.Uint32(s.Uid[2]), Fsuid: proto.Uint32(s.Uid[3]),
		Gid: proto.Uint32(s.Gid[0]), Egid: proto.Uint32(s.Gid[1]), Sgid: proto.Uint32(s.Gid[2]), Fsgid: proto.Uint32(s.Gid[3]),
		CapInh: caps(s.CapInh), CapPrm: caps(s.CapPrm), CapEff: caps(s.CapEff), CapBnd: caps(s.CapBnd), CapAmb: caps(s.CapAmb),
		Secbits:    proto.Uint32(securebits),
		Groups:     s.Groups,
		NoNewPrivs: proto.Uint32(nnp),
	}
}
