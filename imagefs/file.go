package imagefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/crlazy/crlazy/criuimg"
	"github.com/crlazy/crlazy/internal/linux"
)

// fileNode is a regular file whose bytes come from src. It keeps no
// per-open state: reads go straight to src, so opens need no handle.
type fileNode struct {
	fs.Inode
	a      *attrs
	src    source
	sparse bool // memory or pages: may use FOPEN_DIRECT_IO
}

var (
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeLseeker   = (*fileNode)(nil)
)

// errno logs a failure to build or read a file and turns it into EIO:
// the store is damaged or unreadable.
func (n *fileNode) errno(op string, err error) syscall.Errno {
	n.a.log.Error("imagefs "+op, "path", n.Path(nil), "err", err)
	return linux.EIO
}

func (n *fileNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	size, err := n.src.size()
	if err != nil {
		return n.errno("getattr", err)
	}
	data, err := n.src.data()
	if err != nil {
		return n.errno("getattr", err)
	}
	var used uint64
	for _, x := range data {
		used += x.End - x.Start
	}
	out.Mode = syscall.S_IFREG | fileMode
	out.Nlink = 1
	out.Size = size
	out.Blksize = blkSize
	out.Blocks = (used + 511) / 512
	out.SetTimes(nil, &n.a.mtime, &n.a.mtime)
	return 0
}

func (n *fileNode) Setattr(context.Context, fs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return linux.EROFS
}

// accessModeMask selects O_RDONLY/O_WRONLY/O_RDWR in open flags.
const accessModeMask = syscall.O_ACCMODE

func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&accessModeMask != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, linux.EROFS
	}
	if n.sparse && n.a.directIO {
		return nil, fuse.FOPEN_DIRECT_IO, 0
	}
	// The store never changes: what the page cache holds stays valid
	// across opens.
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *fileNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off < 0 {
		return nil, linux.EINVAL
	}
	got, err := n.src.readAt(dest, uint64(off))
	if err != nil {
		return nil, n.errno("read", err)
	}
	return fuse.ReadResultData(dest[:got]), 0
}

// Lseek answers SEEK_DATA and SEEK_HOLE (the kernel handles the other
// whence values itself).
func (n *fileNode) Lseek(ctx context.Context, f fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	size, err := n.src.size()
	if err != nil {
		return 0, n.errno("lseek", err)
	}
	data, err := n.src.data()
	if err != nil {
		return 0, n.errno("lseek", err)
	}
	if off >= size {
		return 0, linux.ENXIO
	}
	switch whence {
	case linux.SeekData:
		at, ok := criuimg.SeekData(data, off)
		if !ok {
			return 0, linux.ENXIO
		}
		return at, 0
	case linux.SeekHole:
		return criuimg.SeekHole(data, off, size), 0
	}
	return 0, linux.EINVAL
}
