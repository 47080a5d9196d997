package inject

import (
	"fmt"

	"github.com/crlazy/crlazy/internal/linux"
)

// Mmap maps memory inside the task and returns the address.
func (t *Task) Mmap(addr linux.Addr, length uint64, prot, flags int, fd int, off uint64) (linux.Addr, error) {
	ret, err := t.Syscall("mmap", linux.SysMmap, uint64(addr), length, uint64(prot), uint64(flags), uint64(int64(fd)), off)
	if err != nil {
		return 0, fmt.Errorf("mmap %v+%#x: %w", addr, length, err)
	}
	return linux.Addr(ret), nil
}

// Munmap unmaps [addr, addr+length) inside the task.
func (t *Task) Munmap(addr linux.Addr, length uint64) error {
	if _, err := t.Syscall("munmap", linux.SysMunmap, uint64(addr), length); err != nil {
		return fmt.Errorf("munmap %v+%#x: %w", addr, length, err)
	}
	return nil
}

// Mprotect changes the protection of [addr, addr+length).
func (t *Task) Mprotect(addr linux.Addr, length uint64, prot int) error {
	if _, err := t.Syscall("mprotect", linux.SysMprotect, uint64(addr), length, uint64(prot)); err != nil {
		return fmt.Errorf("mprotect %v+%#x: %w", addr, length, err)
	}
	return nil
}

// Mremap moves [from, from+length) to to (MREMAP_MAYMOVE|MREMAP_FIXED).
func (t *Task) Mremap(from linux.Addr, length uint64, to linux.Addr) error {
	ret, err := t.Syscall("mremap", linux.SysMremap, uint64(from), length, length,
		linux.MremapMaymove|linux.MremapFixed, uint64(to))
	if err != nil {
		return fmt.Errorf("mremap %v+%#x to %v: %w", from, length, to, err)
	}
	if linux.Addr(ret) != to {
		return fmt.Errorf("mremap %v+%#x to %v: landed at %#x", from, length, to, ret)
	}
	return nil
}

// Madvise applies advice to [addr, addr+length).
func (t *Task) Madvise(addr linux.Addr, length uint64, advice int) error {
	if _, err := t.Syscall("madvise", linux.SysMadvise, uint64(addr), length, uint64(advice)); err != nil {
		return fmt.Errorf("madvise %v+%#x %d: %w", addr, length, advice, err)
	}
	return nil
}
