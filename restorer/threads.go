package restorer

import (
	"errors"
	"fmt"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
)

// threadRestore rebuilds the per-thread state of one thread.
type threadRestore struct {
	rs   *restorer
	task *inject.Task
	core *criucore.CoreEntry
}

// threadFlags are the clone flags of a thread (as pthread_create uses).
const threadFlags = linux.CloneVM | linux.CloneFS | linux.CloneFiles | linux.CloneSighand |
	linux.CloneThread | linux.CloneSysvsem

// leader is the thread group leader's task.
func (rs *restorer) leader() *inject.Task { return rs.threads[0].task }

// createThreads clones the other threads of the process, with their tids,
// from the leader, once the address space they share is in place.
func (rs *restorer) createThreads() error {
	leader := rs.leader()
	tids := rs.img.pstree.GetThreads()
	for i, core := range rs.img.threads {
		tid := int(tids[i+1])
		if _, err := cloneTask(leader, tid, threadFlags); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		t, err := rs.tr.Adopt(tid)
		if err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		rs.threads = append(rs.threads, threadRestore{rs: rs, task: t, core: core})
		if set, ok := leader.Affinity(); ok {
			t.KeepAffinity(set)
		}
		if err := t.Pin(); err != nil {
			return err
		}
		t.ShareScratch(leader)
	}
	return nil
}

// restoreThreads sets each thread's own state.
func (rs *restorer) restoreThreads() error {
	for _, tt := range rs.threads {
		for _, step := range []func() error{tt.restoreAltstack, tt.restoreThreadMisc, tt.restoreThreadQueue} {
			if err := step(); err != nil {
				return fmt.Errorf("tid %d: %w", tt.task.TID, err)
			}
		}
	}
	return nil
}

// restoreThreadCreds sets each thread's credentials (they are per thread
// in the kernel), last among the injected steps.
func (rs *restorer) restoreThreadCreds() error {
	for _, tt := range rs.threads {
		if err := tt.restoreCreds(); err != nil {
			return fmt.Errorf("tid %d: %w", tt.task.TID, err)
		}
	}
	return nil
}

// restoreThreadCPUs sets each thread's registers, FPU state and mask.
func (rs *restorer) restoreThreadCPUs() error {
	for _, tt := range rs.threads {
		if err := tt.restoreCPU(); err != nil {
			return fmt.Errorf("tid %d: %w", tt.task.TID, err)
		}
	}
	return nil
}

// flushSigchld takes the SIGCHLDs queued for the process while it was
// being built (its zombie children dying, holders ending) off its queue.
func (rs *restorer) flushSigchld() error {
	if !rs.childEnded {
		return nil
	}
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	set := uint64(1) << (linux.SIGCHLD - 1)
	zero := [2]int64{}
	sa, err := t.PutArg(linux.StructBytes(&set))
	if err != nil {
		return err
	}
	ta, err := t.PutArg(linux.StructBytes(&zero))
	if err != nil {
		return err
	}
	// Standard signals do not queue: one SIGCHLD at most is pending.
	_, err = t.Syscall("rt_sigtimedwait", linux.SysRtSigtimedwait, uint64(sa), 0, uint64(ta), 8)
	if err != nil && !errors.Is(err, linux.EAGAIN) {
		return err
	}
	return nil
}
