package inject

import "github.com/crlazy/crlazy/internal/linux"

// SeccompFilter returns the classic BPF program of the task's seccomp
// filter index (0 is the newest) and the flags it was installed with that
// the kernel reports. Past the oldest filter the error matches ENOENT.
func (t *Task) SeccompFilter(index int) (prog []byte, flags uint64, err error) {
	err = t.tr.do(func() error {
		if prog, err = linux.PtraceSeccompFilter(t.TID, index); err != nil {
			return err
		}
		flags, err = linux.PtraceSeccompFlags(t.TID, index)
		return err
	})
	return prog, flags, err
}
