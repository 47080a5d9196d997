package restorer

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// treeRestore rebuilds every process of a store. Processes are created
// from the root down, each cloned (clone3 with set_tid) by its restored
// parent, all of them still the stub's code until each is rebuilt; none
// runs before every one is complete.
type treeRestore struct {
	procs    []*restorer // parents before children; procs[0] is the root
	byPid    map[int]*restorer
	tr       *inject.Tracer
	log      *slog.Logger
	helpers  []*holder       // of sessions and groups whose leaders are gone
	sessions map[int]*holder // session holders of non-root processes, by sid
	stubAff  linux.CPUSet
	hasAff   bool
	files    *treeFiles // crlazy's copies of descriptions, closed when the restore ends
}

func (t *treeRestore) root() *restorer { return t.procs[0] }

// create makes a task for every process of the tree, with its pid,
// parent, session and process group, then ends the zombies.
func (t *treeRestore) create() error {
	s, err := startStub(t.tr)
	if err != nil {
		return err
	}
	defer s.kill()
	if err := checkXstate(s.task, t.root().img); err != nil {
		return err
	}
	if err := s.task.Pin(); err != nil {
		return err
	}
	t.stubAff, t.hasAff = s.task.Affinity()
	creator, err := t.rootHolders(s.task)
	if err != nil {
		return err
	}
	for _, rs := range t.procs {
		flags, err := t.cloneFlags(rs)
		if err != nil {
			return fmt.Errorf("create pid %d: %w", rs.img.pid, err)
		}
		if rs != t.root() {
			var parent uint64
			if creator, parent, err = t.creatorOf(rs, flags); err != nil {
				return fmt.Errorf("create pid %d: %w", rs.img.pid, err)
			}
			flags |= parent
		}
		if err := t.createProcess(rs, creator, flags); err != nil {
			return fmt.Errorf("create pid %d: %w", rs.img.pid, err)
		}
	}
	if err := t.joinGroups(); err != nil {
		return err
	}
	t.endHelpers()
	return t.endZombies()
}

// createProcess clones rs's task from creator and makes it lead its
// session if it did.
func (t *treeRestore) createProcess(rs *restorer, creator *inject.Task, flags uint64) error {
	if _, err := cloneTask(creator, rs.img.pid, flags); err != nil {
		return err
	}
	task, err := t.adopt(rs.img.pid, creator)
	if err != nil {
		return err
	}
	rs.threads = []threadRestore{{rs: rs, task: task, core: rs.img.core}}
	if rs.img.pstree.GetSid() == uint32(rs.img.pid) {
		if _, err := task.Syscall("setsid", linux.SysSetsid); err != nil {
			return err
		}
	}
	return nil
}

// adopt takes over a task just cloned from creator.
func (t *treeRestore) adopt(pid int, creator *inject.Task) (*inject.Task, error) {
	task, err := t.tr.Adopt(pid)
	if err != nil {
		return nil, err
	}
	if t.hasAff {
		task.KeepAffinity(t.stubAff)
	}
	if err := task.Pin(); err != nil {
		_ = task.Kill()
		return nil, err
	}
	task.SetSyscallInsn(creator.SyscallInsn())
	return task, nil
}

// cloneFlags says how rs is cloned: the root as our sibling's child
// (CLONE_PARENT: it becomes our child), a child sharing its parent's
// descriptor table or fs information with CLONE_FILES and CLONE_FS.
func (t *treeRestore) cloneFlags(rs *restorer) (uint64, error) {
	if rs == t.root() {
		return linux.CloneParent, nil
	}
	parent := t.byPid[int(rs.img.pstree.GetPpid())].img
	var flags uint64
	shares := []struct {
		own, parentID, id uint32
		flag              uint64
		what              string
	}{
		{uint32(rs.img.pid), parent.filesID, rs.img.filesID, linux.CloneFiles, "descriptor table"},
		{uint32(rs.img.pid), parent.fsID, rs.img.fsID, linux.CloneFS, "fs information"},
	}
	for _, sh := range shares {
		switch {
		case rs.img.zombie || sh.id == sh.own:
		case sh.id == sh.parentID:
			flags |= sh.flag
		default:
			return 0, fmt.Errorf("it shares its %s with pid %d, not with its parent: %w", sh.what, sh.id, ErrUnsupported)
		}
	}
	return flags, nil
}

// joinGroups puts every process in its process group: group leaders
// first, then the members. A group whose leader is gone is recreated by a
// holder with the leader's pid, if that pid is free.
func (t *treeRestore) joinGroups() error {
	for pass := 0; pass < 2; pass++ {
		for _, rs := range t.procs {
			pid, pgid := rs.img.pid, int(rs.img.pstree.GetPgid())
			leader := pgid == pid
			if leader != (pass == 0) {
				continue
			}
			if err := t.joinGroup(rs, pgid, leader); err != nil {
				return fmt.Errorf("pid %d: join group %d: %w", pid, pgid, err)
			}
		}
	}
	return nil
}

func (t *treeRestore) joinGroup(rs *restorer, pgid int, leader bool) error {
	st, err := proc.ReadStat(rs.img.pid)
	if err != nil || st.Pgrp == pgid {
		return err
	}
	target := uint64(pgid)
	if leader {
		target = 0
	}
	_, err = rs.leader().Syscall("setpgid", linux.SysSetpgid, 0, target)
	if leader || t.byPid[pgid] != nil || !errors.Is(err, linux.EPERM) {
		return err
	}
	// No such group in the session yet: its leader is gone.
	ok, err := t.groupHolder(rs, pgid)
	if err != nil || !ok {
		return err
	}
	_, err = rs.leader().Syscall("setpgid", linux.SysSetpgid, 0, target)
	return err
}

// endZombies makes each zombie exit as it did (its exit code, or the
// signal that killed it); its parent then holds it unreaped.
func (t *treeRestore) endZombies() error {
	for _, rs := range t.procs {
		if !rs.img.zombie {
			continue
		}
		t.byPid[int(rs.img.pstree.GetPpid())].childEnded = true
		if err := endZombie(rs); err != nil {
			return fmt.Errorf("zombie %d: %w", rs.img.pid, err)
		}
	}
	return nil
}

func endZombie(rs *restorer) error {
	t := rs.leader()
	if err := ensureScratch(t); err != nil {
		return err
	}
	if err := rs.threads[0].restoreComm(rs.img.core.GetTc().GetComm()); err != nil {
		return err
	}
	status := int(rs.img.core.GetTc().GetExitCode())
	if sig := status & 0x7f; sig != 0 {
		return t.DieBySignal(sig)
	}
	_, err := t.Syscall("exit_group", linux.SysExitGroup, uint64(status>>8&0xff))
	if errors.Is(err, inject.ErrTargetGone) {
		return nil
	}
	if err == nil {
		err = errors.New("exit_group returned")
	}
	return err
}

// abandon kills every task created so far, children first, and reaps
// those that are ours.
func (t *treeRestore) abandon() {
	t.reapAll(func() {
		t.endHelpers()
		for i := len(t.procs) - 1; i >= 0; i-- {
			rs := t.procs[i]
			for j := len(rs.threads) - 1; j >= 0; j-- {
				_ = rs.threads[j].task.Kill()
			}
			if rs.uffd != nil {
				rs.uffd.Close()
			}
		}
	})
}
