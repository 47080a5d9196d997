package restorer

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/internal/linux"
)

// ErrFileChanged is returned when a file the image refers to differs from
// what was dumped (so restoring it would not be the same process).
var ErrFileChanged = errors.New("file changed since the dump")

// openFlagsDrop are the open(2) flags that make sense when re-opening
// a file: never create or truncate.
const openFlagsDrop = linux.OCreat | linux.OExcl | linux.OTrunc | linux.ONoctty | linux.OCloexec

// checkFiles verifies, before anything is created, that every file the
// image refers to is there and of the size it had.
func checkFiles(img *image) error {
	for id, f := range img.files {
		reg := f.GetReg()
		if f.GetType() != fdinfo.FdTypes_REG || reg == nil {
			return badImage("file id %d is of type %v", id, f.GetType())
		}
		st, err := linux.Stat(reg.GetName())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: %s no longer exists", ErrFileChanged, reg.GetName())
			}
			return err
		}
		if st.Mode&linux.SIfmt != reg.GetMode()&linux.SIfmt {
			return fmt.Errorf("%w: %s is now of type %#o, was %#o", ErrFileChanged, reg.GetName(),
				st.Mode&linux.SIfmt, reg.GetMode()&linux.SIfmt)
		}
		if reg.Size != nil && checksSize(reg.GetFlags()) && uint64(st.Size) != reg.GetSize() {
			return fmt.Errorf("%w: %s has %d bytes, had %d", ErrFileChanged, reg.GetName(), st.Size, reg.GetSize())
		}
	}
	return nil
}

// checksSize reports whether a file's size must match the dump: not for a
// write-only O_APPEND file (a log), which others may append to meanwhile
// and the process only ever appends to (criu makes the same exception).
func checksSize(flags uint32) bool {
	return !(flags&linux.OAccmode == linux.OWronly && flags&linux.OAppend != 0)
}

// restoreFds closes what the task inherited from the stub and opens every
// descriptor of the image at its number; descriptors that shared an open
// file description share one again (dup).
func (rs *restorer) restoreFds() error {
	t := rs.leader()
	if _, err := t.Syscall("close_range", linux.SysCloseRange, 0, ^uint64(0)>>32, 0); err != nil {
		return err
	}
	first := map[uint32]int{} // file id -> fd that opened it
	for _, e := range rs.img.fds {
		fd := int(e.GetFd())
		cloexec := e.GetFlags()&linux.FdCloexec != 0
		if prev, ok := first[e.GetId()]; ok {
			if _, err := t.Syscall("dup3", linux.SysDup3, uint64(prev), uint64(fd), cloexecFlag(cloexec)); err != nil {
				return fmt.Errorf("fd %d: %w", fd, err)
			}
			continue
		}
		if err := rs.openFd(fd, rs.img.files[e.GetId()], cloexec); err != nil {
			return fmt.Errorf("fd %d: %w", fd, err)
		}
		first[e.GetId()] = fd
	}
	return nil
}

func cloexecFlag(on bool) uint64 {
	if on {
		return linux.OCloexec
	}
	return 0
}

// openFd opens a regular file, directory or device at descriptor fd with
// its dumped flags and offset. Descriptors are restored in increasing
// order, so the one open returns is never above fd, and never one a later
// entry needs.
func (rs *restorer) openFd(fd int, f *fdinfo.FileEntry, cloexec bool) error {
	t := rs.leader()
	reg := f.GetReg()
	flags := int(reg.GetFlags()) &^ openFlagsDrop
	got, err := t.Open(reg.GetName(), flags|int(cloexecFlag(cloexec)), 0)
	if err != nil {
		return err
	}
	if got != fd {
		if err := t.MoveFD(got, fd, cloexec); err != nil {
			return err
		}
	}
	if reg.GetMode()&linux.SIfmt == linux.SIfreg && reg.GetPos() != 0 {
		if _, err := t.Syscall("lseek", linux.SysLseek, uint64(fd), reg.GetPos(), linux.SeekSet); err != nil {
			return err
		}
	}
	return nil
}

// restoreFs sets the working directory, root and umask.
func (rs *restorer) restoreFs() error {
	t := rs.leader()
	// Both paths are as seen from our root, so chdir before chroot.
	cwd := rs.img.files[rs.img.fs.GetCwdId()].GetReg().GetName()
	if err := rs.pathCall("chdir", linux.SysChdir, cwd); err != nil {
		return err
	}
	root := rs.img.files[rs.img.fs.GetRootId()].GetReg().GetName()
	if root != "/" {
		if err := rs.pathCall("chroot", linux.SysChroot, root); err != nil {
			return err
		}
	}
	_, err := t.Syscall("umask", linux.SysUmask, uint64(rs.img.fs.GetUmask()))
	return err
}

// pathCall runs a system call whose only argument is a path.
func (rs *restorer) pathCall(name string, nr int, path string) error {
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	p, err := t.PutString(path)
	if err != nil {
		return err
	}
	if _, err := t.Syscall(name+" "+path, nr, uint64(p)); err != nil {
		return err
	}
	return nil
}
