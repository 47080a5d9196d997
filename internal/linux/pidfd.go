package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PidfdOpen returns a pidfd for pid, owned by the caller.
func PidfdOpen(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
}

// PidfdGetfd duplicates descriptor targetFd of the process behind pidfd
// into this process. The new descriptor has FD_CLOEXEC set and is owned by
// the caller.
func PidfdGetfd(pidfd *os.File, targetFd int) (*os.File, error) {
	fd, err := unix.PidfdGetfd(int(pidfd.Fd()), targetFd, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_getfd", err)
	}
	return os.NewFile(uintptr(fd), "pidfd_getfd"), nil
}

// KcmpFile reports whether fd1 of pid1 and fd2 of pid2 refer to the same
// open file description (kcmp KCMP_FILE).
func KcmpFile(pid1, fd1, pid2, fd2 int) (bool, error) {
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), kcmpFile, uintptr(fd1), uintptr(fd2), 0)
	if e != 0 {
		return false, os.NewSyscallError("kcmp", e)
	}
	return r == 0, nil
}

// SetChildSubreaper makes this process a child subreaper (on) or not, so
// that orphaned descendants are reparented to it (or to an ancestor).
func SetChildSubreaper(on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	return os.NewSyscallError("prctl", unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, v, 0, 0, 0))
}

// ChildSubreaper reports whether this process is a child subreaper.
func ChildSubreaper() (bool, error) {
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return v != 0, os.NewSyscallError("prctl", err)
}

// MemfdCreate creates an anonymous memory file owned by the caller.
func MemfdCreate(name string, cloexec bool) (*os.File, error) {
	flags := 0
	if cloexec {
		flags = unix.MFD_CLOEXEC
	}
	fd, err := unix.MemfdCreate(name, flags)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	return os.NewFile(uintptr(fd), "memfd:"+name), nil
}

// StatInfo is the part of struct stat crlazy records.
type StatInfo struct {
	Mode uint32
	Dev  uint64
	Ino  uint64
	Rdev uint64
	Size int64
}

// Stat stats path, following links (so /proc/PID/fd/N gives the open
// file's inode).
func Stat(path string) (StatInfo, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return StatInfo{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return StatInfo{Mode: st.Mode, Dev: st.Dev, Ino: st.Ino, Rdev: st.Rdev, Size: st.Size}, nil
}

// Major and Minor split a device number.
func Major(dev uint64) uint32 { return unix.Major(dev) }

// Minor returns the minor part of dev.
func Minor(dev uint64) uint32 { return unix.Minor(dev) }

// File type bits of st_mode.
const (
	SIfmt   = unix.S_IFMT
	SIfreg  = unix.S_IFREG
	SIfdir  = unix.S_IFDIR
	SIfchr  = unix.S_IFCHR
	SIfblk  = unix.S_IFBLK
	SIfifo  = unix.S_IFIFO
	SIfsock = unix.S_IFSOCK
	SIflnk  = unix.S_IFLNK
)

// Uname returns the kernel release and machine.
func Uname() (release, machine string, err error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", "", os.NewSyscallError("uname", err)
	}
	return unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), nil
}

// kcmp types (include/uapi/linux/kcmp.h).
const (
	kcmpFile    = 0
	KcmpVM      = 1
	KcmpFiles   = 2
	KcmpFS      = 3
	KcmpSighand = 4
)

// KcmpSame reports whether pid1 and pid2 share the resource of kcmp type
// typ (KcmpVM, KcmpFiles, KcmpFS, KcmpSighand).
func KcmpSame(pid1, pid2, typ int) (bool, error) {
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), uintptr(typ), 0, 0, 0)
	if e != 0 {
		return false, os.NewSyscallError("kcmp", e)
	}
	return r == 0, nil
}

// PidfdKill sends SIGKILL to the process behind pidfd: never to another
// process that reused its pid. A process already gone is no error.
func PidfdKill(pidfd *os.File) error {
	err := control(pidfd, func(fd uintptr) error {
		return unix.PidfdSendSignal(int(fd), unix.SIGKILL, nil, 0)
	})
	if err == unix.ESRCH {
		return nil
	}
	return os.NewSyscallError("pidfd_send_signal", err)
}
