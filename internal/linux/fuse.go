package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// Errno values of file systems (the FUSE view and its tests).
const (
	EROFS    = unix.EROFS
	ENXIO    = unix.ENXIO
	ENOTCONN = unix.ENOTCONN
)

// lseek whence values for sparse files (lseek(2)).
const (
	SeekData = unix.SEEK_DATA
	SeekHole = unix.SEEK_HOLE
)

// Unmount unmounts the file system mounted at path with umount2(2),
// lazily (MNT_DETACH: the mount leaves the tree at once and goes away
// when its last user closes it) if detach is set. The path is passed to
// the kernel as it is: no stat, no canonicalization, so that a mount
// whose FUSE server is stopped or dead does not hang the caller.
func Unmount(path string, detach bool) error {
	flags := 0
	if detach {
		flags = unix.MNT_DETACH
	}
	for {
		err := unix.Unmount(path, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "umount2", Path: path, Err: err}
		}
		return nil
	}
}

// ReadOnlyMountFlags are the mount(2) flags of crlazy's FUSE view:
// read-only, no set-uid, no device nodes, no execution.
const ReadOnlyMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
