package restorer

import (
	"errors"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	filelock "github.com/checkpoint-restore/go-criu/v8/crit/images/file-lock"
	"github.com/crlazy/crlazy/images"
	"google.golang.org/protobuf/proto"
)

func lockRec(flag, typ uint32, fd int32, start, length int64) *filelock.FileLockEntry {
	return &filelock.FileLockEntry{Flag: proto.Uint32(flag), Type: proto.Uint32(typ), Pid: proto.Int32(1),
		Fd: proto.Int32(fd), Start: proto.Int64(start), Len: proto.Int64(length)}
}

// TestCheckLock: a lock record must name a known kind and type, a sane
// range and a descriptor of the process's (possibly shared) table.
func TestCheckLock(t *testing.T) {
	files := map[uint32]*fdinfo.FileEntry{1: {Type: fdinfo.FdTypes_REG.Enum()}}
	owner := &restorer{img: &image{pid: 10, files: files, fds: []*fdinfo.FdinfoEntry{{Id: proto.Uint32(1), Fd: proto.Uint32(3)}}}}
	owner.filesOwner = owner
	owner.files = &treeFiles{files: files}
	sharer := &restorer{img: &image{pid: 11, files: files}, filesOwner: owner, files: owner.files}
	for _, c := range []struct {
		e  *filelock.FileLockEntry
		ok bool
	}{
		{lockRec(images.FileLockPosix, images.FileLockWrite, 3, 0, 100), true},
		{lockRec(images.FileLockOFD, images.FileLockRead, 3, 10, 0), true},
		{lockRec(images.FileLockFlock, images.FileLockWrite, 3, 0, 0), true},
		{lockRec(8, images.FileLockWrite, 3, 0, 0), false},                           // a lease
		{lockRec(images.FileLockPosix, 2, 3, 0, 0), false},                           // F_UNLCK
		{lockRec(images.FileLockPosix, images.FileLockRead, 3, -1, 0), false},        // before the file
		{lockRec(images.FileLockPosix, images.FileLockRead, 3, 1<<62, 1<<62), false}, // past off_t
		{lockRec(images.FileLockPosix, images.FileLockRead, 4, 0, 0), false},         // no such fd
	} {
		for _, rs := range []*restorer{owner, sharer} {
			err := rs.checkLock(c.e)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadImage)) {
				t.Errorf("pid %d: %s fd %d: %v, want ok %v", rs.img.pid, images.FileLockName(c.e), c.e.GetFd(), err, c.ok)
			}
		}
	}
}
