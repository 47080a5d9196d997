package images

import (
	"fmt"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	ipcshm "github.com/checkpoint-restore/go-criu/v8/crit/images/ipc-shm"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/creds"
	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	criusa "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-sa"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	filelock "github.com/checkpoint-restore/go-criu/v8/crit/images/file-lock"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fs"
	ghostfile "github.com/checkpoint-restore/go-criu/v8/crit/images/ghost-file"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/memfd"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	pipedata "github.com/checkpoint-restore/go-criu/v8/crit/images/pipe-data"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	remapfpath "github.com/checkpoint-restore/go-criu/v8/crit/images/remap-file-path"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/seccomp"
	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/tty"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Kind says what a record holds. Its value is the second byte of every
// record key, so the numbers below are part of the on-disk format: never
// renumber or reuse one; add new kinds at the end.
type Kind uint8

// The record kinds. The comment names the id (and sub) of the key and the
// CRIU message stored.
const (
	// Inventory: id 0; inventory.InventoryEntry.
	Inventory Kind = 1
	// Pstree: id = pid; pstree.PstreeEntry.
	Pstree Kind = 2
	// Core: id = tid; criu_core.CoreEntry.
	Core Kind = 3
	// Mm: id = mm id; mm.MmEntry (VMAs included).
	Mm Kind = 4
	// Pagemap: id = mm id, sub = start address; pagemap.PagemapEntry.
	Pagemap Kind = 5
	// Fdinfo: id = files id, sub = fd; fdinfo.FdinfoEntry.
	Fdinfo Kind = 6
	// Files: id = file id; fdinfo.FileEntry.
	Files Kind = 7
	// Fs: id = pid; fs.FsEntry.
	Fs Kind = 8
	// Ids: id = pid; criu_core.TaskKobjIdsEntry.
	Ids Kind = 9
	// Creds: id = tid; creds.CredsEntry.
	Creds Kind = 10
	// Sigacts: id = sighand id, sub = signal number; criu_sa.SaEntry.
	Sigacts Kind = 11
	// Seccomp: id = pid; seccomp.SeccompEntry, the seccomp filters of the
	// process's threads, which name theirs in ThreadCoreEntry.
	Seccomp Kind = 12
	// PipeData: id = pipe id (PipeEntry.pipe_id, FifoEntry.pipe_id: one
	// per pipe object, shared by its ends); pipe_data.PipeDataEntry with
	// bytes = how many bytes were queued and size = the pipe's capacity.
	PipeData Kind = 13
	// PipeBytes: id = pipe id, sub = offset of the first byte;
	// wrapperspb.BytesValue, a piece of the bytes queued in the pipe (at
	// most PipeBytesMax each, contiguous from offset 0).
	PipeBytes Kind = 14
	// TCPStream: id = file id of the socket (an INETSK file);
	// tcp_stream.TcpStreamEntry, the state of an established (or
	// half-closed) TCP connection. Its sequence numbers leave out the
	// FINs (package tcprepair).
	TCPStream Kind = 15
	// TCPQueue: id = file id of the socket, sub = queue<<32 | offset
	// (queue TCPQueueRecv or TCPQueueSend); wrapperspb.BytesValue, a
	// piece of the bytes queued (at most TCPQueueBytesMax each,
	// contiguous from offset 0, inq_len resp. outq_len in all).
	TCPQueue Kind = 16
	// NetLock: id 0; wrapperspb.StringValue, the name of the nftables
	// table (family inet) that holds the traffic of the dumped
	// connections until a restore removes it (package netlock).
	NetLock Kind = 17
	// Shmem: id = shared memory object id (vma_entry.shmid of a
	// VmaAnonShared area; one per object of the tree, however many
	// processes map it); wrapperspb.UInt64Value, the object's size in
	// bytes (at most ShmemSizeMax). Its pages are saved once, each in the
	// pagemap of the first process (in dump order) whose mapping covers
	// it, at its address there.
	Shmem Kind = 18
	// MemfdInode: id = memfd inode id (memfd_file_entry.inode_id; one per
	// memfd of the tree, whether open or mapped); memfd.MemfdInodeEntry
	// (name, owner, mode, size, seals; shmid = the inode id). Mapped pages
	// are saved like those of a Shmem object, the rest as MemfdBytes.
	MemfdInode Kind = 19
	// MemfdBytes: id = memfd inode id, sub = offset; wrapperspb.BytesValue,
	// a piece of the memfd's contents that no mapping of the tree covers
	// (at most MemfdBytesMax each; only non-zero data, MemfdDataMax in
	// all).
	MemfdBytes Kind = 20
	// GhostFile: id = ghost id (one per deleted file of the tree that is
	// still open or mapped); ghost_file.GhostFileEntry (owner, mode, size,
	// times; chunks = true: its contents are GhostBytes records).
	GhostFile Kind = 21
	// GhostBytes: id = ghost id, sub = offset; wrapperspb.BytesValue, a
	// piece of the deleted file's data (at most GhostBytesMax each; holes
	// are not stored).
	GhostBytes Kind = 22
	// RemapFpath: id = file id of a REG file whose path no longer leads
	// to it; remap_file_path.RemapFilePathEntry (orig_id = the file id,
	// remap_id = its ghost id, remap_type GHOST).
	RemapFpath Kind = 23
	// UnixQueue: id = file id of a UNIX socket (a UNIXSK file), sub =
	// index<<32 | sender; wrapperspb.BytesValue, what was queued to be
	// read on the socket, oldest first (index 0, 1, ... without gaps): a
	// datagram or seqpacket record each (at most UnixQueueMax bytes), or
	// a piece of a stream's bytes (at most UnixQueuePieceMax). sender is
	// the file id of the datagram socket of the tree that sent it (by
	// its name), 0 for an unnamed or unknown sender and for streams.
	UnixQueue Kind = 24
	// TtyInfo: id = tty info id (TtyFileEntry.tty_info_id: one per
	// terminal); tty.TtyInfoEntry, the terminal's kind, pty index,
	// termios, window size, session and foreground group.
	TtyInfo Kind = 25
	// FileLock: id = pid of the process that restores the lock, sub =
	// index; file_lock.FileLockEntry (flag FileLockPosix, FileLockFlock
	// or FileLockOFD; type F_RDLCK or F_WRLCK; fd = a descriptor of that
	// process on the locked file; start and len as in struct flock, len 0
	// to the end of the file).
	FileLock Kind = 26
	// FileOwner: id = file id of a description in signal-driven mode
	// (O_ASYNC); fown.FownEntry with the process or thread it signals
	// (pid_type F_OWNER_PID or F_OWNER_TID, pid; 0: none) and the signal
	// (signum; 0: SIGIO). uid and euid are not restored (the restore
	// sets the owner as root).
	FileOwner Kind = 27
	// SysvShm: id = segment id (shmid); ipc_shm.IpcShmEntry, a System V
	// shared memory segment the tree has attached (key, owner, mode with
	// SHM_DEST if it was removed, size). Its mappings are VmaAreaSysvipc
	// areas whose shmid is the segment's.
	SysvShm Kind = 28
	// SysvShmBytes: id = segment id, sub = offset; wrapperspb.BytesValue,
	// a piece of the segment's contents (all-zero pieces are left out).
	SysvShmBytes Kind = 29
)

// SysvShmBytesMax bounds a piece of a segment's contents.
const SysvShmBytesMax = 64 << 10

// Limits and values of the UNIX socket, terminal and lock records:
// UnixQueueMax bounds the bytes saved for one socket (and so one
// datagram), UnixQueuePieceMax one UnixQueue record of a stream.
// FileLock* are the kinds of lock in FileLockEntry.flag.
const (
	UnixQueueMax      = 16 << 20
	UnixQueuePieceMax = 64 << 10
	FileLockPosix     = 1
	FileLockFlock     = 2
	FileLockOFD       = 4
)

// Limits on shared memory and deleted files: ShmemSizeMax is the largest
// object (the user address space), MemfdBytesMax and GhostBytesMax the
// largest MemfdBytes and GhostBytes records, MemfdDataMax the most bytes of
// one memfd saved outside mappings, GhostDataMax the largest deleted file
// whose contents a dump may save (the dump's --ghost-limit is at most
// this).
const (
	ShmemSizeMax  = 1 << 47
	MemfdBytesMax = 64 << 10
	MemfdDataMax  = 1 << 30
	GhostBytesMax = 64 << 10
	GhostDataMax  = 1 << 30
)

// Queues of a TCPQueue sub-record key, and the largest piece.
const (
	TCPQueueRecv     = 1
	TCPQueueSend     = 2
	TCPQueueBytesMax = 64 << 10
)

// Limits on pipe data: PipeBytesMax is the largest PipeBytes record,
// PipeDataMax the most bytes saved for one pipe (a pipe holds at most its
// capacity, which only CAP_SYS_RESOURCE raises above
// /proc/sys/fs/pipe-max-size, 1 MiB by default).
const (
	PipeBytesMax = 64 << 10
	PipeDataMax  = 16 << 20
)

// kindInfo describes one kind. Exactly one of record and sub is set: a
// kind is stored either as plain records or as sub-records.
type kindInfo struct {
	name   string
	record func() proto.Message // message of a plain record
	sub    func() proto.Message // message of a sub-record
}

// kinds is indexed by Kind; the zero entry is the invalid kind.
var kinds = [...]kindInfo{
	Inventory:    {name: "inventory", record: func() proto.Message { return &inventory.InventoryEntry{} }},
	Pstree:       {name: "pstree", record: func() proto.Message { return &pstree.PstreeEntry{} }},
	Core:         {name: "core", record: func() proto.Message { return &criucore.CoreEntry{} }},
	Mm:           {name: "mm", record: func() proto.Message { return &mm.MmEntry{} }},
	Pagemap:      {name: "pagemap", sub: func() proto.Message { return &pagemap.PagemapEntry{} }},
	Fdinfo:       {name: "fdinfo", sub: func() proto.Message { return &fdinfo.FdinfoEntry{} }},
	Files:        {name: "files", record: func() proto.Message { return &fdinfo.FileEntry{} }},
	Fs:           {name: "fs", record: func() proto.Message { return &fs.FsEntry{} }},
	Ids:          {name: "ids", record: func() proto.Message { return &criucore.TaskKobjIdsEntry{} }},
	Creds:        {name: "creds", record: func() proto.Message { return &creds.CredsEntry{} }},
	Sigacts:      {name: "sigacts", sub: func() proto.Message { return &criusa.SaEntry{} }},
	Seccomp:      {name: "seccomp", record: func() proto.Message { return &seccomp.SeccompEntry{} }},
	PipeData:     {name: "pipe-data", record: func() proto.Message { return &pipedata.PipeDataEntry{} }},
	PipeBytes:    {name: "pipe-bytes", sub: func() proto.Message { return &wrapperspb.BytesValue{} }},
	TCPStream:    {name: "tcp-stream", record: func() proto.Message { return &tcpstream.TcpStreamEntry{} }},
	TCPQueue:     {name: "tcp-queue", sub: func() proto.Message { return &wrapperspb.BytesValue{} }},
	NetLock:      {name: "netlock", record: func() proto.Message { return &wrapperspb.StringValue{} }},
	Shmem:        {name: "shmem", record: func() proto.Message { return &wrapperspb.UInt64Value{} }},
	MemfdInode:   {name: "memfd-inode", record: func() proto.Message { return &memfd.MemfdInodeEntry{} }},
	MemfdBytes:   {name: "memfd-bytes", sub: func() proto.Message { return &wrapperspb.BytesValue{} }},
	GhostFile:    {name: "ghost-file", record: func() proto.Message { return &ghostfile.GhostFileEntry{} }},
	GhostBytes:   {name: "ghost-bytes", sub: func() proto.Message { return &wrapperspb.BytesValue{} }},
	RemapFpath:   {name: "remap-fpath", record: func() proto.Message { return &remapfpath.RemapFilePathEntry{} }},
	UnixQueue:    {name: "unix-queue", sub: func() proto.Message { return &wrapperspb.BytesValue{} }},
	TtyInfo:      {name: "tty-info", record: func() proto.Message { return &tty.TtyInfoEntry{} }},
	FileLock:     {name: "file-lock", sub: func() proto.Message { return &filelock.FileLockEntry{} }},
	FileOwner:    {name: "file-owner", record: func() proto.Message { return &fown.FownEntry{} }},
	SysvShm:      {name: "sysv-shm", record: func() proto.Message { return &ipcshm.IpcShmEntry{} }},
	SysvShmBytes: {name: "sysv-shm-bytes", sub: func() proto.Message { return &wrapperspb.BytesValue{} }},
}

// Kinds returns every valid kind in numeric (= key) order.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds)-1)
	for k := range kinds[1:] {
		out = append(out, Kind(k+1))
	}
	return out
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k != 0 && int(k) < len(kinds) }

// String returns the name used by `crlazy show` ("core", "pagemap", ...),
// or "kind(N)" for an unknown kind.
func (k Kind) String() string {
	if !k.Valid() {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kinds[k].name
}

// HasSub reports whether records of k are sub-records (keyed by id and
// sub) rather than plain records (keyed by id).
func (k Kind) HasSub() bool { return k.Valid() && kinds[k].sub != nil }

// New returns an empty message of the type stored under k (for a kind with
// sub-records, the type of one sub-record), or nil for an unknown kind.
func (k Kind) New() proto.Message {
	switch {
	case !k.Valid():
		return nil
	case kinds[k].sub != nil:
		return kinds[k].sub()
	default:
		return kinds[k].record()
	}
}

// ParseKind returns the kind whose name is s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if kinds[k].name == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("record kind %q: %w", s, ErrUnknownKind)
}
