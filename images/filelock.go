package images

import (
	"fmt"

	filelock "github.com/checkpoint-restore/go-criu/v8/crit/images/file-lock"
)

// FileLockEntry.type of a FileLock record: the struct flock l_type values
// (include/uapi/asm-generic/fcntl.h); a flock(2) lock is FileLockRead for
// LOCK_SH and FileLockWrite for LOCK_EX.
const (
	FileLockRead  = 0 // F_RDLCK
	FileLockWrite = 1 // F_WRLCK
)

// FileLockName describes a FileLock record for messages: "posix lock
// 0-99 write", "ofd lock 200-EOF read", "flock exclusive".
func FileLockName(e *filelock.FileLockEntry) string {
	switch e.GetFlag() {
	case FileLockFlock:
		if e.GetType() == FileLockWrite {
			return "flock exclusive"
		}
		return "flock shared"
	case FileLockPosix:
		return "posix lock " + lockRange(e)
	case FileLockOFD:
		return "ofd lock " + lockRange(e)
	}
	return fmt.Sprintf("lock of kind %d", e.GetFlag())
}

// lockRange is "first-last type" of a byte-range lock.
func lockRange(e *filelock.FileLockEntry) string {
	end := "EOF"
	if e.GetLen() > 0 {
		end = fmt.Sprint(e.GetStart() + e.GetLen() - 1)
	}
	typ := "read"
	if e.GetType() == FileLockWrite {
		typ = "write"
	}
	return fmt.Sprintf("%d-%s %s", e.GetStart(), end, typ)
}
