package linux

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OTmpfile is open(2)'s O_TMPFILE: an unnamed file in a directory.
const OTmpfile = unix.O_TMPFILE

// FileAttrs is what crlazy records of a file it saves the contents of
// (shared memory, memfd, deleted files).
type FileAttrs struct {
	Mode, Uid, Gid uint32
	Nlink          uint64
	Dev, Ino       uint64
	Size           int64
	Atime, Mtime   Timespec
	FsType         int64 // statfs f_type: TmpfsMagic, HugetlbfsMagic, ...
}

// Timespec is a time as the kernel keeps it.
type Timespec struct{ Sec, Nsec int64 }

// StatFile stats the open file f and its file system.
func StatFile(f *os.File) (FileAttrs, error) {
	var st unix.Stat_t
	var sfs unix.Statfs_t
	err := control(f, func(fd uintptr) error {
		if err := unix.Fstat(int(fd), &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		return os.NewSyscallError("fstatfs", unix.Fstatfs(int(fd), &sfs))
	})
	if err != nil {
		return FileAttrs{}, err
	}
	return FileAttrs{
		Mode: st.Mode, Uid: st.Uid, Gid: st.Gid, Nlink: st.Nlink, Dev: st.Dev, Ino: st.Ino, Size: st.Size,
		Atime:  Timespec{st.Atim.Sec, st.Atim.Nsec},
		Mtime:  Timespec{st.Mtim.Sec, st.Mtim.Nsec},
		FsType: sfs.Type,
	}, nil
}

// Futimens sets the access and modification times of the open file f.
func Futimens(f *os.File, atime, mtime Timespec) error {
	ts := []unix.Timespec{{Sec: atime.Sec, Nsec: atime.Nsec}, {Sec: mtime.Sec, Nsec: mtime.Nsec}}
	return control(f, func(fd uintptr) error {
		return os.NewSyscallError("utimensat", unix.UtimesNanoAt(int(fd), "", ts, unix.AT_EMPTY_PATH))
	})
}

// DataRanges calls fn for each range [off, off+n) of f below end that
// holds data (lseek SEEK_DATA / SEEK_HOLE: on tmpfs and shared memory,
// pages in memory or swapped out), in offset order.
func DataRanges(f *os.File, end int64, fn func(off, n int64) error) error {
	for off := int64(0); off < end; {
		data, err := seek(f, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) || err == nil && data >= end {
			return nil
		}
		if err != nil {
			return err
		}
		hole, err := seek(f, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, end)
		if err := fn(data, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

func seek(f *os.File, off int64, whence int) (int64, error) {
	var got int64
	err := control(f, func(fd uintptr) error {
		var err error
		got, err = unix.Seek(int(fd), off, whence)
		return err
	})
	return got, os.NewSyscallError("lseek", err)
}

// NewAnonShmem returns a descriptor of a new shared anonymous memory
// object of size bytes, the kind mmap(MAP_SHARED|MAP_ANONYMOUS) makes
// (its mappings show as "/dev/zero (deleted)"): it maps one, opens it
// through /proc/self/map_files (which takes CAP_SYS_ADMIN) and unmaps it.
func NewAnonShmem(size uint64) (*os.File, error) {
	if size == 0 || size%PageSize != 0 {
		return nil, fmt.Errorf("shared memory of %d bytes: %w", size, unix.EINVAL)
	}
	addr, _, e := unix.Syscall6(unix.SYS_MMAP, 0, uintptr(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_SHARED|unix.MAP_ANONYMOUS, ^uintptr(0), 0)
	if e != 0 {
		return nil, os.NewSyscallError("mmap", e)
	}
	defer unix.Syscall(unix.SYS_MUNMAP, addr, uintptr(size), 0)
	path := fmt.Sprintf("/proc/self/map_files/%x-%x", addr, uint64(addr)+size)
	return os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
}

// Reopen opens a new description of the file f is open on (through
// /proc/self/fd, which also works for deleted files and memfds) with
// open flags; O_CLOEXEC is always added and O_NOFOLLOW dropped (it would
// refuse the /proc link itself: ELOOP).
func Reopen(f *os.File, flags int) (*os.File, error) {
	fd, err := RawFd(f)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), flags&^unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// LinkProc makes newPath a hard link to the file the /proc link procPath
// (/proc/PID/fd/N, /proc/PID/map_files/...) names, which must still have
// a link somewhere (a file without any cannot be linked again).
func LinkProc(procPath, newPath string) error {
	err := unix.Linkat(unix.AT_FDCWD, procPath, unix.AT_FDCWD, newPath, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: procPath, New: newPath, Err: err}
	}
	return nil
}
