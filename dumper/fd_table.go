package dumper

import (
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/regfile"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

// fileTable assigns file ids (FileEntry.id) across the whole tree: one
// id per open file description, shared by every descriptor of every
// process that refers to it (dup, fork), and one per file referenced by
// identity (mapped files, exe, cwd, root).
type fileTable struct {
	entries  []*fdinfo.FileEntry
	byInode  map[[2]uint64]uint32     // identity files
	descs    map[descKey][]descRef    // descriptors seen, by inode and kind
	pipes    map[[2]uint64]*pipeState // pipes and FIFOs, by inode
	pipeIDs  []*pipeState             // in the order found
	pipeByID map[uint32]*pipeState    // by pipe id
	fifos    uint32                   // FIFOs given an id so far
	// pipeBytes counts the pipe data held until the store is written.
	pipeBytes int
	tids      map[int]bool               // every thread of the tree (pidfds must point inside)
	mem       *memTable                  // shared memory, memfds, deleted files (mem_objects.go)
	unix      *unixDump                  // UNIX sockets (fd_unix*.go)
	tty       *ttyDump                   // terminals (fd_tty.go)
	locks     *lockDump                  // file locks (fd_lock.go)
	owners    map[uint32]*fown.FownEntry // by file id: O_ASYNC owners (fd_owner.go)
}

// descKey groups the descriptors that may share a description: all
// anon_inode descriptors have one inode, so the kind tells them apart.
type descKey struct {
	dev, ino uint64
	kind     fdKind
}

// descRef is a descriptor already given a file id.
type descRef struct {
	pid, fd int
	id      uint32
}

func newFileTable(t *tree) *fileTable {
	ft := &fileTable{byInode: map[[2]uint64]uint32{}, descs: map[descKey][]descRef{},
		pipes: map[[2]uint64]*pipeState{}, pipeByID: map[uint32]*pipeState{}, tids: map[int]bool{}, mem: newMemTable()}
	for _, p := range t.procs {
		ft.tids[p.pid] = true
		for _, task := range p.tasks {
			ft.tids[task.TID] = true
		}
	}
	return ft
}

// addEntry gives e the next id and keeps it.
func (ft *fileTable) addEntry(e *fdinfo.FileEntry) uint32 {
	id := uint32(len(ft.entries) + 1)
	setFileID(e, id)
	ft.entries = append(ft.entries, e)
	return id
}

func (ft *fileTable) add(reg *regfile.RegFileEntry) uint32 {
	return ft.addEntry(&fdinfo.FileEntry{Type: fdinfo.FdTypes_REG.Enum(), Reg: reg})
}

// setFileID stores id in e and in its type's message.
func setFileID(e *fdinfo.FileEntry, id uint32) {
	e.Id = proto.Uint32(id)
	pid := proto.Uint32(id)
	switch {
	case e.Reg != nil:
		e.Reg.Id = pid
	case e.Pipe != nil:
		e.Pipe.Id = pid
	case e.Fifo != nil:
		e.Fifo.Id = pid
	case e.Efd != nil:
		e.Efd.Id = pid
	case e.Epfd != nil:
		e.Epfd.Id = pid
		for _, t := range e.Epfd.Tfd {
			t.Id = pid
		}
	case e.Sgfd != nil:
		e.Sgfd.Id = pid
	case e.Tfd != nil:
		e.Tfd.Id = pid
	case e.Ify != nil:
		e.Ify.Id = pid
		for _, w := range e.Ify.Wd {
			w.Id = pid
		}
	case e.Pidfd != nil:
		e.Pidfd.Id = pid
	case e.Memfd != nil:
		e.Memfd.Id = pid
	case e.Usk != nil:
		e.Usk.Id = pid
	case e.Tty != nil:
		e.Tty.Id = pid
	}
}

// byIdentity returns the id of the file at path, adding an entry opened
// with flags the first time the inode is seen.
func (ft *fileTable) byIdentity(path string, st linux.StatInfo, flags uint32) uint32 {
	key := [2]uint64{st.Dev, st.Ino}
	if id, ok := ft.byInode[key]; ok {
		return id
	}
	id := ft.add(regEntry(path, st, flags, 0))
	ft.byInode[key] = id
	return id
}

// noOwner is the fown record of a description without F_SETOWN.
func noOwner() *fown.FownEntry {
	z := proto.Uint32(0)
	return &fown.FownEntry{Uid: z, Euid: z, Signum: z, PidType: z, Pid: z}
}

func regEntry(path string, st linux.StatInfo, flags uint32, pos uint64) *regfile.RegFileEntry {
	e := &regfile.RegFileEntry{
		Flags: proto.Uint32(flags),
		Pos:   proto.Uint64(pos),
		Fown:  noOwner(),
		Name:  proto.String(path),
		Mode:  proto.Uint32(st.Mode),
	}
	if st.Mode&linux.SIfmt == linux.SIfreg {
		e.Size = proto.Uint64(uint64(st.Size))
	}
	return e
}
