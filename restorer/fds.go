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
// image refers to by path is there, of the type and size it had (the
// other kinds are checked by loadTreeFiles).
func checkFiles(img *image, mem *memObjects, inherited map[uint32]bool) error {
	for id, f := range img.files {
		reg := f.GetReg()
		if f.GetType() != fdinfo.FdTypes_REG || reg == nil || mem.remapped(id) || inherited[id] {
			continue // deleted files are made again (fd_ghost.go); inherited ones are given
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

// restoreFds closes what the task inherited from the stub and places
// every descriptor of the image at its number, in increasing order:
// files by path are opened inside the task; pipes, eventfds and the
// other kernel objects are made by crlazy (treeFiles) and taken by the
// task through a pidfd on crlazy (fdSource); a description already
// placed is dup3'ed (in this process) or installed from crlazy's copy
// (in another); epoll instances come last, once their targets exist. A
// process sharing its parent's table (CLONE_FILES) has nothing to do.
func (rs *restorer) restoreFds() error {
	if !rs.img.ownsFiles() {
		return nil
	}
	t := rs.leader()
	if _, err := t.Syscall("close_range", linux.SysCloseRange, 0, ^uint64(0)>>32, 0); err != nil {
		return err
	}
	src, err := openFdSource(t, rs.aboveFds())
	if err != nil {
		return err
	}
	err = rs.placeFds(src)
	if cerr := src.close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rs.files.tty.setCtty(rs) // a session leader's terminal: fd_tty_session.go
	}
	return err
}

// aboveFds is a descriptor number above every one of the image.
func (rs *restorer) aboveFds() int {
	if n := len(rs.img.fds); n > 0 {
		return int(rs.img.fds[n-1].GetFd()) + 1
	}
	return 0
}

func (rs *restorer) placeFds(src *fdSource) error {
	t := rs.leader()
	first := map[uint32]int{} // file id -> fd that has it in this process
	var epolls []*fdinfo.FdinfoEntry
	for _, e := range rs.img.fds {
		fd, id := int(e.GetFd()), e.GetId()
		cloexec := e.GetFlags()&linux.FdCloexec != 0
		f := rs.files.files[id]
		var err error
		switch prev, ok := first[id]; {
		case ok:
			_, err = t.Syscall("dup3", linux.SysDup3, uint64(prev), uint64(fd), cloexecFlag(cloexec))
		case f.GetType() == fdinfo.FdTypes_EVENTPOLL:
			epolls = append(epolls, e)
			continue
		default:
			err = rs.placeFd(src, fd, id, f, cloexec)
		}
		if err != nil {
			return fmt.Errorf("fd %d: %w", fd, err)
		}
		first[id] = fd
	}
	if err := rs.restoreEpolls(src, epolls, first); err != nil {
		return err
	}
	return rs.restoreOwners(first)
}

// placeFd puts the description id at fd: crlazy's copy if it has one,
// else a file opened inside the task, else a new object of crlazy's.
func (rs *restorer) placeFd(src *fdSource, fd int, id uint32, f *fdinfo.FileEntry, cloexec bool) error {
	if obj := rs.files.objs[id]; obj != nil {
		return src.install(obj, fd, cloexec)
	}
	if f.GetType() == fdinfo.FdTypes_REG {
		if err := rs.openFd(fd, f, cloexec); err != nil {
			return err
		}
		return rs.keepShared(id, fd)
	}
	obj, err := rs.files.build(f)
	if err != nil {
		return err
	}
	rs.files.objs[id] = obj
	return src.install(obj, fd, cloexec)
}

func cloexecFlag(on bool) uint64 {
	if on {
		return linux.OCloexec
	}
	return 0
}

// openFd opens a regular file, directory or device at descriptor fd with
// its dumped flags and offset. Descriptors are restored in increasing
// order, so the one open returns is never above fd.
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
	if err := rs.restoreCwd(); err != nil {
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

// restoreCwd sets the working directory: by its path, or, if it had been
// removed, into the directory made again for it (fd_ghost.go).
func (rs *restorer) restoreCwd() error {
	id := rs.img.fs.GetCwdId()
	mem := rs.files.mem
	if !mem.remapped(id) {
		return rs.pathCall("chdir", linux.SysChdir, rs.img.files[id].GetReg().GetName())
	}
	t := rs.leader()
	g := mem.ghosts[mem.remaps[id]]
	fd, err := newMapFds().install(t, g.f)
	if err != nil {
		return fmt.Errorf("deleted cwd %s: %w", g.name, err)
	}
	defer t.Close(fd)
	if _, err := t.Syscall("fchdir", linux.SysFchdir, uint64(fd)); err != nil {
		return fmt.Errorf("deleted cwd %s: %w", g.name, err)
	}
	return nil
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
