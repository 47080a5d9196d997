package restorer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	filelock "github.com/checkpoint-restore/go-criu/v8/crit/images/file-lock"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// ErrNeedFileLocks is returned, before anything is created, for an image
// holding file locks restored without Options.FileLocks (criu's
// --file-locks).
var ErrNeedFileLocks = errors.New("the image holds file locks: restore with --file-locks")

// ErrLockTaken is returned when a lock of the image cannot be taken again
// because a process outside the restored tree holds a conflicting one
// (the dumped tree left running, or another process took it meanwhile).
var ErrLockTaken = errors.New("a process outside the restored tree holds a conflicting lock")

// maxLocks bounds the FileLock records of one process.
const maxLocks = 1 << 16

// loadLocks reads the file locks of every process and checks them against
// its descriptors, before anything is created.
func (t *treeRestore) loadLocks(r *store.Reader, enabled bool) error {
	pids, err := r.IDs(images.FileLock)
	if err != nil || len(pids) == 0 {
		return err
	}
	if !enabled {
		return fmt.Errorf("%w (held by pid %s)", ErrNeedFileLocks, joinIDs(pids))
	}
	for _, pid := range pids {
		rs := t.byPid[int(pid)]
		if rs == nil || rs.img.zombie {
			return badImage("file locks of pid %d, which is not a live process of the image", pid)
		}
		if err := rs.loadLocks(r); err != nil {
			return fmt.Errorf("pid %d: %w", pid, err)
		}
	}
	return nil
}

// joinIDs is "4242, 4243".
func joinIDs(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ", ")
}

// loadLocks reads and checks the locks the process takes again.
func (rs *restorer) loadLocks(r *store.Reader) error {
	return r.SubRecords(images.FileLock, uint32(rs.img.pid), func(sub uint64, raw []byte) error {
		e := &filelock.FileLockEntry{}
		if err := images.UnmarshalRecord(raw, e); err != nil {
			return fmt.Errorf("file lock %d: %w", sub, err)
		}
		if len(rs.locks) == maxLocks {
			return badImage("more than %d file locks", maxLocks)
		}
		if err := rs.checkLock(e); err != nil {
			return fmt.Errorf("file lock %d: %w", sub, err)
		}
		rs.locks = append(rs.locks, e)
		return nil
	})
}

// checkLock checks that a lock is one crlazy can take, on a descriptor
// the process will have.
func (rs *restorer) checkLock(e *filelock.FileLockEntry) error {
	switch {
	case e.GetFlag() != images.FileLockPosix && e.GetFlag() != images.FileLockOFD && e.GetFlag() != images.FileLockFlock:
		return badImage("lock of kind %d", e.GetFlag())
	case e.GetType() != images.FileLockRead && e.GetType() != images.FileLockWrite:
		return badImage("%s: type %d", images.FileLockName(e), e.GetType())
	case e.GetStart() < 0 || e.GetLen() < 0 || e.GetStart() > (1<<63-1)-e.GetLen():
		return badImage("%s: bad range", images.FileLockName(e))
	}
	if _, ok := rs.lockFile(e.GetFd()); !ok {
		return badImage("%s on fd %d, which the process does not have", images.FileLockName(e), e.GetFd())
	}
	return nil
}

// lockFile returns a description of descriptor fd of the process's
// descriptor table (which it may share with its parent): "fd 3
// (/tmp/x)".
func (rs *restorer) lockFile(fd int32) (string, bool) {
	for _, e := range rs.filesOwner.img.fds {
		if int32(e.GetFd()) != fd {
			continue
		}
		what := fmt.Sprintf("fd %d", fd)
		if name := rs.files.files[e.GetId()].GetReg().GetName(); name != "" {
			what += " (" + name + ")"
		}
		return what, true
	}
	return "", false
}

// restoreLocks takes every lock of the process again, from inside it:
// a POSIX lock belongs to the table of the process that takes it, and
// the kernel records that process's pid in it; flock and OFD locks
// belong to the open file description, each saved once however many
// descriptors and processes share it. The locks come after every
// descriptor is in place: closing any descriptor of a file drops the
// process's POSIX locks on it.
func (rs *restorer) restoreLocks() error {
	for _, e := range rs.locks {
		if err := rs.takeLock(e); err != nil {
			what, _ := rs.lockFile(e.GetFd())
			return fmt.Errorf("%s: %s: %w", what, images.FileLockName(e), err)
		}
	}
	if len(rs.locks) > 0 {
		rs.log.Debug("file locks taken", "locks", len(rs.locks))
	}
	return nil
}

// takeLock injects the call that takes one lock, without waiting.
func (rs *restorer) takeLock(e *filelock.FileLockEntry) error {
	t := rs.leader()
	fd := uint64(e.GetFd())
	if e.GetFlag() == images.FileLockFlock {
		how := uint64(linux.LockSh)
		if e.GetType() == images.FileLockWrite {
			how = linux.LockEx
		}
		_, err := t.Syscall("flock", linux.SysFlock, fd, how|linux.LockNb)
		return lockErr(err)
	}
	lk := linux.Flock{Type: linux.FRdlck, Whence: linux.SeekSet, Start: e.GetStart(), Len: e.GetLen()}
	if e.GetType() == images.FileLockWrite {
		lk.Type = linux.FWrlck
	}
	cmd, name := uint64(linux.FSetlk), "fcntl F_SETLK"
	if e.GetFlag() == images.FileLockOFD {
		cmd, name = linux.FOfdSetlk, "fcntl F_OFD_SETLK"
	}
	defer t.ReleaseArgs(t.ArgMark())
	arg, err := t.PutArg(linux.StructBytes(&lk))
	if err != nil {
		return err
	}
	_, err = t.Syscall(name, linux.SysFcntl, fd, cmd, uint64(arg))
	return lockErr(err)
}

// lockErr marks the errors that mean someone else holds the lock
// (EAGAIN, which is EWOULDBLOCK, or EACCES for F_SETLK).
func lockErr(err error) error {
	if errors.Is(err, linux.EAGAIN) || errors.Is(err, linux.EACCES) {
		return fmt.Errorf("%w: %w", ErrLockTaken, err)
	}
	return err
}
