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
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/xsave"
	"google.golang.org/protobuf/proto"
)

// image is everything collected about one process. fs and fdinfos are
// nil when the process shares them with an earlier one (CLONE_FS,
// CLONE_FILES): the owner's records serve both.
type image struct {
	pid     int
	pstree  *pstree.PstreeEntry
	cores   []*criucore.CoreEntry // one per thread, the leader first
	ids     *criucore.TaskKobjIdsEntry
	mm      *mm.MmEntry
	fs      *fsimg.FsEntry
	files   *fileTable // tree-wide
	fdinfos []*fdinfo.FdinfoEntry
	areas   []area
	seccomp seccompFilters
	// xfeatures is the XCR0 mask of the dumping host, for the header.
	xfeatures uint64
}

func (c *collector) collect(files *fileTable) (*image, error) {
	p := c.p
	img := &image{pid: c.pid, files: files, mm: &mm.MmEntry{}}
	status, err := proc.ReadStatus(c.pid)
	if err != nil {
		return nil, err
	}
	stat, err := proc.ReadStat(c.pid)
	if err != nil {
		return nil, err
	}
	steps := []func(*image) error{c.collectMemory}
	if p.filesID == uint32(p.pid) {
		steps = append(steps, c.collectFiles)
	}
	if p.fsID == uint32(p.pid) {
		img.fs = &fsimg.FsEntry{Umask: proto.Uint32(status.Umask)}
		steps = append(steps, c.collectFs)
	}
	for _, step := range steps {
		if err := step(img); err != nil {
			return nil, err
		}
	}
	prs, trs, err := c.queryRemote()
	if err != nil {
		return nil, err
	}
	if err := c.collectMM(img, stat, prs); err != nil {
		return nil, err
	}
	if err := c.collectCores(img, status, stat, prs, trs); err != nil {
		return nil, err
	}
	img.pstree = &pstree.PstreeEntry{
		Pid:  proto.Uint32(uint32(c.pid)),
		Ppid: proto.Uint32(uint32(p.ppid)),
		Pgid: proto.Uint32(uint32(stat.Pgrp)),
		Sid:  proto.Uint32(uint32(stat.Session)),
	}
	for _, t := range p.tasks {
		img.pstree.Threads = append(img.pstree.Threads, uint32(t.TID))
	}
	img.ids = &criucore.TaskKobjIdsEntry{VmId: proto.Uint32(p.vmID), FilesId: proto.Uint32(p.filesID),
		FsId: proto.Uint32(p.fsID), SighandId: proto.Uint32(p.sighandID)}
	return img, nil
}

func (c *collector) collectMM(img *image, stat *proc.Stat, rs processRemote) error {
	auxv, err := proc.ReadAuxv(c.pid)
	if err != nil {
		return err
	}
	exe, err := proc.ReadLink(c.pid, "exe")
	if err != nil {
		return err
	}
	exeLink := fmt.Sprintf("/proc/%d/exe", c.pid)
	exeSt, err := linux.Stat(exeLink)
	if err != nil {
		return err
	}
	exeID := uint32(0)
	if strings.HasSuffix(exe, deletedSuffix) {
		// Deleted (replaced by an upgrade, say): saved as a ghost, which
		// its text mappings share.
		if exeID, err = deletedMapped(exeLink, "exe "+exe, exeSt, img.files); err != nil {
			return err
		}
	} else {
		exeID = img.files.byIdentity(exe, exeSt, linux.ORdonly)
	}
	m := img.mm
	m.MmStartCode, m.MmEndCode = proto.Uint64(stat.StartCode), proto.Uint64(stat.EndCode)
	m.MmStartData, m.MmEndData = proto.Uint64(stat.StartData), proto.Uint64(stat.EndData)
	m.MmStartStack = proto.Uint64(stat.StartStack)
	m.MmStartBrk, m.MmBrk = proto.Uint64(stat.StartBrk), proto.Uint64(rs.brk)
	m.MmArgStart, m.MmArgEnd = proto.Uint64(stat.ArgStart), proto.Uint64(stat.ArgEnd)
	m.MmEnvStart, m.MmEnvEnd = proto.Uint64(stat.EnvStart), proto.Uint64(stat.EnvEnd)
	m.ExeFileId = proto.Uint32(exeID)
	m.MmSavedAuxv = auxv
	m.Dumpable = proto.Int32(rs.dumpable)
	m.ThpDisabled = proto.Bool(rs.thpDisabled)
	return nil
}

