package restorer

import (
	"errors"
	"fmt"
	"github.com/crlazy/crlazy/internal/ranges"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/uffd"
)

const (
	// stackWindow is how much memory on each side of the stack pointer is
	// filled before the process runs: the first thing it touches.
	stackWindow = 64 << 10
	// tlsWindow is the same around a thread's TLS pointer (fs base): the
	// thread control block and the variables next to it.
	tlsWindow = 8 << 10
	// maxGuardFd bounds the descriptor number of the guard: a higher one
	// would make the kernel grow the task's descriptor table.
	maxGuardFd = 1023
	// uffdFeatures are the events a lazy restore follows.
	uffdFeatures = linux.UffdFeatureEventFork | linux.UffdFeatureEventRemap |
		linux.UffdFeatureEventRemove | linux.UffdFeatureEventUnmap
	rlimitNofile = 7
)

// lazyVMA reports the areas whose pages come through userfaultfd: private
// anonymous memory (heap and stack included). File mappings and shared
// memory are filled before the process runs.
func lazyVMA(v *vma.VmaEntry) bool {
	return restorable(v) && v.GetStatus()&images.VmaAnonPrivate != 0
}

// eagerRanges returns the address ranges filled before the process runs,
// sorted and merged: everything, or with lazy pages the other areas, a
// window around the stack pointer and the first of the working set.
func (rs *restorer) eagerRanges() [][2]uint64 {
	if !rs.lazy {
		return [][2]uint64{{0, maxUserAddr}}
	}
	var out [][2]uint64
	for _, v := range rs.img.mm.GetVmas() {
		if restorable(v) && !lazyVMA(v) {
			out = append(out, [2]uint64{v.GetStart(), v.GetEnd()})
		}
	}
	return ranges.Merge(append(out, rs.prefilled()...))
}

// prefilled returns the ranges of lazy areas filled before the process
// runs: for every thread a window around its stack pointer, its TLS block
// and its rseq area, and the chunks holding the first pages of the
// working set up to prefill bytes (REAP-style: a second cold start finds
// what it touches first already there). The rseq areas must be: the
// kernel writes them as soon as the registration is restored, before the
// handler runs, and a page it writes would be a zero page the handler
// can no longer fill.
func (rs *restorer) prefilled() [][2]uint64 {
	var out [][2]uint64
	clip := func(lo, hi uint64) {
		for _, v := range rs.img.mm.GetVmas() {
			if lazyVMA(v) && lo < v.GetEnd() && hi > v.GetStart() {
				out = append(out, [2]uint64{max(lo, v.GetStart()), min(hi, v.GetEnd())})
			}
		}
	}
	pages := func(lo, hi uint64) { clip(lo&^(linux.PageSize-1), (hi+linux.PageSize-1)&^(linux.PageSize-1)) }
	for _, core := range append([]*criucore.CoreEntry{rs.img.core}, rs.img.threads...) {
		regs := core.GetThreadInfo().GetGpregs()
		sp, fs := regs.GetSp(), regs.GetFsBase()
		pages(sp-min(sp, stackWindow), sp+stackWindow)
		if fs != 0 {
			pages(fs-min(fs, tlsWindow), fs+tlsWindow)
		}
		if e := core.GetThreadCore().GetRseqEntry(); e.GetRseqAbiPointer() != 0 {
			pages(e.GetRseqAbiPointer(), e.GetRseqAbiPointer()+uint64(e.GetRseqAbiSize()))
		}
	}
	seen := map[uint64]bool{}
	var budget uint64
	for _, page := range rs.wset {
		w := page &^ (images.ChunkMaxBytes - 1)
		if seen[w] {
			continue
		}
		if budget+images.ChunkMaxBytes > rs.prefill {
			break
		}
		seen[w] = true
		budget += images.ChunkMaxBytes
		clip(w, w+images.ChunkMaxBytes)
	}
	return ranges.Merge(out)
}

// lazyAreas are the areas the handler serves.
func (rs *restorer) lazyAreas() []uffd.Area {
	var out []uffd.Area
	for _, v := range rs.img.mm.GetVmas() {
		if lazyVMA(v) {
			out = append(out, uffd.Area{Start: v.GetStart(), End: v.GetEnd(), Orig: v.GetStart()})
		}
	}
	return out
}

