package restorer

import (
	"fmt"
	"github.com/crlazy/crlazy/internal/ranges"
	"runtime"
	"sort"
	"sync/atomic"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// maxAdvice bounds the madvise advice numbers read from vma_entry.madv.
const maxAdvice = 64

// restorable reports areas we map ourselves (not the kernel's).
func restorable(v *vma.VmaEntry) bool {
	s := v.GetStatus()
	return s&images.VmaAreaRegular != 0 && s&(images.VmaAreaVdso|images.VmaAreaVvar) == 0
}

func vmaName(v *vma.VmaEntry) string { return fmt.Sprintf("vma %x-%x", v.GetStart(), v.GetEnd()) }

// fileKey identifies an open file used for mappings.
type fileKey struct {
	id    uint32
	flags uint32
}

// mapVMAs creates every area of the image, writable for now so that
// pages can be filled in (except those shared with a file or an object,
// which are never written through the mapping); finishVMAs sets the final
// protections.
func (rs *restorer) mapVMAs() error {
	fds := newMapFds()
	defer fds.close(rs.leader())
	for _, v := range rs.img.mm.GetVmas() {
		if !restorable(v) {
			continue
		}
		if err := rs.mapVMA(v, fds); err != nil {
			return fmt.Errorf("%s: %w", vmaName(v), err)
		}
	}
	return nil
}

func (rs *restorer) mapVMA(v *vma.VmaEntry, fds *mapFds) error {
	if v.GetStatus()&images.VmaAreaSysvipc != 0 {
		return rs.sysvAttach(int(v.GetShmid()), v.GetStart(), int(v.GetProt())) // sysvshm.go
	}
	t := rs.leader()
	length := v.GetEnd() - v.GetStart()
	// Not MAP_LOCKED: it would fault every page in now, before the pages
	// are filled or registered for lazy faults; finishVMAs locks them.
	flags := int(v.GetFlags())&^linux.MapLocked | linux.MapFixed
	prot := linux.ProtRead | linux.ProtWrite
	fd := -1
	status := v.GetStatus()
	obj, err := rs.files.mem.mapping(v)
	switch {
	case err != nil:
		return err
	case obj != nil:
		// Shared memory, a memfd or a deleted file: crlazy's object.
		if fd, err = fds.install(t, obj); err != nil {
			return err
		}
		flags &^= linux.MapAnonymous
		if status&(images.VmaFileShared|images.VmaAnonShared) != 0 {
			prot = int(v.GetProt())
		}
	case status&(images.VmaFilePrivate|images.VmaFileShared) != 0:
		if fd, err = rs.mapFd(v, fds.byFile); err != nil {
			return err
		}
		if status&images.VmaFileShared != 0 {
			// Shared file pages are the file's: never written by us.
			prot = int(v.GetProt())
		}
	default:
		flags |= linux.MapAnonymous
	}
	got, err := t.Mmap(linux.Addr(v.GetStart()), length, prot, flags, fd, v.GetPgoff())
	if err != nil {
		return err
	}
	if uint64(got) != v.GetStart() {
		return fmt.Errorf("mapped at %v instead", got)
	}
	for adv := 0; adv < maxAdvice; adv++ {
		if v.GetMadv()&(1<<adv) != 0 {
			if err := t.Madvise(got, length, adv); err != nil {
				return err
			}
		}
	}
	return nil
}

// mapFd returns a descriptor in the task for the file of a file mapping.
func (rs *restorer) mapFd(v *vma.VmaEntry, fds map[fileKey]int) (int, error) {
	k := fileKey{uint32(v.GetShmid()), v.GetFdflags()}
	if fd, ok := fds[k]; ok {
		return fd, nil
	}
	name := rs.img.files[k.id].GetReg().GetName()
	fd, err := rs.leader().Open(name, int(k.flags)|linux.OCloexec, 0)
	if err != nil {
		return -1, err
	}
	fds[k] = fd
	return fd, nil
}

// lockVMA locks an area that was mlock(2)ed at the dump: at once if its
// pages are in, as they fault in (MLOCK_ONFAULT) if they come lazily,
// since nothing serves a fault yet.
func (rs *restorer) lockVMA(v *vma.VmaEntry) error {
	if v.GetFlags()&linux.MapLocked == 0 || !restorable(v) {
		return nil
	}
	flags := uint64(0)
	if rs.lazy && lazyVMA(v) {
		flags = linux.MlockOnfault
	}
	_, err := rs.leader().Syscall("mlock2", linux.SysMlock2, v.GetStart(), v.GetEnd()-v.GetStart(), flags)
	return err
}

// fillPages writes the stored chunks that fall in the eager ranges into
// the task, then the zero runs there that fall in private file mappings
// (elsewhere memory starts zeroed). Without lazy pages everything is
// eager, and the work is split over fillWorkers goroutines by address
// ranges of about equal data (reading a chunk checks its checksum;
// writing it faults in fresh pages: both spread over the CPUs).
func (rs *restorer) fillPages(r *store.Reader) error {
	eager := rs.eagerRanges()
	pm, err := loadPagemap(r, rs.img.mmID, eager)
	if err != nil {
		return err
	}
	rs.img.pagemap = pm
	// Areas mapping a memory object have it filled already (mem_build.go).
	skip := rs.objectRanges()
	var work [][][2]uint64 // the ranges of each goroutine
	if rs.lazy {
		for _, rg := range ranges.Subtract(eager, skip) {
			work = append(work, [][2]uint64{rg})
		}
	} else {
		for _, rg := range splitData(pm, min(runtime.GOMAXPROCS(0), maxFillWorkers)) {
			work = append(work, ranges.Subtract([][2]uint64{rg}, skip))
		}
	}
	var g errgroup
	var pages atomic.Uint64
	for _, set := range work {
		g.Go(func() error {
			for _, rg := range set {
				if err := rs.fillRange(rg, &pages); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rs.stats.PagesData += pages.Load()
	return rs.fillZeroes()
}

// fillRange writes the chunks of [rg[0], rg[1]) into the task.
func (rs *restorer) fillRange(rg [2]uint64, pages *atomic.Uint64) error {
	return rs.pages.ChunksIn(rs.img.mmID, rg[0], rg[1], func(addr uint64, data []byte) error {
		s, e := max(addr, rg[0]), min(addr+uint64(len(data)), rg[1])
		if s >= e {
			return nil
		}
		if err := writeChunk(rs.leader().TID, s, data[s-addr:e-addr]); err != nil {
			return err
		}
		pages.Add((e - s) / linux.PageSize)
		return nil
	})
}

// maxFillWorkers bounds the goroutines filling memory.
const maxFillWorkers = 4

func writeChunk(pid int, addr uint64, data []byte) error {
	n, err := linux.ProcessVMWritev(pid, data, []linux.RemoteRange{{Addr: linux.Addr(addr), Len: uint64(len(data))}})
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write %d of %d bytes", n, len(data))
	}
	if err != nil {
		return fmt.Errorf("pages %x-%x: %w", addr, addr+uint64(len(data)), err)
	}
	return nil
}

// splitData cuts the address space into at most n ranges [start, end)
// holding about the same number of data pages, cut at run boundaries.
func splitData(pm []*pagemap.PagemapEntry, n int) [][2]uint64 {
	var total uint64
	for _, e := range pm {
		if e.GetFlags()&images.PagemapZero == 0 {
			total += e.GetNrPages()
		}
	}
	var out [][2]uint64
	start, acc := uint64(0), uint64(0)
	for _, e := range pm {
		if e.GetFlags()&images.PagemapZero != 0 {
			continue
		}
		acc += e.GetNrPages()
		if len(out) < n-1 && acc*uint64(n) >= total*uint64(len(out)+1) {
			end := e.GetVaddr() + e.GetNrPages()*linux.PageSize
			out = append(out, [2]uint64{start, end})
			start = end
		}
	}
	return append(out, [2]uint64{start, maxUserAddr})
}

func (rs *restorer) fillZeroes() error {
	vmas := rs.img.mm.GetVmas()
	zero := make([]byte, linux.PageSize)
	for _, z := range rs.img.pagemap {
		if z.GetFlags()&images.PagemapZero == 0 {
			continue
		}
		i := sort.Search(len(vmas), func(i int) bool { return vmas[i].GetEnd() > z.GetVaddr() })
		if i == len(vmas) || vmas[i].GetStatus()&images.VmaFilePrivate == 0 {
			continue
		}
		for p := uint64(0); p < z.GetNrPages(); p++ {
			addr := linux.Addr(z.GetVaddr() + p*linux.PageSize)
			if err := rs.leader().WriteMem(addr, zero); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishVMAs gives every area its final protection.
func (rs *restorer) finishVMAs() error {
	for _, v := range rs.img.mm.GetVmas() {
		if err := rs.lockVMA(v); err != nil {
			return fmt.Errorf("%s: %w", vmaName(v), err)
		}
		if !restorable(v) || v.GetStatus()&images.VmaFileShared != 0 || rs.files.mem.objectOf(v) != nil {
			continue // mapped with its final protection
		}
		if v.GetProt() == linux.ProtRead|linux.ProtWrite {
			continue
		}
		if err := rs.leader().Mprotect(linux.Addr(v.GetStart()), v.GetEnd()-v.GetStart(), int(v.GetProt())); err != nil {
			return fmt.Errorf("%s: %w", vmaName(v), err)
		}
	}
	return nil
}
