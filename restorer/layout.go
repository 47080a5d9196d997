package restorer

import (
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

const (
	// minMapAddr is the lowest address tried for scratch memory (above
	// vm.mmap_min_addr and the stub).
	minMapAddr = 1 << 20
	// maxUserAddr is the end of the 47-bit user address space.
	maxUserAddr  = 0x7ffffffff000
	scratchGuard = linux.PageSize
)

// placeScratch maps executable scratch memory where neither the image nor
// the task's current mappings are, so it survives until the end. The
// scratch a task got to clone its children is unmapped first: it was put
// wherever the kernel chose, maybe where the image has memory.
func placeScratch(t *inject.Task, vmas []*vma.VmaEntry) error {
	if err := t.UnmapScratch(); err != nil {
		return err
	}
	cur, err := proc.ReadMaps(t.TID)
	if err != nil {
		return err
	}
	busy := make([][2]uint64, 0, len(vmas)+len(cur))
	for _, v := range vmas {
		busy = append(busy, [2]uint64{v.GetStart(), v.GetEnd()})
	}
	for _, m := range cur {
		busy = append(busy, [2]uint64{m.Start, m.End})
	}
	size := uint64(inject.ScratchSize)
	for addr := uint64(maxUserAddr) - size - scratchGuard; addr >= minMapAddr; {
		hit, ok := overlapping(busy, addr-scratchGuard, addr+size+scratchGuard)
		if !ok {
			_, err := t.MapScratch(linux.Addr(addr), size, true)
			return err
		}
		if hit[0] < size+2*scratchGuard {
			break
		}
		addr = (hit[0] - size - scratchGuard) &^ (linux.PageSize - 1)
	}
	return fmt.Errorf("no room for %d bytes of scratch memory in the restored address space", size)
}

// overlapping returns a busy range overlapping [s, e).
func overlapping(busy [][2]uint64, s, e uint64) ([2]uint64, bool) {
	for _, b := range busy {
		if b[0] < e && s < b[1] {
			return b, true
		}
	}
	return [2]uint64{}, false
}

// isKernelArea reports areas the kernel provides (vdso, vvar, vsyscall).
func isKernelArea(m proc.Mapping) bool {
	switch m.Path {
	case "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]":
		return true
	}
	return false
}

// clearAddressSpace unmaps everything the stub left in the task except the
// scratch memory and the kernel's areas.
func clearAddressSpace(t *inject.Task) error {
	cur, err := proc.ReadMaps(t.TID)
	if err != nil {
		return err
	}
	sbase, ssize := t.Scratch()
	for _, m := range cur {
		if isKernelArea(m) || m.Start == uint64(sbase) && m.Len() == ssize {
			continue
		}
		if err := t.Munmap(linux.Addr(m.Start), m.Len()); err != nil {
			return err
		}
	}
	return nil
}

// placeVdso moves the kernel's vDSO and vvar areas to where the image had
// them: unmap them and ask the kernel to map a fresh vDSO at the image's
// address (arch_prctl ARCH_MAP_VDSO_64), then check the layout matches.
func placeVdso(t *inject.Task, vmas []*vma.VmaEntry) error {
	var want []*vma.VmaEntry
	for _, v := range vmas {
		if v.GetStatus()&(images.VmaAreaVdso|images.VmaAreaVvar) != 0 {
			want = append(want, v)
		}
	}
	cur, err := proc.ReadMaps(t.TID)
	if err != nil {
		return err
	}
	for _, m := range cur {
		if m.Path == "[vdso]" || m.Path == "[vvar]" || m.Path == "[vvar_vclock]" {
			if err := t.Munmap(linux.Addr(m.Start), m.Len()); err != nil {
				return err
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	if _, err := t.Syscall("arch_prctl ARCH_MAP_VDSO_64", linux.SysArchPrctl, linux.ArchMapVdso64, want[0].GetStart()); err != nil {
		return fmt.Errorf("map vdso at %#x: %w", want[0].GetStart(), err)
	}
	return checkVdso(t, want)
}

func checkVdso(t *inject.Task, want []*vma.VmaEntry) error {
	cur, err := proc.ReadMaps(t.TID)
	if err != nil {
		return err
	}
	var got []proc.Mapping
	for _, m := range cur {
		if m.Path == "[vdso]" || m.Path == "[vvar]" || m.Path == "[vvar_vclock]" {
			got = append(got, m)
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%w: this kernel's vdso has %d areas, the image %d", ErrIncompatibleHost, len(got), len(want))
	}
	for i, m := range got {
		if m.Start != want[i].GetStart() || m.End != want[i].GetEnd() {
			return fmt.Errorf("%w: vdso area %s at %x-%x, the image has %x-%x", ErrIncompatibleHost,
				m.Path, m.Start, m.End, want[i].GetStart(), want[i].GetEnd())
		}
	}
	return nil
}