// collectCores records every thread; the leader's core also holds the
// process-wide state (tc).
func (c *collector) collectCores(img *image, status *proc.Status, stat *proc.Stat, prs processRemote, trs []threadRemote) error {
	for i, t := range c.p.tasks {
		ti, err := c.collectCPU(img, t)
		if err != nil {
			return err
		}
		ti.ClearTidAddr = proto.Uint64(trs[i].tidAddress)
		tstatus, tstat := status, stat
		if i > 0 {
			if tstatus, err = proc.ReadTaskStatus(c.pid, t.TID); err != nil {
				return err
			}
			if tstat, err = proc.ReadTaskStat(c.pid, t.TID); err != nil {
				return err
			}
		}
		th, err := c.threadCore(t, tstatus, tstat, trs[i])
		if err != nil {
			return err
		}
		if err := img.seccomp.add(t, tstatus.Seccomp, th); err != nil {
			return err
		}
		core := &criucore.CoreEntry{Mtype: criucore.CoreEntry_X86_64.Enum(), ThreadInfo: ti, ThreadCore: th}
		if i == 0 {
			if core.Tc, err = c.taskCore(status, stat, prs); err != nil {
				return err
			}
		}
		img.cores = append(img.cores, core)
	}
	return nil
}

// collectCPU reads registers, xstate and rseq by ptrace.
func (c *collector) collectCPU(img *image, t *inject.Task) (*corex86.ThreadInfoX86, error) {
	x, err := t.Xstate()
	if err != nil {
		return nil, err
	}
	fp, err := xsave.Encode(x)
	if err != nil {
		return nil, unsupported(err.Error(), "pid %d tid %d xstate", c.pid, t.TID)
	}
	img.xfeatures = xsave.HostFeatures(x)
	return &corex86.ThreadInfoX86{Gpregs: gpregs(&t.Regs), Fpregs: fp}, nil
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

func (c *collector) taskCore(status *proc.Status, stat *proc.Stat, rs processRemote) (*criucore.TaskCoreEntry, error) {
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
	leader := c.p.leader()
	state := crit.TaskAlive
	if leader.GroupStop != 0 {
		state = crit.TaskStopped
	}
	tc := &criucore.TaskCoreEntry{
		TaskState:      proto.Uint32(uint32(state)),
		ExitCode:       proto.Uint32(0),
		Personality:    proto.Uint32(pers),
		Flags:          proto.Uint32(stat.Flags),
		BlkSigset:      proto.Uint64(leader.Sigmask),
		Comm:           proto.String(status.Name),
		Timers:         itimers(rs.itimers, rs.posixTimers),
		Rlimits:        &criucore.TaskRlimitsEntry{},
		OomScoreAdj:    proto.Int32(int32(oom)),
		Sigactions:     rs.sigactions,
		ChildSubreaper: proto.Bool(rs.childSubreaper),
	}
	if leader.GroupStop != 0 {
		tc.StopSigno = proto.Uint32(uint32(leader.GroupStop))
	}
	if tc.SignalsS, err = pendingSignals(leader, true); err != nil {
		return nil, err
	}
	for _, l := range limits {
		tc.Rlimits.Rlimits = append(tc.Rlimits.Rlimits, &rlimit.RlimitEntry{Cur: proto.Uint64(l.Cur), Max: proto.Uint64(l.Max)})
	}
	return tc, nil
}

func itimers(t [3]linux.Itimerval, posix []*timer.PosixTimerEntry) *timer.TaskTimersEntry {
	e := func(v linux.Itimerval) *timer.ItimerEntry {
		return &timer.ItimerEntry{
			Isec: proto.Uint64(uint64(v.IntervalSec)), Iusec: proto.Uint64(uint64(v.IntervalUsec)),
			Vsec: proto.Uint64(uint64(v.ValueSec)), Vusec: proto.Uint64(uint64(v.ValueUsec)),
		}
	}
	return &timer.TaskTimersEntry{Real: e(t[itimerReal]), Virt: e(t[itimerVirtual]), Prof: e(t[itimerProf]), Posix: posix}
}

func (c *collector) threadCore(t *inject.Task, status *proc.Status, stat *proc.Stat, rs threadRemote) (*criucore.ThreadCoreEntry, error) {
	head, length, err := linux.GetRobustList(t.TID)
	if err != nil {
		return nil, err
	}
	rc, err := t.RseqConfig()
	if err != nil {
		return nil, err
	}
	th := &criucore.ThreadCoreEntry{
		FutexRla:    proto.Uint64(head),
		FutexRlaLen: proto.Uint32(uint32(length)),
		SchedNice:   proto.Int32(int32(stat.Nice)),
		SchedPolicy: proto.Uint32(stat.Policy),
		SchedPrio:   proto.Uint32(stat.RtPriority),
		BlkSigset:   proto.Uint64(t.Sigmask),
		Sas: &criucore.ThreadSasEntry{
			SsSp:    proto.Uint64(rs.altstack.SP),
			SsSize:  proto.Uint64(rs.altstack.Size),
			SsFlags: proto.Uint32(uint32(rs.altstack.Flags)),
		},
		PdeathSig: proto.Uint32(rs.pdeathSig),
		Creds:     credsOf(status, rs.securebits),
		Comm:      proto.String(status.Name),
	}
	if th.SignalsP, err = pendingSignals(t, false); err != nil {
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
func pendingSignals(t *inject.Task, shared bool) (*siginfo.SignalQueueEntry, error) {
	infos, err := t.PendingSignals(shared)
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
