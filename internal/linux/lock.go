package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// File locks: fcntl(2) record locks (F_SETLK, owned by the process's
// descriptor table), open file description locks (F_OFD_SETLK) and
// flock(2) (include/uapi/asm-generic/fcntl.h, include/uapi/linux/fcntl.h).
const (
	FRdlck    = unix.F_RDLCK
	FWrlck    = unix.F_WRLCK
	FUnlck    = unix.F_UNLCK
	FGetlk    = unix.F_GETLK
	FSetlk    = unix.F_SETLK
	FOfdGetlk = unix.F_OFD_GETLK
	FOfdSetlk = unix.F_OFD_SETLK
	LockSh    = unix.LOCK_SH
	LockEx    = unix.LOCK_EX
	LockNb    = unix.LOCK_NB
	LockUn    = unix.LOCK_UN
	SysFlock  = unix.SYS_FLOCK

	// EWOULDBLOCK is what flock(LOCK_NB) returns for a lock held
	// elsewhere (the same number as EAGAIN).
	EWOULDBLOCK = unix.EWOULDBLOCK
)

// Flock mirrors struct flock on x86_64 (include/uapi/asm-generic/fcntl.h,
// with off_t and pid_t of 64 and 32 bits), the argument of F_SETLK,
// F_GETLK and their OFD variants. Len 0 means to the end of the file; Pid
// must be 0 for the OFD commands.
type Flock struct {
	Type   int16
	Whence int16
	_      int32
	Start  int64
	Len    int64
	Pid    int32
	_      int32
}

// GetLock asks which lock would stop lk from being taken on f (F_GETLK,
// or F_OFD_GETLK when ofd) and stores it in lk: lk.Type is FUnlck when
// none would; lk.Pid is the owner's pid, -1 for an OFD lock.
func GetLock(f *os.File, ofd bool, lk *Flock) error {
	cmd, name := FGetlk, "fcntl F_GETLK"
	if ofd {
		cmd, name = FOfdGetlk, "fcntl F_OFD_GETLK"
	}
	ufl := unix.Flock_t{Type: lk.Type, Whence: lk.Whence, Start: lk.Start, Len: lk.Len, Pid: lk.Pid}
	err := control(f, func(fd uintptr) error { return unix.FcntlFlock(fd, cmd, &ufl) })
	if err != nil {
		return os.NewSyscallError(name, err)
	}
	*lk = Flock{Type: ufl.Type, Whence: ufl.Whence, Start: ufl.Start, Len: ufl.Len, Pid: ufl.Pid}
	return nil
}

// SetLock takes or drops (lk.Type FUnlck) a lock on f without waiting
// (F_SETLK, or F_OFD_SETLK when ofd): a conflicting lock makes it fail
// with EAGAIN or EACCES.
func SetLock(f *os.File, ofd bool, lk *Flock) error {
	cmd, name := FSetlk, "fcntl F_SETLK"
	if ofd {
		cmd, name = FOfdSetlk, "fcntl F_OFD_SETLK"
	}
	ufl := unix.Flock_t{Type: lk.Type, Whence: lk.Whence, Start: lk.Start, Len: lk.Len, Pid: lk.Pid}
	err := control(f, func(fd uintptr) error { return unix.FcntlFlock(fd, cmd, &ufl) })
	return os.NewSyscallError(name, err)
}

// TryFlock applies flock(f, how|LOCK_NB): how is LockSh, LockEx or
// LockUn. A lock held through another description fails with
// EWOULDBLOCK.
func TryFlock(f *os.File, how int) error {
	err := control(f, func(fd uintptr) error {
		for {
			err := unix.Flock(int(fd), how|unix.LOCK_NB)
			if err != unix.EINTR {
				return err
			}
		}
	})
	return os.NewSyscallError("flock", err)
}
