package dumper

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fh"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fsnotify"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"google.golang.org/protobuf/proto"
)

// Kernel device numbers in fdinfo are MAJOR << 20 | MINOR
// (include/linux/kdev_t.h).
const (
	kdevMinorBits = 20
	kdevMinorMask = 1<<kdevMinorBits - 1
)

// inotifyEntry records every watch with the path of the watched inode.
// fdinfo shows a watch as a file handle; crlazy opens it
// (open_by_handle_at on a mount of its file system) and keeps the path,
// checked to lead back to the same inode. Events queued and not yet read
// are not saved.
func inotifyEntry(o openFd) (*fdinfo.FileEntry, error) {
	watches, err := o.info.InotifyWatches()
	if err != nil {
		return nil, parseErr(o, err)
	}
	e := &fsnotify.InotifyFileEntry{Flags: proto.Uint32(o.statusFlags()), Fown: noOwner()}
	for _, w := range watches {
		path, err := watchPath(w)
		if err != nil {
			return nil, unsupported(fmt.Sprintf("watch %d (inode %d on %d:%d): ", w.Wd, w.Ino,
				w.Sdev>>kdevMinorBits, w.Sdev&kdevMinorMask)+err.Error(), "%s", o.what)
		}
		e.Wd = append(e.Wd, &fsnotify.InotifyWdEntry{
			IIno: proto.Uint64(w.Ino), Mask: proto.Uint32(w.Mask), IgnoredMask: proto.Uint32(w.IgnoredMask),
			SDev: proto.Uint32(uint32(w.Sdev)), Wd: proto.Uint32(uint32(w.Wd)),
			FHandle: &fh.FhEntry{Bytes: proto.Uint32(uint32(len(w.Handle))), Type: proto.Uint32(uint32(w.HandleType)),
				Handle: packHandle(w.Handle), Path: proto.String(path)},
		})
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_INOTIFY.Enum(), Ify: e}, nil
}

// packHandle stores handle bytes as criu does: little-endian 64-bit words.
func packHandle(b []byte) []uint64 {
	out := make([]uint64, (len(b)+7)/8)
	for i := range out {
		var word [8]byte
		copy(word[:], b[i*8:])
		out[i] = binary.LittleEndian.Uint64(word[:])
	}
	return out
}

// watchPath finds the path of a watched inode through its file handle.
func watchPath(w proc.InotifyWatch) (string, error) {
	if w.Handle == nil {
		return "", fmt.Errorf("its file system gives no file handle")
	}
	major, minor := uint32(w.Sdev>>kdevMinorBits), uint32(w.Sdev&kdevMinorMask)
	mounts, err := proc.ReadMountinfo(os.Getpid())
	if err != nil {
		return "", err
	}
	var lastErr error = fmt.Errorf("its file system is not mounted where crlazy can see it")
	for _, m := range mountsOf(mounts, major, minor) {
		path, err := pathByHandle(m.Point, w)
		if err == nil {
			return path, nil
		}
		lastErr = err
	}
	return "", lastErr
}

// mountsOf returns the mounts of device major:minor, those of the file
// system's root first (a handle opened through them has a full path).
func mountsOf(mounts []proc.Mount, major, minor uint32) []proc.Mount {
	var roots, others []proc.Mount
	for _, m := range mounts {
		switch {
		case m.Major != major || m.Minor != minor:
		case m.Root == "/":
			roots = append(roots, m)
		default:
			others = append(others, m)
		}
	}
	return append(roots, others...)
}

// pathByHandle opens the watched inode by handle through the mount at
// point and returns its path, if that path leads to the inode.
func pathByHandle(point string, w proc.InotifyWatch) (string, error) {
	// Not O_PATH: open_by_handle_at refuses an O_PATH mount_fd (EBADF).
	mount, err := linux.OpenFile(point, linux.ORdonly|linux.ODirectory)
	if err != nil {
		return "", err
	}
	defer mount.Close()
	f, err := linux.OpenByHandle(mount, w.HandleType, w.Handle, linux.OPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fd, err := linux.RawFd(f)
	if err != nil {
		return "", err
	}
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(path, " (deleted)") || !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("the watched file has no path (%s)", path)
	}
	st, err := linux.Stat(path)
	if err != nil || st.Ino != w.Ino || linux.Major(st.Dev) != uint32(w.Sdev>>kdevMinorBits) ||
		linux.Minor(st.Dev) != uint32(w.Sdev&kdevMinorMask) {
		return "", fmt.Errorf("its path %s leads to another file", path)
	}
	return path, nil
}
