package linux

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Errno values callers need to test for with errors.Is.
const (
	EPERM   = unix.EPERM
	ENOENT  = unix.ENOENT
	ESRCH   = unix.ESRCH
	EINTR   = unix.EINTR
	EBADF   = unix.EBADF
	ECHILD  = unix.ECHILD
	EAGAIN  = unix.EAGAIN
	ENOMEM  = unix.ENOMEM
	EACCES  = unix.EACCES
	EFAULT  = unix.EFAULT
	EBUSY   = unix.EBUSY
	EEXIST  = unix.EEXIST
	EINVAL  = unix.EINVAL
	ENOSYS  = unix.ENOSYS
	ENOTTY  = unix.ENOTTY
	ENOTSUP = unix.EOPNOTSUPP
	EIO     = unix.EIO
)

// Errno is the kernel's error number type.
type Errno = unix.Errno

// ErrnoFromReturn turns a raw syscall return value (as left in rax by the
// kernel) into an error: values in [-4095, -1] are errnos.
func ErrnoFromReturn(ret uint64) error {
	if r := int64(ret); r < 0 && r >= -4095 {
		return unix.Errno(-r)
	}
	return nil
}

// IsErrno reports whether err wraps errno e.
func IsErrno(err error, e unix.Errno) bool { return errors.Is(err, e) }
