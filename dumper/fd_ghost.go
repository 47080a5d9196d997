package dumper

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	ghostfile "github.com/checkpoint-restore/go-criu/v8/crit/images/ghost-file"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/regfile"
	remapfpath "github.com/checkpoint-restore/go-criu/v8/crit/images/remap-file-path"
	criutime "github.com/checkpoint-restore/go-criu/v8/crit/images/time"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// DefaultGhostLimit is the largest deleted file whose contents a dump
// saves unless told otherwise (criu's --ghost-limit default).
const DefaultGhostLimit = 1 << 20

// deletedSuffix ends the /proc name of a file that was unlinked.
const deletedSuffix = " (deleted)"

// ghostTable holds the deleted files ("ghost" files, as criu calls them)
// the tree still has open or mapped: each is saved once, its contents
// included, and restored as a new unlinked file in the same directory.
type ghostTable struct {
	limit uint64 // the largest saved; 0: DefaultGhostLimit; at most images.GhostDataMax
	// linkRemap: a file unlinked from its path but linked elsewhere is
	// linked again beside its old name (criu's --link-remap); linked
	// holds those links, which the restore removes (and a failed dump).
	linkRemap  bool
	linked     map[[2]uint64]string
	linkNames  map[string]bool                // the names in linked
	linkedRegs map[*regfile.RegFileEntry]bool // the files named by such a link
	byInode    map[[2]uint64]*ghost
	list       []*ghost // in id order
	// remaps: the REG entries (descriptions, mappings) of each ghost.
	remaps map[*regfile.RegFileEntry]uint32
	// mapIDs: the file id of the REG entry mappings of a ghost use.
	mapIDs map[uint32]uint32
}

// ghost is one deleted file.
type ghost struct {
	id    uint32
	name  string // where it was
	open  string // a /proc link crlazy reads it through
	st    linux.FileAttrs
	data  [][2]uint64
	entry *ghostfile.GhostFileEntry
}

func newGhostTable() ghostTable {
	return ghostTable{byInode: map[[2]uint64]*ghost{}, remaps: map[*regfile.RegFileEntry]uint32{},
		mapIDs: map[uint32]uint32{}}
}

// lookup tells what a file whose /proc name ends in " (deleted)" is: a
// live file whose name really ends so (live, name with the suffix), or a
// deleted one (its ghost). procPath is a /proc link to it.
func (gt *ghostTable) lookup(procPath, what string) (g *ghost, live string, err error) {
	link, err := os.Readlink(procPath)
	if err != nil {
		return nil, "", err
	}
	if st, err := linux.Stat(link); err == nil && sameInode(procPath, st) {
		return nil, link, nil
	}
	f, err := os.Open(procPath)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	st, err := linux.StatFile(f)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	if g := gt.byInode[[2]uint64{st.Dev, st.Ino}]; g != nil {
		return g, "", nil
	}
	if st.Nlink > 0 && gt.linkRemap && st.Mode&linux.SIfmt == linux.SIfreg {
		name, err := gt.linkBack(procPath, strings.TrimSuffix(link, deletedSuffix), st)
		return nil, name, wrapWhat(what, err)
	}
	if err := gt.check(st, what); err != nil {
		return nil, "", err
	}
	g = &ghost{id: uint32(len(gt.list) + 1), name: strings.TrimSuffix(link, deletedSuffix), open: procPath, st: st}
	if st.Mode&linux.SIfmt == linux.SIfdir {
		// A deleted working directory: made again empty (it was).
		g.st.Size = 0
		gt.byInode[[2]uint64{st.Dev, st.Ino}] = g
		gt.list = append(gt.list, g)
		return g, "", nil
	}
	if err := linux.DataRanges(f, st.Size, func(off, n int64) error {
		g.data = append(g.data, [2]uint64{uint64(off), uint64(off + n)})
		return nil
	}); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	gt.byInode[[2]uint64{st.Dev, st.Ino}] = g
	gt.list = append(gt.list, g)
	return g, "", nil
}

// linkRemapPrefix starts the name of a link --link-remap makes.
const linkRemapPrefix = ".crlazy-link-remap."

// linkBack links a file deleted from old but linked elsewhere under a new
// name in old's directory, once per file, and returns that name: the
// store refers to the file by it, and the restore opens it there and
// removes it.
func (gt *ghostTable) linkBack(procPath, old string, st linux.FileAttrs) (string, error) {
	key := [2]uint64{st.Dev, st.Ino}
	if name, ok := gt.linked[key]; ok {
		return name, nil
	}
	name := filepath.Join(filepath.Dir(old), fmt.Sprintf("%s%d", linkRemapPrefix, st.Ino))
	if err := linux.LinkProc(procPath, name); err != nil {
		return "", fmt.Errorf("--link-remap: %w", err)
	}
	if gt.linked == nil {
		gt.linked = map[[2]uint64]string{}
	}
	gt.linked[key] = name
	if gt.linkNames == nil {
		gt.linkNames = map[string]bool{}
	}
	gt.linkNames[name] = true
	return name, nil
}

// writeLinked marks the files the store names by a link of linkBack
// (LINKED remaps of themselves), so that the restore removes the links.
func (gt *ghostTable) writeLinked(w *store.Writer) error {
	var ids []uint32
	for reg := range gt.linkedRegs {
		ids = append(ids, reg.GetId())
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		e := &remapfpath.RemapFilePathEntry{OrigId: proto.Uint32(id), RemapId: proto.Uint32(0),
			RemapType: remapfpath.RemapType_LINKED.Enum()}
		if err := w.PutRecord(images.RemapFpath, id, e); err != nil {
			return err
		}
	}
	return nil
}

