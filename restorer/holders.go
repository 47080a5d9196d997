package restorer

import (
	"errors"
	"fmt"
	"os"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// A holder stands in for the dead leader of a session or process group
// that processes of the tree are in: a task with the leader's pid starts
// the session (setsid) or group (setpgid), the processes are created in it
// or join it, and the holder ends once the tree is built. The session or
// group lives on in the tree, as it did in the original after its leader
// died.
type holder struct {
	task *inject.Task
	// parent is the process that must reap the holder; nil for the
	// holders of the root, which are crlazy's own children.
	parent *restorer
	flags  uint64 // sharing flags the holder was cloned with
}

// rootHolders recreates the session and process group of the root when
// their leaders are gone (a daemon whose session leader exited): holders
// cloned from the stub, as crlazy's children, the root cloned from the
// last. A session that is crlazy's own is simply inherited. It returns
// the task that clones the root.
func (t *treeRestore) rootHolders(stub *inject.Task) (*inject.Task, error) {
	root := t.root().img
	creator := stub
	sid, pgid, pid := int(root.pstree.GetSid()), int(root.pstree.GetPgid()), root.pid
	mine, err := proc.ReadStat(os.Getpid())
	if err != nil {
		return nil, err
	}
	type start struct {
		pid  int
		call string
		what string
		nr   int
	}
	var starts []start
	if sid != pid && sid != mine.Session && t.byPid[sid] == nil {
		starts = append(starts, start{sid, "setsid", "session", linux.SysSetsid})
	}
	if pgid != pid && pgid != sid && t.byPid[pgid] == nil {
		starts = append(starts, start{pgid, "setpgid", "process group", linux.SysSetpgid})
	}
	for _, s := range starts {
		if err := checkPidFree(s.pid); err != nil {
			t.log.Warn("cannot give the root its "+s.what+": a process outside the image has that pid; "+
				"the root keeps crlazy's", s.what, s.pid, "err", err)
			continue
		}
		h, err := t.newHolder(creator, nil, s.pid, linux.CloneParent)
		if errors.Is(err, ErrPidInUse) {
			// No process has the pid, but it is still the group or
			// session of processes outside the image.
			t.log.Warn("cannot give the root its "+s.what+": processes outside the image still use that pid as theirs; "+
				"the root keeps crlazy's", s.what, s.pid, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := h.task.Syscall(s.call, s.nr, 0, 0); err != nil {
			return nil, fmt.Errorf("holder %d: %w", s.pid, err)
		}
		creator = h.task
	}
	return creator, nil
}

// creatorOf returns the task that clones rs, a process other than the
// root, and the flag that makes rs its creator's sibling (CLONE_PARENT)
// when the creator is a holder. Sessions are only inherited: a process in
// its parent's session, or that starts its own, is cloned by the parent;
// one in a session whose leader is gone by a holder of that session, a
// child of the parent.
func (t *treeRestore) creatorOf(rs *restorer, flags uint64) (*inject.Task, uint64, error) {
	parent := t.byPid[int(rs.img.pstree.GetPpid())]
	sid := int(rs.img.pstree.GetSid())
	st, err := proc.ReadStat(parent.img.pid)
	if err != nil {
		return nil, 0, err
	}
	if sid == rs.img.pid || sid == st.Session {
		return parent.leader(), 0, nil
	}
	if t.byPid[sid] != nil {
		return nil, 0, fmt.Errorf("it is in session %d, which its parent %d is not in: %w", sid, parent.img.pid, ErrUnsupported)
	}
	h, err := t.sessionHolder(parent, sid, flags)
	if err != nil || h == nil {
		return parent.leader(), 0, err
	}
	return h.task, linux.CloneParent, nil
}

// sessionHolder returns the holder of session sid for the children of
// parent, making it the first time: a child of parent that shares what
// they share with parent (flags), so that they can share it through it.
// It returns nil if the pid is taken, after a warning: the processes then
// stay in their parent's session.
func (t *treeRestore) sessionHolder(parent *restorer, sid int, flags uint64) (*holder, error) {
	if h := t.sessions[sid]; h != nil {
		if h.parent != parent || h.flags != flags {
			return nil, fmt.Errorf("session %d is held for children of %d that share differently: %w",
				sid, h.parent.img.pid, ErrUnsupported)
		}
		return h, nil
	}
	if err := checkPidFree(sid); err != nil {
		t.log.Warn("cannot recreate a session whose leader is gone: a process outside the image has its pid; "+
			"its members stay in their parent's session", "session", sid, "err", err)
		return nil, nil
	}
	h, err := t.newHolder(parent.leader(), parent, sid, flags)
	if errors.Is(err, ErrPidInUse) {
		t.log.Warn("cannot recreate a session whose leader is gone: processes outside the image still use its pid as theirs; "+
			"its members stay in their parent's session", "session", sid, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := h.task.Syscall("setsid", linux.SysSetsid); err != nil {
		return nil, fmt.Errorf("holder %d: %w", sid, err)
	}
	if t.sessions == nil {
		t.sessions = map[int]*holder{}
	}
	t.sessions[sid] = h
	return h, nil
}

// groupHolder starts process group pgid, whose leader is gone, in the
// session of rs, with a holder that is a child of rs. It reports false,
// after a warning, if the pid is taken: rs then keeps its group.
func (t *treeRestore) groupHolder(rs *restorer, pgid int) (bool, error) {
	if err := checkPidFree(pgid); err != nil {
		t.log.Warn("cannot recreate a process group whose leader is gone: a process outside the image has its pid; "+
			"keeping the inherited group", "pid", rs.img.pid, "pgid", pgid, "err", err)
		return false, nil
	}
	h, err := t.newHolder(rs.leader(), rs, pgid, 0)
	if errors.Is(err, ErrPidInUse) {
		t.log.Warn("cannot recreate a process group whose leader is gone: processes outside the image still use its pid as theirs; "+
			"keeping the inherited group", "pid", rs.img.pid, "pgid", pgid, "err", err)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := h.task.Syscall("setpgid", linux.SysSetpgid, 0, 0); err != nil {
		return false, fmt.Errorf("holder %d: %w", pgid, err)
	}
	return true, nil
}

// newHolder clones a holder with pid from creator.
func (t *treeRestore) newHolder(creator *inject.Task, parent *restorer, pid int, flags uint64) (*holder, error) {
	if _, err := cloneTask(creator, pid, flags); err != nil {
		return nil, fmt.Errorf("holder %d: %w", pid, err)
	}
	task, err := t.adopt(pid, creator)
	if err != nil {
		return nil, fmt.Errorf("holder %d: %w", pid, err)
	}
	h := &holder{task: task, parent: parent, flags: flags}
	t.helpers = append(t.helpers, h)
	return h, nil
}

// endHelpers kills the holders and has their parents reap them (crlazy
// for those of the root, a process of the tree for the others, by an
// injected wait4); the parent's SIGCHLD is flushed while it is built.
func (t *treeRestore) endHelpers() {
	for i := len(t.helpers) - 1; i >= 0; i-- {
		h := t.helpers[i]
		_ = h.task.Kill()
		if h.parent == nil {
			_, _, _ = linux.Wait4(h.task.TID, linux.WALL)
			continue
		}
		h.parent.childEnded = true
		if _, err := h.parent.leader().Syscall("wait4", linux.SysWait4, uint64(h.task.TID), 0, linux.WALL, 0); err != nil {
			t.log.Warn("cannot reap a session or group holder", "holder", h.task.TID, "parent", h.parent.img.pid, "err", err)
		}
	}
	t.helpers = nil
}
