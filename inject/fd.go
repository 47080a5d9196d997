package inject

import (
	"fmt"
	"os"

	"github.com/crlazy/crlazy/internal/linux"
)

// StealFD duplicates descriptor fd of the task into this process with
// pidfd_getfd. The target keeps its own copy. The returned file is owned
// by the caller and has FD_CLOEXEC set.
func (t *Task) StealFD(fd int) (*os.File, error) {
	pidfd, err := linux.PidfdOpen(t.TID)
	if err != nil {
		return nil, fmt.Errorf("task %d: steal fd %d: %w", t.TID, fd, err)
	}
	defer pidfd.Close()
	f, err := linux.PidfdGetfd(pidfd, fd)
	if err != nil {
		return nil, fmt.Errorf("task %d: steal fd %d: %w", t.TID, fd, err)
	}
	return f, nil
}

// InstallFD puts a duplicate of f into the task as descriptor fd
// (replacing whatever fd was), by making the task call pidfd_open on us
// and pidfd_getfd on f. The task needs ptrace access to this process,
// which holds while it still has our credentials (do it before restoring
// credentials). f stays owned by the caller.
func (t *Task) InstallFD(f *os.File, fd int, cloexec bool) error {
	err := t.installFD(int(f.Fd()), fd, cloexec)
	if err != nil {
		return fmt.Errorf("task %d: install fd %d: %w", t.TID, fd, err)
	}
	return nil
}

func (t *Task) installFD(ours, fd int, cloexec bool) error {
	pidfd, err := t.Syscall("pidfd_open", linux.SysPidfdOpen, uint64(os.Getpid()), 0)
	if err != nil {
		return err
	}
	got, err := t.Syscall("pidfd_getfd", linux.SysPidfdGetfd, pidfd, uint64(ours), 0)
	// Close the pidfd before moving: it may have the very number fd,
	// which the move would replace and a later close then take away.
	if cerr := t.Close(int(pidfd)); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if int(got) == fd {
		// pidfd_getfd always sets FD_CLOEXEC.
		if !cloexec {
			_, err = t.Syscall("fcntl F_SETFD", linux.SysFcntl, got, linux.FSetfd, 0)
		}
		return err
	}
	return t.MoveFD(int(got), fd, cloexec)
}

// MoveFD makes descriptor from become descriptor to (dup3, then close
// from), with or without FD_CLOEXEC.
func (t *Task) MoveFD(from, to int, cloexec bool) error {
	flags := uint64(0)
	if cloexec {
		flags = linux.OCloexec
	}
	if _, err := t.Syscall("dup3", linux.SysDup3, uint64(from), uint64(to), flags); err != nil {
		return err
	}
	return t.Close(from)
}

// Close closes descriptor fd inside the task.
func (t *Task) Close(fd int) error {
	_, err := t.Syscall("close", linux.SysClose, uint64(fd))
	return err
}

// Open opens path inside the task (openat relative to its cwd) and returns
// the new descriptor.
func (t *Task) Open(path string, flags int, mode uint32) (int, error) {
	defer t.ReleaseArgs(t.ArgMark())
	p, err := t.PutString(path)
	if err != nil {
		return -1, err
	}
	atFdcwd := int64(linux.ATFdcwd)
	fd, err := t.Syscall("open "+path, linux.SysOpenat, uint64(atFdcwd), uint64(p), uint64(flags), uint64(mode))
	return int(fd), err
}
