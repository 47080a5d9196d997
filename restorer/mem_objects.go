package restorer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	ghostfile "github.com/checkpoint-restore/go-criu/v8/crit/images/ghost-file"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/memfd"
	remapfpath "github.com/checkpoint-restore/go-criu/v8/crit/images/remap-file-path"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// memObjects are the objects of a restore whose contents crlazy rebuilds
// itself, each once for the whole tree: shared anonymous memory and memfds
// (memory objects), and deleted files (ghosts). They are made and filled
// in crlazy before any process is rebuilt (build), then mapped into every
// process that mapped them (mapping) and handed to every process that had
// them open (as treeFiles.objs: one open file description per dumped
// one). Used on one goroutine only; close releases crlazy's copies.
type memObjects struct {
	shmem  map[uint32]*memObj   // anonymous shared memory, by shmid
	memfds map[uint32]*memObj   // by inode id
	ghosts map[uint32]*ghostObj // by ghost id
	remaps map[uint32]uint32    // REG file id -> ghost id
	linked []string             // links made by dump --link-remap, removed once restored
	views  map[viewKey]*os.File // descriptions mappings use
	files  map[uint32]*fdinfo.FileEntry
}

// memObj is one memory object: anonymous (memfd nil) or a memfd.
type memObj struct {
	id    uint32
	size  uint64
	memfd *memfd.MemfdInodeEntry
	f     *os.File // read-write, once built
	// lateSeals are added once the processes are rebuilt (sealLate).
	lateSeals int
}

// ghostObj is one deleted file.
type ghostObj struct {
	id    uint32
	name  string // the path it had
	entry *ghostfile.GhostFileEntry
	f     *os.File // read-write, unlinked, once built
	// readOnly: f was reopened read-only, to serve as an executable.
	readOnly bool
}

// viewKey names a description of an object opened with some access mode.
type viewKey struct {
	obj   any // *memObj or *ghostObj
	flags int
}

// loadMemObjects reads and checks the records of the memory objects,
// memfds and deleted files of the image.
func loadMemObjects(r *store.Reader, files map[uint32]*fdinfo.FileEntry) (*memObjects, error) {
	m := &memObjects{shmem: map[uint32]*memObj{}, memfds: map[uint32]*memObj{}, ghosts: map[uint32]*ghostObj{},
		remaps: map[uint32]uint32{}, views: map[viewKey]*os.File{}, files: files}
	for _, load := range []func(*store.Reader) error{m.loadShmem, m.loadMemfds, m.loadGhosts, m.loadRemaps} {
		if err := load(r); err != nil {
			return nil, err
		}
	}
	for id, f := range files {
		if f.GetType() != fdinfo.FdTypes_MEMFD {
			continue
		}
		if f.GetMemfd() == nil || m.memfds[f.GetMemfd().GetInodeId()] == nil {
			return nil, badImage("memfd file %d without its record or inode", id)
		}
	}
	return m, nil
}

func (m *memObjects) loadShmem(r *store.Reader) error {
	return eachRecord(r, images.Shmem, func() *wrapperspb.UInt64Value { return &wrapperspb.UInt64Value{} },
		func(id uint32, e *wrapperspb.UInt64Value) error {
			if err := checkObjectSize(e.GetValue()); err != nil {
				return fmt.Errorf("shared memory %d: %w", id, err)
			}
			m.shmem[id] = &memObj{id: id, size: e.GetValue()}
			return nil
		})
}

func (m *memObjects) loadMemfds(r *store.Reader) error {
	return eachRecord(r, images.MemfdInode, func() *memfd.MemfdInodeEntry { return &memfd.MemfdInodeEntry{} },
		func(id uint32, e *memfd.MemfdInodeEntry) error {
			switch {
			case e.GetSize() > images.ShmemSizeMax:
				return badImage("memfd %d: %d bytes, at most %d", id, e.GetSize(), uint64(images.ShmemSizeMax))
			case len(e.GetName()) > linux.MemfdNameMax:
				return badImage("memfd %d: name of %d bytes", id, len(e.GetName()))
			case e.GetSeals()&^linux.FSealAll != 0:
				return badImage("memfd %d: unknown seals %#x", id, e.GetSeals())
			case e.GetHugetlbFlag() != 0:
				return fmt.Errorf("memfd %d: %w: memfds on huge pages", id, ErrUnsupported)
			}
			m.memfds[id] = &memObj{id: id, size: e.GetSize(), memfd: e}
			return nil
		})
}

