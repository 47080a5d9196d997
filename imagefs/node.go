package imagefs

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/crlazy/crlazy/criuimg"
	"github.com/crlazy/crlazy/internal/linux"
)

// File and directory permissions: read-only for everyone.
const (
	fileMode = 0o444
	dirMode  = 0o555
	blkSize  = 4096 // st_blksize; st_blocks counts 512-byte units
)

// source is the content of a regular file of the view. Every method is
// safe for concurrent use; the first call may build the content (reading
// the store), later calls reuse it.
type source interface {
	// size returns the file size.
	size() (uint64, error)
	// readAt fills dest from off; it returns the bytes filled, short
	// only at the end of the file.
	readAt(dest []byte, off uint64) (int, error)
	// data returns the sorted, disjoint extents that hold data; the rest
	// of the file is holes (reads as zeros).
	data() ([]criuimg.Extent, error)
}

// attrs are what every node shares: its timestamps and the mount's
// options.
type attrs struct {
	mtime    time.Time // the store's creation time, for every node
	directIO bool      // open memory and pages files with FOPEN_DIRECT_IO
	log      *slog.Logger
}

// dirNode is a directory: its children are persistent inodes added when
// the tree is built, so go-fuse answers Lookup and Readdir from them.
type dirNode struct {
	fs.Inode
	a *attrs
}

var (
	_ fs.NodeGetattrer = (*dirNode)(nil)
	_ fs.NodeMkdirer   = (*dirNode)(nil)
	_ fs.NodeCreater   = (*dirNode)(nil)
	_ fs.NodeUnlinker  = (*dirNode)(nil)
	_ fs.NodeRmdirer   = (*dirNode)(nil)
	_ fs.NodeRenamer   = (*dirNode)(nil)
	_ fs.NodeSetattrer = (*dirNode)(nil)
)

func (d *dirNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | dirMode
	out.Nlink = 2
	out.SetTimes(nil, &d.a.mtime, &d.a.mtime)
	return 0
}

// The mount is read-only (MS_RDONLY), so the kernel refuses changes
// itself; these answer EROFS should a request get here anyway.

func (d *dirNode) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, linux.EROFS
}

func (d *dirNode) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, linux.EROFS
}

func (d *dirNode) Unlink(context.Context, string) syscall.Errno { return linux.EROFS }

func (d *dirNode) Rmdir(context.Context, string) syscall.Errno { return linux.EROFS }

func (d *dirNode) Rename(context.Context, string, fs.InodeEmbedder, string, uint32) syscall.Errno {
	return linux.EROFS
}

func (d *dirNode) Setattr(context.Context, fs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return linux.EROFS
}