// registerLazy creates a userfaultfd inside the task and registers the
// lazy areas on it, takes a copy for the handler, and leaves the task's
// own copy at a high descriptor as a guard: as long as the task holds it,
// the kernel never resolves a fault with a zero page, even if our copy is
// closed because crlazy died; the faulting thread waits (killably).
func (rs *restorer) registerLazy() error {
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	ret, err := t.Syscall("userfaultfd", linux.SysUserfaultfd, linux.OCloexec|linux.ONonblock)
	if err != nil {
		return err
	}
	fd := int(ret)
	api := linux.UffdAPIArg(uffdFeatures)
	a, err := t.PutArg(api)
	if err != nil {
		return err
	}
	if _, err := t.Syscall("ioctl UFFDIO_API", linux.SysIoctl, uint64(fd), linux.UffdioAPIRequest, uint64(a)); err != nil {
		return err
	}
	if err := t.ReadMem(a, api); err != nil {
		return err
	}
	if got, _, ok := linux.UffdAPIResult(api); !ok || got&uffdFeatures != uffdFeatures {
		return fmt.Errorf("userfaultfd lacks features %#x (has %#x)", uffdFeatures, got)
	}
	// One registration covers a run of adjacent areas (the kernel takes
	// a range over several mappings): a process with tens of thousands
	// of mappings costs a few calls, not one each.
	areas := rs.lazyAreas()
	for i := 0; i < len(areas); {
		start, end := areas[i].Start, areas[i].End
		for i++; i < len(areas) && areas[i].Start == end; i++ {
			end = areas[i].End
		}
		mark := t.ArgMark()
		reg, err := t.PutArg(linux.UffdRegisterArg(start, end-start, linux.UffdRegisterModeMissing))
		if err != nil {
			return err
		}
		if _, err := t.Syscall("ioctl UFFDIO_REGISTER", linux.SysIoctl, uint64(fd), linux.UffdioRegisterRequest, uint64(reg)); err != nil {
			return fmt.Errorf("register %x-%x: %w", start, end, err)
		}
		t.ReleaseArgs(mark)
	}
	f, err := t.StealFD(fd)
	if err != nil {
		return err
	}
	guard := rs.guardFd()
	if err := t.MoveFD(fd, guard, true); err != nil {
		f.Close()
		return err
	}
	rs.uffd, rs.guard = f, guard
	if !rs.isRoot() {
		return nil
	}
	// Until every page is in, the root dies with us: our parent thread
	// (the one that forked the stub) lives as long as crlazy, and the
	// guard makes faulting threads wait rather than see zeros, so this
	// is how the root ends if crlazy is killed. Only the root: the
	// others' parent is in the tree, so their parent-death signal would
	// not follow crlazy, and they keep their own. removeGuard restores
	// the dumped value.
	_, err = t.Syscall("PR_SET_PDEATHSIG", linux.SysPrctl, linux.PrSetPdeathsig, linux.SIGKILL, 0, 0, 0)
	return err
}

// isRoot reports whether rs is the root of the tree (crlazy's child).
func (rs *restorer) isRoot() bool { return rs.img.pstree.GetPpid() == 0 }

// guardFd picks the guard's descriptor: the highest free one below the
// process's descriptor limit and maxGuardFd, in the descriptor table it
// may share with others (CLONE_FILES), each of which has a guard there.
func (rs *restorer) guardFd() int {
	limit := uint64(maxGuardFd + 1)
	if lims := rs.img.core.GetTc().GetRlimits().GetRlimits(); len(lims) > rlimitNofile {
		limit = min(limit, lims[rlimitNofile].GetCur())
	}
	table := rs.filesOwner
	used := map[int]bool{}
	for _, e := range table.img.fds {
		used[int(e.GetFd())] = true
	}
	fd := int(limit) - 1
	for fd > 0 && (used[fd] || table.guards[fd]) {
		fd--
	}
	if table.guards == nil {
		table.guards = map[int]bool{}
	}
	table.guards[fd] = true
	return fd
}

// storeSource serves the handler from a store.
type storeSource struct{ r *store.Reader }

func (s storeSource) FindChunk(mm uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	return s.r.FindChunk(mm, addr, fn)
}

func (s storeSource) ChunksIn(mm uint32, start, end uint64, fn func(uint64, []byte) error) error {
	return s.r.ChunksIn(mm, start, end, fn)
}