func (m *memObjects) loadGhosts(r *store.Reader) error {
	return eachRecord(r, images.GhostFile, func() *ghostfile.GhostFileEntry { return &ghostfile.GhostFileEntry{} },
		func(id uint32, e *ghostfile.GhostFileEntry) error {
			dir := e.GetMode()&linux.SIfmt == linux.SIfdir && e.GetSize() == 0 // a deleted cwd
			if e.GetSize() > images.GhostDataMax || (e.GetMode()&linux.SIfmt != linux.SIfreg && !dir) || !e.GetChunks() {
				return badImage("deleted file %d: mode %#o, %d bytes (at most %d)", id, e.GetMode(), e.GetSize(), images.GhostDataMax)
			}
			m.ghosts[id] = &ghostObj{id: id, entry: e}
			return nil
		})
}

// removeLinks removes the links --link-remap made at dump, once the tree
// has opened its files through them: the files are again linked only
// where they were.
func (m *memObjects) removeLinks(log *slog.Logger) {
	if m == nil {
		return
	}
	for _, name := range m.linked {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cannot remove a link made by dump --link-remap", "path", name, "err", err)
		}
	}
	m.linked = nil
}

func (m *memObjects) loadRemaps(r *store.Reader) error {
	return eachRecord(r, images.RemapFpath, func() *remapfpath.RemapFilePathEntry { return &remapfpath.RemapFilePathEntry{} },
		func(id uint32, e *remapfpath.RemapFilePathEntry) error {
			reg := m.files[id].GetReg()
			if e.GetRemapType() == remapfpath.RemapType_LINKED {
				// A link --link-remap made at dump: opened by its
				// name, then removed (removeLinks).
				if e.GetOrigId() != id || reg == nil {
					return badImage("link remap of file %d: no such file", id)
				}
				m.linked = append(m.linked, reg.GetName())
				return nil
			}
			g := m.ghosts[e.GetRemapId()]
			switch {
			case e.GetOrigId() != id || reg == nil || g == nil:
				return badImage("remap of file %d to %d: no such file or deleted file", id, e.GetRemapId())
			case e.GetRemapType() != remapfpath.RemapType_GHOST:
				return fmt.Errorf("file %s: %w: remap type %v", reg.GetName(), ErrUnsupported, e.GetRemapType())
			}
			m.remaps[id] = g.id
			g.name = reg.GetName()
			return nil
		})
}

// eachRecord reads every record of kind k into a message from newMsg and
// calls fn with it.
func eachRecord[M proto.Message](r *store.Reader, k images.Kind, newMsg func() M, fn func(uint32, M) error) error {
	ids, err := r.IDs(k)
	if err != nil {
		return err
	}
	for _, id := range ids {
		e := newMsg()
		if err := r.Record(k, id, e); err != nil {
			return fmt.Errorf("%s %d: %w", k, id, err)
		}
		if err := fn(id, e); err != nil {
			return err
		}
	}
	return nil
}

func checkObjectSize(size uint64) error {
	if size == 0 || size%images.PageSize != 0 || size > images.ShmemSizeMax {
		return badImage("%d bytes (page-aligned, at most %d)", size, uint64(images.ShmemSizeMax))
	}
	return nil
}

// remapped reports whether the REG file id is a deleted file, which is
// not reopened by its path.
func (m *memObjects) remapped(id uint32) bool {
	if m == nil {
		return false
	}
	_, ok := m.remaps[id]
	return ok
}

// object returns the memory object a mapping shares its pages with
// (shared anonymous memory, a shared mapping of a memfd), or nil.
func (m *memObjects) object(v *vma.VmaEntry) *memObj {
	st := v.GetStatus()
	switch {
	case st&images.VmaAnonShared != 0:
		return m.shmem[uint32(v.GetShmid())]
	case st&images.VmaAreaMemfd != 0 && st&images.VmaFileShared != 0:
		return m.memfds[m.files[uint32(v.GetShmid())].GetMemfd().GetInodeId()]
	}
	return nil
}

// close releases crlazy's copies of every object.
func (m *memObjects) close() {
	if m == nil {
		return
	}
	for _, f := range m.views {
		f.Close()
	}
	for _, objs := range []map[uint32]*memObj{m.shmem, m.memfds} {
		for _, o := range objs {
			if o.f != nil {
				o.f.Close()
			}
		}
	}
	for _, g := range m.ghosts {
		if g.f != nil {
			g.f.Close()
		}
	}
	m.views = nil
}