// markLinked notes that reg names its file by a link of linkBack.
func (gt *ghostTable) markLinked(reg *regfile.RegFileEntry) {
	if reg == nil || !gt.linkNames[reg.GetName()] {
		return
	}
	if gt.linkedRegs == nil {
		gt.linkedRegs = map[*regfile.RegFileEntry]bool{}
	}
	gt.linkedRegs[reg] = true
}

// unlinkRemaps removes the links linkBack made (a failed dump).
func (gt *ghostTable) unlinkRemaps() {
	for _, name := range gt.linked {
		_ = os.Remove(name)
	}
}

func sameInode(path string, st linux.StatInfo) bool {
	o, err := linux.Stat(path)
	return err == nil && o.Dev == st.Dev && o.Ino == st.Ino
}

// check refuses the deleted files crlazy cannot save.
func (gt *ghostTable) check(st linux.FileAttrs, what string) error {
	limit := min(cmp.Or(gt.limit, DefaultGhostLimit), images.GhostDataMax)
	switch {
	case st.Mode&linux.SIfmt == linux.SIfdir && st.Nlink == 0:
		return nil // a deleted directory (a cwd): nothing to save but its attributes
	case st.Mode&linux.SIfmt != linux.SIfreg:
		return unsupported(fmt.Sprintf("a deleted file of type %#o cannot be restored", st.Mode&linux.SIfmt), "%s", what)
	case st.Nlink > 0:
		return unsupported("the file was unlinked from this path but has other links; dump with --link-remap to link it again beside its old name until the restore", "%s", what)
	case uint64(st.Size) > limit:
		return unsupported(fmt.Sprintf("the deleted file holds %d bytes, more than the ghost limit of %d (raise it with --ghost-limit)", st.Size, limit), "%s", what)
	}
	return nil
}

// ghostEntry records a descriptor of a file whose name ends in
// " (deleted)": a ghost, or a live file so named.
func (c *collector) ghostEntry(ft *fileTable, o openFd) (*fdinfo.FileEntry, error) {
	g, live, err := ft.mem.ghosts.lookup(fmt.Sprintf("/proc/%d/fd/%d", c.pid, o.fd), o.what)
	if err != nil {
		return nil, err
	}
	name := live
	if g != nil {
		name = g.name
	}
	reg := regEntry(name, o.st, o.statusFlags(), o.info.Pos)
	if g != nil {
		ft.mem.ghosts.remaps[reg] = g.id
	}
	ft.mem.ghosts.markLinked(reg)
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_REG.Enum(), Reg: reg}, nil
}

// deletedVMA returns the file id a mapping of a file whose name ends in
// " (deleted)" refers to.
func (c *collector) deletedVMA(m proc.Mapping, st linux.StatInfo, ft *fileTable) (uint32, error) {
	return deletedMapped(mapFilesPath(c.pid, m), vmaWhat(m), st, ft)
}

// deletedMapped returns the file id of a file whose name ends in
// " (deleted)", mapped or used as the executable, known by the /proc link
// procPath: one read-only entry per ghost, shared by all its users.
func deletedMapped(procPath, what string, st linux.StatInfo, ft *fileTable) (uint32, error) {
	gt := &ft.mem.ghosts
	g, live, err := gt.lookup(procPath, what)
	if err != nil {
		return 0, err
	}
	if g == nil {
		id := ft.byIdentity(live, st, linux.ORdonly)
		gt.markLinked(ft.entries[id-1].GetReg())
		return id, nil
	}
	if id, ok := gt.mapIDs[g.id]; ok {
		return id, nil
	}
	reg := regEntry(g.name, st, linux.ORdonly, 0)
	id := ft.add(reg)
	gt.remaps[reg] = g.id
	gt.mapIDs[g.id] = id
	return id, nil
}

// write stores every ghost with its contents, and which file entries
// refer to it.
func (gt *ghostTable) write(w *store.Writer) error {
	for _, g := range gt.list {
		if err := g.write(w); err != nil {
			return fmt.Errorf("deleted file %s: %w", g.name, err)
		}
	}
	var regs []*regfile.RegFileEntry
	for reg := range gt.remaps {
		regs = append(regs, reg)
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].GetId() < regs[j].GetId() })
	if err := gt.writeLinked(w); err != nil {
		return err
	}
	for _, reg := range regs {
		e := &remapfpath.RemapFilePathEntry{OrigId: reg.Id, RemapId: proto.Uint32(gt.remaps[reg]),
			RemapType: remapfpath.RemapType_GHOST.Enum()}
		if err := w.PutRecord(images.RemapFpath, reg.GetId(), e); err != nil {
			return err
		}
	}
	return nil
}

func (g *ghost) write(w *store.Writer) error {
	st := g.st
	e := &ghostfile.GhostFileEntry{
		Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid), Mode: proto.Uint32(st.Mode),
		Dev: proto.Uint32(uint32(st.Dev)), Ino: proto.Uint64(st.Ino),
		Atim: timeval(st.Atime), Mtim: timeval(st.Mtime),
		Chunks: proto.Bool(true), Size: proto.Uint64(uint64(st.Size)),
	}
	if err := w.PutRecord(images.GhostFile, g.id, e); err != nil {
		return err
	}
	f, err := os.Open(g.open)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, r := range g.data {
		if err := putPieces(w, f, images.GhostBytes, g.id, r[0], r[1]-r[0], images.GhostBytesMax); err != nil {
			return err
		}
	}
	return nil
}

func timeval(t linux.Timespec) *criutime.Timeval {
	return &criutime.Timeval{TvSec: proto.Uint64(uint64(t.Sec)), TvUsec: proto.Uint64(uint64(t.Nsec / 1000))}
}
