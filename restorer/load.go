package restorer

import (
	"errors"
	"fmt"
	"sort"

	"github.com/checkpoint-restore/go-criu/v8/crit"
	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	fsimg "github.com/checkpoint-restore/go-criu/v8/crit/images/fs"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/seccomp"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// ErrBadImage is returned for a store whose records are inconsistent.
var ErrBadImage = errors.New("inconsistent image")

// image is one process as read back from a store (pages excluded).
type image struct {
	pid     int
	pstree  *pstree.PstreeEntry
	core    *criucore.CoreEntry   // the thread group leader's
	threads []*criucore.CoreEntry // the other threads', in pstree order
	mm      *mm.MmEntry
	fs      *fsimg.FsEntry               // nil when shared with another process
	files   map[uint32]*fdinfo.FileEntry // tree-wide
	fds     []*fdinfo.FdinfoEntry        // sorted by fd; nil when shared
	pagemap []*pagemap.PagemapEntry      // in address order
	mmID    uint32
	filesID uint32
	fsID    uint32
	zombie  bool
	seccomp *seccomp.SeccompEntry // nil when no thread has filters
}

// ownsFiles reports whether the process restores the descriptor table it
// may share with others (CLONE_FILES): the first one that has it does.
func (img *image) ownsFiles() bool { return img.filesID == uint32(img.pid) }

// ownsFs is the same for cwd, root and umask (CLONE_FS).
func (img *image) ownsFs() bool { return img.fsID == uint32(img.pid) }

func badImage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadImage, fmt.Sprintf(format, args...))
}

// maxProcesses bounds the processes a store may hold.
const maxProcesses = 1 << 15

// load reads every process of the store, parents before children (the
// root first).
func load(r *store.Reader) ([]*image, error) {
	var inv inventory.InventoryEntry
	if err := r.Record(images.Inventory, 0, &inv); err != nil {
		return nil, err
	}
	pids, err := r.IDs(images.Pstree)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pids) == 0:
		return nil, badImage("no process in the store")
	case len(pids) > maxProcesses:
		return nil, badImage("%d processes, at most %d", len(pids), maxProcesses)
	}
	files := map[uint32]*fdinfo.FileEntry{}
	if err := loadFiles(r, files); err != nil {
		return nil, err
	}
	var imgs []*image
	for _, pid := range pids {
		img, err := loadProcess(r, pid, files)
		if err != nil {
			return nil, fmt.Errorf("pid %d: %w", pid, err)
		}
		imgs = append(imgs, img)
	}
	return treeOrder(imgs)
}

func loadProcess(r *store.Reader, pid uint32, files map[uint32]*fdinfo.FileEntry) (*image, error) {
	img := &image{pid: int(pid), pstree: &pstree.PstreeEntry{}, core: &criucore.CoreEntry{}, files: files}
	ids := &criucore.TaskKobjIdsEntry{}
	if err := r.Record(images.Pstree, pid, img.pstree); err != nil {
		return nil, err
	}
	if err := r.Record(images.Ids, pid, ids); err != nil {
		return nil, err
	}
	tids := img.pstree.GetThreads()
	if len(tids) == 0 || tids[0] != pid {
		return nil, badImage("pstree of %d lists threads %v", pid, tids)
	}
	for i, tid := range tids {
		core := &criucore.CoreEntry{}
		if err := r.Record(images.Core, tid, core); err != nil {
			return nil, err
		}
		if i == 0 {
			img.core = core
		} else {
			img.threads = append(img.threads, core)
		}
	}
	if img.core.GetTc().GetTaskState() == uint32(crit.TaskZombie) {
		img.zombie = true
		return img, nil
	}
	img.mmID, img.filesID, img.fsID = ids.GetVmId(), ids.GetFilesId(), ids.GetFsId()
	img.mm = &mm.MmEntry{}
	if err := r.Record(images.Mm, img.mmID, img.mm); err != nil {
		return nil, err
	}
	if img.ownsFs() {
		img.fs = &fsimg.FsEntry{}
		if err := r.Record(images.Fs, img.fsID, img.fs); err != nil {
			return nil, err
		}
	}
	if img.ownsFiles() {
		if err := loadFds(r, img); err != nil {
			return nil, err
		}
	}
	sc := &seccomp.SeccompEntry{}
	switch err := r.Record(images.Seccomp, pid, sc); {
	case err == nil:
		img.seccomp = sc
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return img, img.validate()
}

// treeOrder sorts processes so that each comes after its parent, and
// checks there is exactly one root and every parent is in the store.
func treeOrder(imgs []*image) ([]*image, error) {
	byPid := map[int]*image{}
	for _, img := range imgs {
		byPid[img.pid] = img
	}
	kids := map[int][]*image{}
	var roots []*image
	for _, img := range imgs {
		ppid := int(img.pstree.GetPpid())
		switch {
		case ppid == 0:
			roots = append(roots, img)
		case byPid[ppid] == nil:
			return nil, badImage("pid %d has parent %d, which is not in the store", img.pid, ppid)
		default:
			kids[ppid] = append(kids[ppid], img)
		}
	}
	if len(roots) != 1 {
		return nil, badImage("%d root processes", len(roots))
	}
	if roots[0].zombie {
		return nil, badImage("the root process %d is a zombie", roots[0].pid)
	}
	out := roots
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i].pid]...)
	}
	if len(out) != len(imgs) {
		return nil, badImage("the processes do not form one tree")
	}
	return out, nil
}

