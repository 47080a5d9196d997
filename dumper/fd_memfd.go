package dumper

import (
	"fmt"
	"os"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/memfd"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// memfdPrefix starts the name of a memfd in /proc (links, maps).
const memfdPrefix = "/memfd:"

// memfdInfo is what a memfd's inode record holds besides its size and
// ids.
type memfdInfo = memfd.MemfdInodeEntry

// memfdMapKey names the MEMFD file entry mappings of a memfd with the
// same open flags share (like byIdentity for files).
type memfdMapKey struct {
	obj   uint32
	flags uint32
}

// newMemfdInfo reads a memfd's name, owner, mode and seals through f, an
// open description of it, and path, the /proc link f was opened by.
func newMemfdInfo(f *os.File, path string, st linux.FileAttrs) (*memfdInfo, error) {
	if st.FsType == linux.HugetlbfsMagic {
		return nil, unsupported("memfds on huge pages (MFD_HUGETLB) are not supported", "%s", path)
	}
	seals, err := linux.Seals(f)
	if err != nil {
		return nil, err
	}
	link, err := os.Readlink(path)
	if err != nil {
		return nil, err
	}
	name, ok := strings.CutPrefix(strings.TrimSuffix(link, " (deleted)"), memfdPrefix)
	if !ok || len(name) > linux.MemfdNameMax {
		return nil, fmt.Errorf("%s: not a memfd name: %q", path, link)
	}
	return &memfdInfo{
		Name: proto.String(name), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
		Mode: proto.Uint32(st.Mode), Seals: proto.Uint32(uint32(seals)),
	}, nil
}

// memfdEntry records a memfd descriptor: its description (flags, offset)
// and, the first time the memfd is seen, its inode.
func (c *collector) memfdEntry(ft *fileTable, o openFd) (*fdinfo.FileEntry, error) {
	obj, err := ft.mem.object(fmt.Sprintf("/proc/%d/fd/%d", c.pid, o.fd), true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	return memfdFile(obj.id, o.statusFlags(), o.info.Pos), nil
}

func memfdFile(inode, flags uint32, pos uint64) *fdinfo.FileEntry {
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_MEMFD.Enum(), Memfd: &memfd.MemfdFileEntry{
		Flags: proto.Uint32(flags), Pos: proto.Uint64(pos), Fown: noOwner(), InodeId: proto.Uint32(inode),
	}}
}

// memfdVMA records a mapping of a memfd: by the file entry of a
// description (shmid, opened with fdflags) of the memfd's inode. A shared
// mapping saves the object's pages it is the first to cover; a private one
// its copied-on-write pages (the memfd's own pages are the object's).
func (c *collector) memfdVMA(m proc.Mapping, e *vma.VmaEntry, ft *fileTable) (uint32, area, error) {
	obj, err := ft.mem.object(mapFilesPath(c.pid, m), true)
	if err != nil {
		return 0, area{}, fmt.Errorf("%s: %w", vmaWhat(m), err)
	}
	openFlags := uint32(linux.ORdonly)
	if m.Shared && m.VmFlags.Has(proc.VmMayWrite) {
		openFlags = linux.ORdwr
	}
	key := memfdMapKey{obj.id, openFlags}
	id, ok := ft.mem.memfdMap[key]
	if !ok {
		id = ft.addEntry(memfdFile(obj.id, openFlags, 0))
		ft.mem.memfdMap[key] = id
	}
	e.Shmid = proto.Uint64(uint64(id))
	e.Fdflags = proto.Uint32(openFlags)
	const status = images.VmaAreaRegular | images.VmaAreaMemfd
	if m.Shared {
		return status | images.VmaFileShared, sharedArea(m, obj), nil
	}
	return status | images.VmaFilePrivate, area{mode: pagesFilePrivate}, nil
}

// writeMemfd stores the inode record of a memfd and the part of its
// contents no mapping of the tree saves.
func (o *memObject) writeMemfd(w *store.Writer) error {
	e := proto.Clone(o.memfd).(*memfdInfo)
	e.Size = proto.Uint64(o.size)
	e.Shmid = proto.Uint32(o.id)
	e.InodeId = proto.Uint64(uint64(o.id))
	if err := w.PutRecord(images.MemfdInode, o.id, e); err != nil {
		return err
	}
	rest := o.unclaimed()
	var total uint64
	for _, r := range rest {
		total += r[1] - r[0]
	}
	if total > images.MemfdDataMax {
		return unsupported(fmt.Sprintf("memfd holds %d bytes outside any mapping, at most %d are saved", total, images.MemfdDataMax),
			"memfd %q", e.GetName())
	}
	f, err := os.Open(o.open)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, r := range rest {
		if err := putPieces(w, f, images.MemfdBytes, o.id, r[0], r[1]-r[0], images.MemfdBytesMax); err != nil {
			return err
		}
	}
	return nil
}

// mapFilesPath is the /proc link to the file a mapping maps.
func mapFilesPath(pid int, m proc.Mapping) string {
	return fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, m.Start, m.End)
}

// sharedArea plans the pages a shared mapping of obj saves: those it is
// the first to cover (claim), as addresses in the mapping.
func sharedArea(m proc.Mapping, obj *memObject) area {
	a := area{mode: pagesShared}
	for _, r := range obj.claim(m.Offset, m.Len()) {
		a.ranges = append(a.ranges, [2]uint64{m.Start + r[0] - m.Offset, m.Start + r[1] - m.Offset})
	}
	return a
}
