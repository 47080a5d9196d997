package dumper

import (
	"fmt"
	"log/slog"

	filelock "github.com/checkpoint-restore/go-criu/v8/crit/images/file-lock"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// lockDump collects the file locks held by the tree (criu's
// --file-locks). They are read from the "lock:" lines of each
// descriptor's fdinfo, which show exactly the locks taken through that
// open file description and owned by it (flock, OFD locks) or by the
// reading process's descriptor table (POSIX locks): a lock is tied to a
// descriptor the restored process will have, with no guessing from
// /proc/locks by inode and pid.
//
// A lock owned by a description shows on every descriptor of it, in
// every process: it is saved once per description. A POSIX lock shows on
// every descriptor of its description in the owning table: saved once
// per table.
type lockDump struct {
	enabled bool
	log     *slog.Logger
	// tables maps every live process to its descriptor table's files id.
	tables map[int]uint32
	seen   map[lockKey]*lockRec
	recs   []*lockRec // in the order found
}

// lockKey identifies one lock of the tree.
type lockKey struct {
	owner      uint32 // files id of a POSIX lock's table; 0 for the others
	file       uint32 // file id of the description it was taken through
	flag       uint32
	typ        uint32
	start, end int64
}

// lockRec is a lock and the process that takes it again at restore.
type lockRec struct {
	pid int
	e   *filelock.FileLockEntry
}

func newLockDump(enabled bool, t *tree, log *slog.Logger) *lockDump {
	ld := &lockDump{enabled: enabled, log: log, tables: map[int]uint32{}, seen: map[lockKey]*lockRec{}}
	for _, p := range t.procs {
		if !p.zombie {
			ld.tables[p.pid] = p.filesID
		}
	}
	return ld
}

// collectLocks records the locks shown on descriptor o (file id id) of
// the collector's process, or refuses them.
func (c *collector) collectLocks(ld *lockDump, o openFd, id uint32) error {
	locks, err := o.info.Locks()
	if err != nil {
		return fmt.Errorf("%s: %w", o.what, err)
	}
	for _, l := range locks {
		if err := ld.add(c.p, o, id, l); err != nil {
			return err
		}
	}
	return nil
}

// add records lock l of descriptor o of process p.
func (ld *lockDump) add(p *process, o openFd, id uint32, l proc.FileLock) error {
	e, err := lockEntry(l, o)
	if err != nil {
		return err
	}
	if !ld.enabled {
		return unsupported("holds a "+images.FileLockName(e)+"; dump with --file-locks to save it", "%s", o.what)
	}
	key := lockKey{file: id, flag: e.GetFlag(), typ: e.GetType(), start: l.Start, end: l.End}
	pid := p.pid
	if e.GetFlag() == images.FileLockPosix {
		key.owner = p.filesID
		if ld.tables[l.Pid] == p.filesID {
			pid = l.Pid // taken by another process sharing the table (CLONE_FILES)
		}
	}
	if r := ld.seen[key]; r != nil {
		if e.GetFlag() == images.FileLockFlock && l.Pid == p.pid && r.pid != p.pid {
			r.pid, r.e.Fd = p.pid, e.Fd // restore it in the process that took it
		}
		return nil
	}
	r := &lockRec{pid: pid, e: e}
	ld.seen[key] = r
	ld.recs = append(ld.recs, r)
	ld.log.Debug("file lock saved", "pid", pid, "fd", o.what, "lock", images.FileLockName(e))
	return nil
}

// leaseError refuses a descriptor holding a lease (F_SETLEASE, or an NFS
// delegation), before its O_ASYNC (which a lease sets) is refused with a
// less telling message.
func leaseError(o openFd) error {
	locks, err := o.info.Locks()
	if err != nil {
		return fmt.Errorf("%s: %w", o.what, err)
	}
	for _, l := range locks {
		if l.Kind == proc.LockLease || l.Kind == proc.LockDeleg {
			_, err := lockEntry(l, o)
			return err
		}
	}
	return nil
}

// lockEntry turns a lock line into its record, refusing what cannot be
// restored.
func lockEntry(l proc.FileLock, o openFd) (*filelock.FileLockEntry, error) {
	var flag uint32
	switch l.Kind {
	case proc.LockPosix:
		flag = images.FileLockPosix
	case proc.LockOFD:
		flag = images.FileLockOFD
	case proc.LockFlock:
		flag = images.FileLockFlock
	case proc.LockLease, proc.LockDeleg:
		return nil, unsupported("holds a file lease (F_SETLEASE), which cannot be saved", "%s", o.what)
	default:
		return nil, unsupported(fmt.Sprintf("holds a lock of kind %q, which cannot be saved", l.Kind), "%s", o.what)
	}
	if l.Mode != proc.LockAdvisory {
		return nil, unsupported(fmt.Sprintf("holds a %s lock (%s), which cannot be saved", l.Mode, l.Kind), "%s", o.what)
	}
	typ := uint32(images.FileLockRead)
	switch l.Type {
	case proc.LockWrite:
		typ = images.FileLockWrite
	case proc.LockRead:
	default:
		return nil, unsupported(fmt.Sprintf("holds a %s lock of type %s", l.Kind, l.Type), "%s", o.what)
	}
	length := int64(0) // to the end of the file
	if l.End != proc.LockToEOF {
		length = l.End - l.Start + 1
	}
	return &filelock.FileLockEntry{Flag: proto.Uint32(flag), Type: proto.Uint32(typ), Pid: proto.Int32(int32(l.Pid)),
		Fd: proto.Int32(int32(o.fd)), Start: proto.Int64(l.Start), Len: proto.Int64(length)}, nil
}

// write stores the locks, each under the process that restores it.
func (ld *lockDump) write(w *store.Writer) error {
	next := map[int]uint64{}
	for _, r := range ld.recs {
		if err := w.PutSubRecord(images.FileLock, uint32(r.pid), next[r.pid], r.e); err != nil {
			return fmt.Errorf("pid %d: fd %d: %s: %w", r.pid, r.e.GetFd(), images.FileLockName(r.e), err)
		}
		next[r.pid]++
	}
	if len(ld.recs) > 0 {
		ld.log.Info("file locks saved", "locks", len(ld.recs))
	}
	return nil
}