func loadFiles(r *store.Reader, files map[uint32]*fdinfo.FileEntry) error {
	ids, err := r.IDs(images.Files)
	if err != nil {
		return err
	}
	for _, id := range ids {
		f := &fdinfo.FileEntry{}
		if err := r.Record(images.Files, id, f); err != nil {
			return err
		}
		files[id] = f
	}
	return nil
}

func loadFds(r *store.Reader, img *image) error {
	err := r.SubRecords(images.Fdinfo, img.filesID, func(sub uint64, raw []byte) error {
		e := &fdinfo.FdinfoEntry{}
		if err := images.UnmarshalRecord(raw, e); err != nil {
			return fmt.Errorf("fdinfo %d: %w", sub, err)
		}
		img.fds = append(img.fds, e)
		return nil
	})
	sort.Slice(img.fds, func(i, j int) bool { return img.fds[i].GetFd() < img.fds[j].GetFd() })
	return err
}

// loadPagemap reads the runs of saved pages that overlap ranges (sorted,
// not overlapping), in address order.
func loadPagemap(r *store.Reader, mm uint32, ranges [][2]uint64) ([]*pagemap.PagemapEntry, error) {
	var out []*pagemap.PagemapEntry
	add := func(sub uint64, e *pagemap.PagemapEntry) error {
		if e.GetVaddr() != sub || e.GetNrPages() == 0 || e.GetNrPages() > maxUserAddr/images.PageSize {
			return badImage("pagemap entry %#x: vaddr %#x, %d pages", sub, e.GetVaddr(), e.GetNrPages())
		}
		if n := len(out); n == 0 || out[n-1].GetVaddr() < sub {
			out = append(out, e)
		}
		return nil
	}
	for _, rg := range ranges {
		// A run that starts before the range may reach into it.
		var first pagemap.PagemapEntry
		at, found, err := r.SubRecordFloor(images.Pagemap, mm, rg[0], &first)
		if err != nil {
			return nil, err
		}
		if found && at+first.GetNrPages()*images.PageSize > rg[0] {
			if err := add(at, &first); err != nil {
				return nil, err
			}
		}
		err = r.SubRecordsIn(images.Pagemap, mm, rg[0], rg[1], func(sub uint64, raw []byte) error {
			e := &pagemap.PagemapEntry{}
			if err := images.UnmarshalRecord(raw, e); err != nil {
				return fmt.Errorf("pagemap %#x: %w", sub, err)
			}
			return add(sub, e)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// validate checks cross-references between records, so that a corrupt or
// hand-edited store fails here rather than halfway through a restore.
func (img *image) validate() error {
	if int(img.pstree.GetPid()) != img.pid {
		return badImage("pstree record %d holds pid %d", img.pid, img.pstree.GetPid())
	}
	if img.core.GetMtype() != criucore.CoreEntry_X86_64 || img.core.GetThreadInfo() == nil {
		return badImage("core of pid %d is not an x86_64 core", img.pid)
	}
	if img.core.GetThreadInfo().GetGpregs() == nil || img.core.GetTc() == nil || img.core.GetThreadCore() == nil {
		return badImage("core of pid %d lacks registers or task state", img.pid)
	}
	if _, ok := img.files[img.mm.GetExeFileId()]; !ok {
		return badImage("exe file id %d missing", img.mm.GetExeFileId())
	}
	if img.fs != nil {
		for _, id := range []uint32{img.fs.GetCwdId(), img.fs.GetRootId()} {
			if _, ok := img.files[id]; !ok {
				return badImage("cwd/root file id %d missing", id)
			}
		}
	}
	for i, c := range img.threads {
		if c.GetThreadInfo().GetGpregs() == nil || c.GetThreadCore() == nil {
			return badImage("core of thread %d lacks registers or thread state", img.pstree.GetThreads()[i+1])
		}
	}
	for _, fd := range img.fds {
		if _, ok := img.files[fd.GetId()]; !ok {
			return badImage("fd %d refers to missing file id %d", fd.GetFd(), fd.GetId())
		}
	}
	return img.validateVMAs()
}

func (img *image) validateVMAs() error {
	var prevEnd uint64
	for _, v := range img.mm.GetVmas() {
		s, e := v.GetStart(), v.GetEnd()
		if s >= e || s%images.PageSize != 0 || e%images.PageSize != 0 || s < prevEnd {
			return badImage("vma %x-%x is malformed or out of order", s, e)
		}
		prevEnd = e
		if v.GetStatus()&(images.VmaFilePrivate|images.VmaFileShared) != 0 {
			if _, ok := img.files[uint32(v.GetShmid())]; !ok {
				return badImage("vma %x-%x maps missing file id %d", s, e, v.GetShmid())
			}
		}
	}
	return nil
}
