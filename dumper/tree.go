package dumper

import (
	"errors"
	"fmt"
	"time"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// process is one process of the tree being dumped.
type process struct {
	pid    int
	ppid   int            // parent in the tree; 0 for the root
	tasks  []*inject.Task // seized threads, the leader first; nil for a zombie
	zombie bool
	// status is a zombie's wait status (exit code or killing signal);
	// stat its /proc stat (group, session, name).
	status int
	stat   *proc.Stat
	// ids of the kernel objects it may share with other processes of the
	// tree: the pid of the first process in the tree that has it.
	vmID, filesID, fsID, sighandID uint32
}

func (p *process) leader() *inject.Task { return p.tasks[0] }

// tree is the frozen process tree, root first, parents before children.
type tree struct {
	tr    *inject.Tracer
	procs []*process
}

// maxTreeProcs bounds the processes one dump takes.
const maxTreeProcs = 1 << 15

// freeze seizes every thread of root and of all its descendants. A process
// is frozen before its children are listed, so none can appear unseen;
// a child that died meanwhile is found as a zombie (its parent is frozen
// and cannot reap it).
func freeze(tr *inject.Tracer, root int) (*tree, error) {
	t := &tree{tr: tr}
	type pending struct{ pid, ppid int }
	queue := []pending{{root, 0}}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		if len(t.procs) == maxTreeProcs {
			t.release()
			return nil, unsupported(fmt.Sprintf("trees of more than %d processes are not supported", maxTreeProcs), "pid %d", root)
		}
		p, err := freezeOne(tr, next.pid, next.ppid)
		if err != nil {
			t.release()
			return nil, err
		}
		t.procs = append(t.procs, p)
		if p.zombie {
			continue
		}
		kids, err := proc.Children(p.pid)
		if err != nil {
			t.release()
			return nil, err
		}
		for _, k := range kids {
			queue = append(queue, pending{k, p.pid})
		}
	}
	return t, nil
}

func freezeOne(tr *inject.Tracer, pid, ppid int) (*process, error) {
	p := &process{pid: pid, ppid: ppid}
	st, err := proc.ReadStat(pid)
	if err != nil {
		return nil, err
	}
	if st.State == 'Z' && ppid != 0 {
		if tids, err := proc.ListTasks(pid); err == nil && len(tids) > 1 {
			return nil, unsupported("its main thread exited while other threads run; this is not supported yet",
				"pid %d", pid)
		}
		p.zombie, p.status, p.stat = true, st.ExitCode, st
		return p, nil
	}
	suspend, _ := inject.SuspendSeccomp()
	tasks, err := tr.SeizeThreads(pid, suspend)
	if (errors.Is(err, inject.ErrTargetGone) || linux.IsErrno(err, linux.EPERM)) && ppid != 0 {
		// It died before we got to it (ptrace refuses an exiting task
		// with EPERM): a zombie now or in a moment, its parent being
		// frozen.
		if st, ok := awaitZombie(pid); ok {
			p.zombie, p.status, p.stat = true, st.ExitCode, st
			return p, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("freeze pid %d: %w", pid, err)
	}
	p.tasks = tasks
	return p, nil
}

// awaitZombie waits a little for pid, which is exiting, to be a zombie.
func awaitZombie(pid int) (*proc.Stat, bool) {
	for i := 0; i < 100; i++ {
		st, err := proc.ReadStat(pid)
		if err != nil {
			return nil, false
		}
		if st.State == 'Z' {
			return st, true
		}
		time.Sleep(time.Millisecond)
	}
	return nil, false
}

// release lets every frozen task go on as it was.
func (t *tree) release() error {
	var first error
	for _, p := range t.procs {
		for _, task := range p.tasks {
			err := task.Restore()
			if derr := task.Detach(); err == nil {
				err = derr
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// kill ends every frozen process while still stopped: children first, so
// that no parent sees a child exit it did not see before the dump.
func (t *tree) kill() error {
	var first error
	for i := len(t.procs) - 1; i >= 0; i-- {
		// The leader last: its exit is reported only once every other
		// thread is reaped, which a traced thread is by its tracer.
		tasks := t.procs[i].tasks
		for j := len(tasks) - 1; j >= 0; j-- {
			if err := tasks[j].Kill(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// shareIDs finds which processes share their address space, descriptor
// table, fs information and signal handlers (kcmp): each gets the pid of
// the first process in the tree with the same object as the id.
func (t *tree) shareIDs() error {
	for i, p := range t.procs {
		if p.zombie {
			continue
		}
		for _, k := range []struct {
			typ int
			id  *uint32
			get func(*process) uint32
		}{
			{linux.KcmpVM, &p.vmID, func(q *process) uint32 { return q.vmID }},
			{linux.KcmpFiles, &p.filesID, func(q *process) uint32 { return q.filesID }},
			{linux.KcmpFS, &p.fsID, func(q *process) uint32 { return q.fsID }},
			{linux.KcmpSighand, &p.sighandID, func(q *process) uint32 { return q.sighandID }},
		} {
			*k.id = uint32(p.pid)
			for _, q := range t.procs[:i] {
				if q.zombie {
					continue
				}
				same, err := linux.KcmpSame(p.pid, q.pid, k.typ)
				if err != nil {
					return fmt.Errorf("compare pids %d and %d: %w", p.pid, q.pid, err)
				}
				if same {
					*k.id = k.get(q)
					break
				}
			}
		}
		if p.vmID != uint32(p.pid) || p.sighandID != uint32(p.pid) {
			return unsupported("processes sharing their memory or signal handlers (vfork, CLONE_VM) are not supported",
				"pid %d", p.pid)
		}
	}
	return nil
}
