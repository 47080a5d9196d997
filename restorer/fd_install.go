package restorer

import (
	"os"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
)

// fdSource is a pidfd on crlazy held by a task while its descriptors are
// restored, through which the task takes descriptions from crlazy
// (pidfd_getfd). It sits above every descriptor of the image, so that
// installing one never closes it.
type fdSource struct {
	t     *inject.Task
	pidfd int
}

// openFdSource makes the task open a pidfd on crlazy at descriptor at.
func openFdSource(t *inject.Task, at int) (*fdSource, error) {
	got, err := t.Syscall("pidfd_open", linux.SysPidfdOpen, uint64(os.Getpid()), 0)
	if err != nil {
		return nil, err
	}
	if int(got) != at {
		if err := t.MoveFD(int(got), at, true); err != nil {
			_ = t.Close(int(got))
			return nil, err
		}
	}
	return &fdSource{t: t, pidfd: at}, nil
}

// install puts a duplicate of f (crlazy's) into the task as descriptor
// fd. f stays owned by the caller.
func (s *fdSource) install(f *os.File, fd int, cloexec bool) error {
	ours, err := linux.RawFd(f)
	if err != nil {
		return err
	}
	got, err := s.t.Syscall("pidfd_getfd", linux.SysPidfdGetfd, uint64(s.pidfd), uint64(ours), 0)
	if err != nil {
		return err
	}
	if int(got) != fd {
		return s.t.MoveFD(int(got), fd, cloexec)
	}
	if !cloexec { // pidfd_getfd always sets FD_CLOEXEC
		_, err = s.t.Syscall("fcntl F_SETFD", linux.SysFcntl, got, linux.FSetfd, 0)
	}
	return err
}

// close closes the task's pidfd on crlazy.
func (s *fdSource) close() error { return s.t.Close(s.pidfd) }
