package linux

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// Wrappers for the descriptor kinds that crlazy saves and rebuilds: here
// pipes (tee, capacity, queued bytes), status flags and plain reads and
// writes; fdkinds_anon.go has eventfd, signalfd, timerfd, inotify, pidfd
// and sockets.
//
// Every file created here is blocking and close-on-exec, so that Go's
// poller never registers it (os.NewFile adds non-blocking descriptors to
// the poller, which would then hold a registration on a description that a
// restored process shares); callers set O_NONBLOCK with SetStatusFlags
// once the file is filled.

// Constants of these kinds (uapi headers named per group).
const (
	EfdSemaphore        = unix.EFD_SEMAPHORE           // linux/eventfd.h
	PidfdThread         = unix.O_EXCL                  // linux/pidfd.h: PIDFD_THREAD
	TfdTimerAbstime     = unix.TFD_TIMER_ABSTIME       // linux/timerfd.h
	TfdTimerCancelOnSet = unix.TFD_TIMER_CANCEL_ON_SET // linux/timerfd.h
	ODirect             = unix.O_DIRECT
	OAsync              = unix.O_ASYNC
	FGetfl              = unix.F_GETFL
	FSetfl              = unix.F_SETFL
	EpollCtlAdd         = unix.EPOLL_CTL_ADD
	SysEpollCreate1     = unix.SYS_EPOLL_CREATE1
	SysEpollCtl         = unix.SYS_EPOLL_CTL
)

// Socket families, types and protocols, for naming a refused socket.
const (
	AfUnix        = unix.AF_UNIX
	AfInet        = unix.AF_INET
	AfInet6       = unix.AF_INET6
	AfNetlink     = unix.AF_NETLINK
	AfPacket      = unix.AF_PACKET
	SockStream    = unix.SOCK_STREAM
	SockDgram     = unix.SOCK_DGRAM
	SockSeqpacket = unix.SOCK_SEQPACKET
	SockRaw       = unix.SOCK_RAW
	IpprotoTCP    = unix.IPPROTO_TCP
	IpprotoUDP    = unix.IPPROTO_UDP
	IpprotoMPTCP  = unix.IPPROTO_MPTCP
)

// newFile wraps a descriptor this package created.
func newFile(fd int, name string) *os.File {
	return os.NewFile(uintptr(fd), name)
}

// OpenFile opens path with flags plus O_CLOEXEC|O_NOCTTY, outside Go's
// poller (unlike os.OpenFile, which registers FIFOs). With ONonblock an
// open of a FIFO never waits for a peer.
func OpenFile(path string, flags int) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return newFile(fd, path), nil
	}
}

// Pipe2 creates a blocking pipe; both ends are owned by the caller.
func Pipe2() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	return newFile(p[0], "pipe"), newFile(p[1], "pipe"), nil
}

// fcntl runs fcntl(f, cmd, arg) and returns its result.
func fcntl(f *os.File, name string, cmd, arg int) (int, error) {
	var r int
	err := control(f, func(fd uintptr) error {
		var err error
		r, err = unix.FcntlInt(fd, cmd, arg)
		return err
	})
	return r, os.NewSyscallError(name, err)
}

// PipeSize returns the capacity of the pipe f is an end of (F_GETPIPE_SZ).
func PipeSize(f *os.File) (int, error) {
	return fcntl(f, "fcntl F_GETPIPE_SZ", unix.F_GETPIPE_SZ, 0)
}

// SetPipeSize sets the capacity of a pipe (F_SETPIPE_SZ) and returns the
// capacity the kernel chose (n rounded up to a power-of-two number of
// pages).
func SetPipeSize(f *os.File, n int) (int, error) {
	return fcntl(f, "fcntl F_SETPIPE_SZ", unix.F_SETPIPE_SZ, n)
}

// StatusFlags returns the file status flags and access mode (F_GETFL).
func StatusFlags(f *os.File) (int, error) {
	return fcntl(f, "fcntl F_GETFL", unix.F_GETFL, 0)
}

// SetStatusFlags sets the file status flags (F_SETFL: O_APPEND,
// O_NONBLOCK, O_ASYNC, ...) of the open file description.
func SetStatusFlags(f *os.File, flags int) error {
	_, err := fcntl(f, "fcntl F_SETFL", unix.F_SETFL, flags)
	return err
}

// PipeQueued returns the number of bytes queued in the pipe (FIONREAD).
func PipeQueued(f *os.File) (int, error) {
	var n int
	err := control(f, func(fd uintptr) error {
		var err error
		n, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ)
		return err
	})
	return n, os.NewSyscallError("ioctl FIONREAD", err)
}

// Tee duplicates up to n bytes queued in the pipe in into the pipe out
// without consuming them (tee(2), never waiting).
func Tee(in, out *os.File, n int) (int, error) {
	var got int64
	err := control(in, func(ifd uintptr) error {
		return control(out, func(ofd uintptr) error {
			for {
				var err error
				got, err = unix.Tee(int(ifd), int(ofd), n, unix.SPLICE_F_NONBLOCK)
				if err != unix.EINTR {
					return err
				}
			}
		})
	})
	return int(got), os.NewSyscallError("tee", err)
}

// ReadFull reads len(buf) bytes from f (blocking), or fails.
func ReadFull(f *os.File, buf []byte) error {
	return control(f, func(fd uintptr) error {
		for off := 0; off < len(buf); {
			n, err := unix.Read(int(fd), buf[off:])
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				return os.NewSyscallError("read", err)
			case n == 0:
				return os.NewSyscallError("read", unix.EIO)
			}
			off += n
		}
		return nil
	})
}

// WriteFull writes all of b to f (blocking).
func WriteFull(f *os.File, b []byte) error {
	return control(f, func(fd uintptr) error {
		for off := 0; off < len(b); {
			n, err := unix.Write(int(fd), b[off:])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return os.NewSyscallError("write", err)
			}
			off += n
		}
		return nil
	})
}

// epollEventSize is sizeof(struct epoll_event) on x86_64, where the
// struct is packed (include/uapi/linux/eventpoll.h: EPOLL_PACKED): a
// __u32 events then a __u64 data at offset 4.
const epollEventSize = 12

// EpollEventBytes encodes a struct epoll_event, for an injected
// epoll_ctl.
func EpollEventBytes(events uint32, data uint64) []byte {
	b := make([]byte, epollEventSize)
	binary.LittleEndian.PutUint32(b, events)
	binary.LittleEndian.PutUint64(b[4:], data)
	return b
}

// Drain reads and drops everything f has to read, until it would block
// (f must be non-blocking).
func Drain(f *os.File) error {
	buf := make([]byte, 4096)
	return control(f, func(fd uintptr) error {
		for {
			n, err := unix.Read(int(fd), buf)
			switch {
			case err == unix.EINTR:
			case err == unix.EAGAIN, err == nil && n == 0:
				return nil
			case err != nil:
				return os.NewSyscallError("read", err)
			}
		}
	})
}
