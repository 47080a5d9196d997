package inject

import (
	"errors"
	"fmt"

	"github.com/crlazy/crlazy/internal/linux"
)

// Scratch layout, in a mapping of ScratchSize bytes inside the target:
//
//	+0                  syscall; int3        (when mapped executable)
//	+scratchDataOff     data area: struct and string arguments
//	+size-stackReserve  stack used while injecting (rsp points at its top)
const (
	// ScratchSize is the default size of the scratch mapping.
	ScratchSize    = 64 * 1024
	scratchDataOff = 64
	stackReserve   = 4096
	scratchMinSize = 2 * linux.PageSize
	scratchAlign   = 16
)

// ErrScratchFull is returned when arguments do not fit in scratch memory.
var ErrScratchFull = errors.New("scratch memory full")

type scratch struct {
	base     linux.Addr
	size     uint64
	stackTop linux.Addr
	off      uint64 // bump allocator offset into the data area
	exec     bool
}

// MapScratch maps size bytes of private anonymous memory inside the task to
// pass arguments through. If hint is non-zero the mapping goes exactly there
// (MAP_FIXED_NOREPLACE). If exec is true the mapping is executable and
// starts with a `syscall` instruction that later calls use.
func (t *Task) MapScratch(hint linux.Addr, size uint64, exec bool) (linux.Addr, error) {
	if t.scratch.base != 0 {
		return 0, fmt.Errorf("task %d: scratch already mapped at %v", t.TID, t.scratch.base)
	}
	if size < scratchMinSize || size%linux.PageSize != 0 {
		return 0, fmt.Errorf("task %d: scratch size %d: %w", t.TID, size, linux.EINVAL)
	}
	prot := uint64(linux.ProtRead | linux.ProtWrite)
	if exec {
		prot |= linux.ProtExec
	}
	flags := uint64(linux.MapPrivate | linux.MapAnonymous)
	if hint != 0 {
		flags |= linux.MapFixedNoreplace
	}
	ret, err := t.Syscall("mmap scratch", linux.SysMmap, uint64(hint), size, prot, flags, ^uint64(0), 0)
	if err != nil {
		return 0, err
	}
	base := linux.Addr(ret)
	if hint != 0 && base != hint {
		// Kernels without MAP_FIXED_NOREPLACE treat it as a hint.
		_, _ = t.Syscall("munmap scratch", linux.SysMunmap, uint64(base), size)
		return 0, fmt.Errorf("task %d: scratch wanted at %v, got %v: %w", t.TID, hint, base, linux.EEXIST)
	}
	t.scratch = scratch{base: base, size: size, stackTop: base + linux.Addr(size) - scratchAlign, exec: exec}
	if exec {
		if err := t.WriteMem(base, syscallInsn); err != nil {
			return 0, err
		}
		t.sysAddr = base
	}
	return base, nil
}

// Scratch returns the scratch mapping (0, 0 if none).
func (t *Task) Scratch() (linux.Addr, uint64) { return t.scratch.base, t.scratch.size }

// UnmapScratch removes the scratch mapping. If the syscall instruction
// lived there, later Syscall calls fail until SetSyscallInsn.
func (t *Task) UnmapScratch() error {
	if t.scratch.base == 0 {
		return nil
	}
	base, size, exec := t.scratch.base, t.scratch.size, t.scratch.exec
	_, err := t.Syscall("munmap scratch", linux.SysMunmap, uint64(base), size)
	if err != nil {
		return err
	}
	t.scratch = scratch{}
	if exec && t.sysAddr == base {
		t.sysAddr = 0
	}
	return nil
}

// ArgMark returns the state of the argument area; ReleaseArgs(mark) frees
// what was allocated after it, leaving earlier arguments in place.
func (t *Task) ArgMark() uint64 { return t.scratch.off }

// ReleaseArgs frees arguments allocated after mark.
func (t *Task) ReleaseArgs(mark uint64) {
	if mark < t.scratch.off {
		t.scratch.off = mark
	}
}

// AllocArg reserves n bytes of scratch data area and returns their
// address in the target.
func (t *Task) AllocArg(n uint64) (linux.Addr, error) {
	s := &t.scratch
	if s.base == 0 {
		return 0, fmt.Errorf("task %d: no scratch mapped: %w", t.TID, ErrScratchFull)
	}
	limit := s.size - scratchDataOff - stackReserve
	off := (s.off + scratchAlign - 1) &^ (scratchAlign - 1)
	if n > limit || off > limit-n {
		return 0, fmt.Errorf("task %d: %d bytes of arguments: %w", t.TID, n, ErrScratchFull)
	}
	s.off = off + n
	return s.base + linux.Addr(scratchDataOff+off), nil
}

// PutArg copies b into the scratch data area and returns its address.
func (t *Task) PutArg(b []byte) (linux.Addr, error) {
	a, err := t.AllocArg(uint64(len(b)))
	if err != nil {
		return 0, err
	}
	return a, t.WriteMem(a, b)
}

// PutString copies s with a terminating NUL into scratch.
func (t *Task) PutString(s string) (linux.Addr, error) {
	return t.PutArg(append([]byte(s), 0))
}