// HasData looks up the pagemap run that holds addr.
func (s storeSource) HasData(mm uint32, addr uint64) (bool, error) {
	var e pagemap.PagemapEntry
	at, found, err := s.r.SubRecordFloor(images.Pagemap, mm, addr, &e)
	if err != nil || !found {
		return false, err
	}
	inRun := addr < at+e.GetNrPages()*images.PageSize
	return inRun && e.GetFlags()&images.PagemapZero == 0, nil
}

// removeGuard closes the guard descriptor in process pid once its pages
// are in (if it is still our userfaultfd there: the process may have
// closed it and reused the number) and gives the process back its own
// parent-death signal. A forked child (pid 0) has neither.
func (lz *lazyState) removeGuard(pid int) {
	g, ok := lz.guards[pid]
	if !ok {
		return
	}
	lz.mu.Lock()
	defer lz.mu.Unlock()
	if st, err := proc.ReadStat(pid); err != nil || st.StartTime != g.start {
		return // gone (and its pid maybe another's): nothing to undo
	}
	suspend, _ := inject.SuspendSeccomp()
	t, err := lz.tr.Seize(pid, suspend)
	if err != nil {
		lz.log.Info("cannot seize the process to remove the guard (gone?)", "pid", pid, "err", err)
		if ee := (*inject.ExitError)(nil); errors.As(err, &ee) {
			if lz.reaped == nil {
				lz.reaped = map[int]linux.WaitStatus{}
			}
			lz.reaped[pid] = ee.Status // for Process.Wait
		}
		return
	}
	defer func() {
		_ = t.Restore()
		_ = t.Detach()
	}()
	if st, err := proc.ReadStat(pid); err != nil || st.StartTime != g.start {
		lz.log.Info("the process is gone; its pid belongs to another now", "pid", pid)
		return
	}
	if err := t.FindSyscallInsn(); err != nil {
		lz.log.Warn("cannot remove the guard descriptor", "pid", pid, "fd", g.fd, "err", err)
		return
	}
	link, err := proc.ReadFdLink(pid, g.fd)
	if err == nil && link == "anon_inode:[userfaultfd]" && sameFile(pid, g.fd, g.uffdIno) {
		if err := t.Close(g.fd); err != nil {
			lz.log.Warn("cannot remove the guard descriptor", "pid", pid, "fd", g.fd, "err", err)
		}
	} else {
		lz.log.Info("the guard descriptor is gone already", "pid", pid, "fd", g.fd)
	}
	if !g.root {
		return
	}
	if _, err := t.Syscall("PR_SET_PDEATHSIG", linux.SysPrctl, linux.PrSetPdeathsig, uint64(g.pdeath), 0, 0, 0); err != nil {
		lz.log.Warn("cannot restore the parent-death signal", "pid", pid, "err", err)
	}
}

func sameFile(pid, fd int, ino uint64) bool {
	st, err := linux.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	return err == nil && st.Ino == ino
}

// loadWorkingSet reads the working set recorded by an earlier restore of
// this store, if any. It is only a prefetch order: a missing, damaged or
// foreign file is ignored with a note.
func loadWorkingSet(dir string, digest uint64, mm uint32, log *slog.Logger) []uint64 {
	path := filepath.Join(dir, images.WorkingSetFile)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var b []byte
	switch {
	case err != nil:
	case st.Size() > images.WorkingSetMaxBytes:
		err = images.ErrBadWorkingSet
	default:
		b, err = os.ReadFile(path)
	}
	var ws *crlazypb.WorkingSet
	if err == nil {
		ws, err = images.DecodeWorkingSet(b)
	}
	if err != nil {
		log.Warn("ignoring the working set", "file", path, "err", err)
		return nil
	}
	if ws.GetStoreDigest() != digest || ws.GetMm() != mm {
		log.Warn("ignoring a working set recorded on another store", "file", path)
		return nil
	}
	return ws.GetPages()
}

// saveWorkingSet writes the recorded first-fault order beside the store.
func saveWorkingSet(dir string, digest uint64, mm uint32, pages []uint64) error {
	b, err := images.EncodeWorkingSet(&crlazypb.WorkingSet{
		Version: images.WorkingSetVersion, StoreDigest: digest, Mm: mm, Pages: pages,
		RecordedUnixNano: time.Now().UnixNano(),
	})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, images.WorkingSetFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
