package linux

import (
	"encoding/binary"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RawFd returns the descriptor number of f without switching it to
// blocking mode (as f.Fd would). The number is valid while f is open.
func RawFd(f *os.File) (int, error) {
	fd := -1
	err := control(f, func(d uintptr) error {
		fd = int(d)
		return nil
	})
	return fd, err
}

// PollReadable waits until one of fds is readable (or hung up), or
// timeoutMs passes (-1: no limit), and reports which are.
func PollReadable(fds []int, timeoutMs int) ([]bool, error) {
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	for {
		_, err := unix.Poll(pfds, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("poll", err)
		}
		break
	}
	ready := make([]bool, len(fds))
	for i, p := range pfds {
		ready[i] = p.Revents != 0
	}
	return ready, nil
}

// UffdTryReadMsgs reads the messages queued on a non-blocking userfaultfd
// without waiting: none queued gives (0, nil).
func UffdTryReadMsgs(f *os.File, msgs []UffdMsg) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	var n int
	err := control(f, func(fd uintptr) error {
		buf := unsafe.Slice(&msgs[0][0], len(msgs)*UffdMsgSize)
		for {
			got, err := unix.Read(int(fd), buf)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return nil
			}
			if err != nil {
				return os.NewSyscallError("read userfaultfd", err)
			}
			n = got / UffdMsgSize
			return nil
		}
	})
	return n, err
}

// Eventfd is an eventfd(2) used to wake a poll.
type Eventfd struct{ f *os.File }

// NewEventfd creates a non-blocking eventfd owned by the caller.
func NewEventfd() (*Eventfd, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	return &Eventfd{f: os.NewFile(uintptr(fd), "eventfd")}, nil
}

// Fd is the descriptor number, for PollReadable.
func (e *Eventfd) Fd() int {
	fd, _ := RawFd(e.f)
	return fd
}

// Signal makes the eventfd readable.
func (e *Eventfd) Signal() error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1)
	return control(e.f, func(fd uintptr) error {
		_, err := unix.Write(int(fd), b[:])
		if err != nil && err != unix.EAGAIN {
			return os.NewSyscallError("write eventfd", err)
		}
		return nil
	})
}

// Clear consumes pending signals.
func (e *Eventfd) Clear() error {
	var b [8]byte
	return control(e.f, func(fd uintptr) error {
		_, err := unix.Read(int(fd), b[:])
		if err != nil && err != unix.EAGAIN {
			return os.NewSyscallError("read eventfd", err)
		}
		return nil
	})
}

// Close closes the eventfd.
func (e *Eventfd) Close() error { return e.f.Close() }

// FileStat returns the StatInfo of an open file.
func FileStat(f *os.File) (StatInfo, error) {
	var st unix.Stat_t
	err := control(f, func(fd uintptr) error { return unix.Fstat(int(fd), &st) })
	if err != nil {
		return StatInfo{}, os.NewSyscallError("fstat", err)
	}
	return StatInfo{Mode: st.Mode, Dev: st.Dev, Ino: st.Ino, Rdev: st.Rdev, Size: st.Size}, nil
}
