package restorer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// treeRestore rebuilds every process of a store. Processes are created
// from the root down, each cloned (clone3 with set_tid) by its restored
// parent, all of them still the stub's code until each is rebuilt; none
// runs before every one is complete.
type treeRestore struct {
	procs   []*restorer // parents before children; procs[0] is the root
	byPid   map[int]*restorer
	tr      *inject.Tracer
	log     *slog.Logger
	helpers []*inject.Task // holders of sessions and groups whose leaders are gone
	stubAff linux.CPUSet
	hasAff  bool
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
	creator, err := t.sessionHolders(s.task)
	if err != nil {
		return err
	}
	for _, rs := range t.procs {
		if rs != t.root() {
			creator = t.byPid[int(rs.img.pstree.GetPpid())].leader()
		}
		if err := t.createProcess(rs, creator); err != nil {
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
func (t *treeRestore) createProcess(rs *restorer, creator *inject.Task) error {
	flags, err := t.cloneFlags(rs)
	if err != nil {
		return err
	}
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
			return 0, fmt.Errorf("it shares its %s with pid %d, not with its parent: not supported yet", sh.what, sh.id)
		}
	}
	return flags, nil
}

// sessionHolders recreates the session and process group of the root
// when their leaders are gone (a daemon whose session leader exited):
// a helper with the leader's pid starts the session (and one the group),
// the root is cloned from it, and the helpers end once the tree is built.
// It returns the task that clones the root.
func (t *treeRestore) sessionHolders(stub *inject.Task) (*inject.Task, error) {
	root := t.root().img
	creator := stub
	sid, pgid, pid := int(root.pstree.GetSid()), int(root.pstree.GetPgid()), root.pid
	ours := os.Getpid()
	mySid, err := proc.ReadStat(ours)
	if err != nil {
		return nil, err
	}
	type holder struct {
		pid  int
		call string
		what string
		nr   int
	}
	var holders []holder
	if sid != pid && sid != mySid.Session && t.byPid[sid] == nil {
		holders = append(holders, holder{sid, "setsid", "session", linux.SysSetsid})
	}
	if pgid != pid && pgid != sid && t.byPid[pgid] == nil {
		holders = append(holders, holder{pgid, "setpgid", "process group", linux.SysSetpgid})
	}
	for _, h := range holders {
		if err := checkPidFree(h.pid); err != nil {
			t.log.Warn("cannot give the root its "+h.what+": a process outside the image has that pid; "+
				"the root keeps crlazy's", h.what, h.pid, "err", err)
			continue
		}
		if _, err := cloneTask(creator, h.pid, linux.CloneParent); err != nil {
			return nil, err
		}
		task, err := t.adopt(h.pid, creator)
		if err != nil {
			return nil, err
		}
		t.helpers = append(t.helpers, task)
		if _, err := task.Syscall(h.call, h.nr, 0, 0); err != nil {
			return nil, fmt.Errorf("helper %d: %w", h.pid, err)
		}
		creator = task
	}
	return creator, nil
}

// joinGroups puts every process in its process group: group leaders
// first, then the members.
func (t *treeRestore) joinGroups() error {
	for pass := 0; pass < 2; pass++ {
		for _, rs := range t.procs {
			pid, pgid := rs.img.pid, int(rs.img.pstree.GetPgid())
			leader := pgid == pid
			if leader != (pass == 0) {
				continue
			}
			st, err := proc.ReadStat(pid)
			if err != nil {
				return err
			}
			if st.Pgrp == pgid {
				continue
			}
			if !leader && t.byPid[pgid] == nil {
				t.log.Warn("process group led by a process outside the image; keeping the inherited one",
					"pid", pid, "pgid", pgid, "inherited", st.Pgrp)
				continue
			}
			target := uint64(pgid)
			if leader {
				target = 0
			}
			if _, err := rs.leader().Syscall("setpgid", linux.SysSetpgid, 0, target); err != nil {
				return fmt.Errorf("pid %d: join group %d: %w", pid, pgid, err)
			}
		}
	}
	return nil
}

// endHelpers kills the session and group holders (our children) and
// reaps them: the session and group live on in the tree.
func (t *treeRestore) endHelpers() {
	for _, h := range t.helpers {
		_ = h.Kill()
		_, _, _ = linux.Wait4(h.TID, linux.WALL)
	}
	t.helpers = nil
}

// endZombies makes each zombie exit as it did (its exit code, or the
// signal that killed it); its parent then holds it unreaped.
func (t *treeRestore) endZombies() error {
	for _, rs := range t.procs {
		if !rs.img.zombie {
			continue
		}
		t.byPid[int(rs.img.pstree.GetPpid())].hasZombies = true
		if err := endZombie(rs); err != nil {
			return fmt.Errorf("zombie %d: %w", rs.img.pid, err)
		}
	}
	return nil
}

func endZombie(rs *restorer) error {
	t := rs.leader()
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
	for i := len(t.procs) - 1; i >= 0; i-- {
		rs := t.procs[i]
		for j := len(rs.threads) - 1; j >= 0; j-- {
			_ = rs.threads[j].task.Kill()
		}
		if rs.uffd != nil {
			rs.uffd.Close()
		}
	}
	t.endHelpers()
	_, _, _ = linux.Wait4(t.root().img.pid, linux.WALL)
}
