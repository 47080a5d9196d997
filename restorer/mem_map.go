package restorer

import (
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
)

// mapping returns crlazy's description of the object an area maps
// (shared memory, a memfd, a deleted file), opened with the area's
// access mode, or nil for areas mapped otherwise: anonymous memory, files
// opened by path, and shared anonymous memory of an image that has no
// object for it (an older crlazy's, or imported from criu), which gets a
// copy of its own filled from the process's pages, as before.
func (m *memObjects) mapping(v *vma.VmaEntry) (*os.File, error) {
	if m == nil {
		return nil, nil
	}
	st, id := v.GetStatus(), uint32(v.GetShmid())
	flags := int(v.GetFdflags()) & linux.OAccmode
	switch {
	case st&images.VmaAnonShared != 0:
		if o := m.shmem[id]; o != nil {
			return o.f, nil
		}
		return nil, nil
	case st&images.VmaAreaMemfd != 0:
		o := m.memfds[m.files[id].GetMemfd().GetInodeId()]
		if m.files[id].GetMemfd() == nil || o == nil {
			return nil, badImage("memfd mapping of file %d, which is no memfd", id)
		}
		return m.view(o, o.f, flags)
	case st&(images.VmaFilePrivate|images.VmaFileShared) != 0 && m.remapped(id):
		g := m.ghosts[m.remaps[id]]
		return m.view(g, g.f, flags)
	}
	return nil, nil
}

// view returns a description of an object (base, read-write) opened with
// the access mode flags, made once per restore.
func (m *memObjects) view(obj any, base *os.File, flags int) (*os.File, error) {
	if g, ok := obj.(*ghostObj); flags == linux.ORdwr && (!ok || !g.readOnly) {
		return base, nil
	}
	k := viewKey{obj, flags}
	if f := m.views[k]; f != nil {
		return f, nil
	}
	f, err := linux.Reopen(base, flags)
	if err != nil {
		return nil, err
	}
	m.views[k] = f
	return f, nil
}

// mapFds are the descriptors a task holds while its areas are mapped:
// files it opened by path (by file id and flags) and crlazy's objects
// installed into it; closed once every area is mapped.
type mapFds struct {
	byFile map[fileKey]int
	byObj  map[*os.File]int
}

func newMapFds() *mapFds { return &mapFds{byFile: map[fileKey]int{}, byObj: map[*os.File]int{}} }

// install gives the task a descriptor of f, at the lowest free number
// (the task may share its table with a process whose descriptors are in
// place already: CLONE_FILES), once.
func (m *mapFds) install(t *inject.Task, f *os.File) (int, error) {
	if fd, ok := m.byObj[f]; ok {
		return fd, nil
	}
	ours, err := linux.RawFd(f)
	if err != nil {
		return -1, err
	}
	pidfd, err := t.Syscall("pidfd_open", linux.SysPidfdOpen, uint64(os.Getpid()), 0)
	if err != nil {
		return -1, err
	}
	got, err := t.Syscall("pidfd_getfd", linux.SysPidfdGetfd, pidfd, uint64(ours), 0)
	if cerr := t.Close(int(pidfd)); err == nil {
		err = cerr
	}
	if err != nil {
		return -1, err
	}
	m.byObj[f] = int(got)
	return int(got), nil
}

func (m *mapFds) close(t *inject.Task) {
	for _, fd := range m.byFile {
		_ = t.Close(fd)
	}
	for _, fd := range m.byObj {
		_ = t.Close(fd)
	}
}

// objectRanges are the areas whose pages come from a memory object, not
// from the process's own pages, sorted.
func (rs *restorer) objectRanges() [][2]uint64 {
	var out [][2]uint64
	for _, v := range rs.img.mm.GetVmas() {
		if restorable(v) && rs.files.mem.objectOf(v) != nil {
			out = append(out, [2]uint64{v.GetStart(), v.GetEnd()})
		}
	}
	return out
}

// objectOf is object for a possibly absent table.
func (m *memObjects) objectOf(v *vma.VmaEntry) *memObj {
	if m == nil {
		return nil
	}
	return m.object(v)
}
