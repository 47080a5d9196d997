package inject

import (
	"fmt"

	"github.com/crlazy/crlazy/internal/linux"
)

// Pinning: a single-step injection is two context switches between the
// tracer and the task; when they run on different CPUs each one is a
// cross-CPU wake-up (60-80 µs in this VM), when they share a CPU the
// whole injected call takes ~8 µs instead of ~70 µs. Pin puts both on the
// tracer thread's CPU for as long as the task is seized.

// pinCPU pins the tracer thread to the CPU it runs on (once) and returns
// that CPU. Runs on the tracer thread.
func (tr *Tracer) pinCPU() (int, error) {
	if tr.pinned {
		return tr.cpu, nil
	}
	cpu, err := linux.CurrentCPU()
	if err != nil {
		return 0, err
	}
	var set linux.CPUSet
	set.Set(cpu)
	if err := linux.SchedSetaffinity(0, set); err != nil {
		return 0, err
	}
	tr.pinned, tr.cpu = true, cpu
	return cpu, nil
}

// Pin runs the task on the tracer's CPU until Detach, which gives it back
// the affinity it had (or the one set with KeepAffinity).
func (t *Task) Pin() error {
	var cpu int
	err := t.tr.do(func() error {
		var err error
		cpu, err = t.tr.pinCPU()
		return err
	})
	if err != nil {
		return fmt.Errorf("task %d: pin: %w", t.TID, err)
	}
	if !t.pinned {
		if !t.affinitySet {
			if t.affinity, err = linux.SchedGetaffinity(t.TID); err != nil {
				return fmt.Errorf("task %d: pin: %w", t.TID, err)
			}
			t.affinitySet = true
		}
	}
	var set linux.CPUSet
	set.Set(cpu)
	if err := linux.SchedSetaffinity(t.TID, set); err != nil {
		return fmt.Errorf("task %d: pin: %w", t.TID, err)
	}
	t.pinned = true
	return nil
}

// Affinity returns the affinity the task had before Pin.
func (t *Task) Affinity() (linux.CPUSet, bool) { return t.affinity, t.affinitySet }

// KeepAffinity sets the affinity Detach restores (for a task created
// pinned, as the clone of a pinned task is).
func (t *Task) KeepAffinity(set linux.CPUSet) {
	t.affinity, t.affinitySet = set, true
}

// unpin gives the task its affinity back.
func (t *Task) unpin() error {
	if !t.pinned {
		return nil
	}
	t.pinned = false
	return linux.SchedSetaffinity(t.TID, t.affinity)
}
