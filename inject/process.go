package inject

import (
	"errors"
	"fmt"

	"github.com/crlazy/crlazy/internal/proc"
)

// maxSeizeRounds bounds how often SeizeThreads lists a process's threads
// while new ones keep appearing.
const maxSeizeRounds = 100

// SeizeThreads seizes every thread of process pid, the thread group
// leader first. Threads created while we seize are seized too: the list is
// read again until a round finds no new thread (stopped threads cannot
// create more). Threads that exit meanwhile are skipped. On error every
// thread seized so far is released.
func (tr *Tracer) SeizeThreads(pid int, opts SeizeOptions) ([]*Task, error) {
	seized := map[int]*Task{}
	var order []*Task
	release := func() {
		for _, t := range order {
			_ = t.Restore()
			_ = t.Detach()
		}
	}
	for round := 0; ; round++ {
		if round == maxSeizeRounds {
			release()
			return nil, fmt.Errorf("seize threads of %d: new threads keep appearing", pid)
		}
		tids, err := proc.ListTasks(pid)
		if err != nil {
			release()
			return nil, err
		}
		added := 0
		for _, tid := range leaderFirst(pid, tids) {
			if seized[tid] != nil {
				continue
			}
			t, err := tr.Seize(tid, opts)
			if errors.Is(err, ErrTargetGone) && tid != pid {
				continue
			}
			if err != nil {
				release()
				return nil, err
			}
			seized[tid] = t
			order = append(order, t)
			added++
		}
		if added == 0 {
			return order, nil
		}
	}
}

func leaderFirst(pid int, tids []int) []int {
	out := []int{pid}
	for _, t := range tids {
		if t != pid {
			out = append(out, t)
		}
	}
	return out
}

// ShareScratch makes t use o's scratch memory and syscall instruction: o
// and t are threads of one process, so they share its address space.
// Only one of them may inject at a time.
func (t *Task) ShareScratch(o *Task) {
	t.scratch = o.scratch
	t.sysAddr = o.sysAddr
}
