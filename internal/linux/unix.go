package linux

import (
	"errors"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// Wrappers for UNIX sockets: create, pair, bind (also to a relative
// path), connect, accept, peek at the queue without consuming it, send.
// Names are raw sun_path bytes as sock_diag reports them (see
// unix_unsafe.go). Like every file of this package, the sockets are
// blocking and close-on-exec.

// Options and errors of UNIX sockets.
const (
	SoPeekOff    = unix.SO_PEEK_OFF
	SoPasspidfd  = unix.SO_PASSPIDFD
	SoPassrights = unix.SO_PASSRIGHTS // Linux 6.16; on by default
	SoInq        = unix.SO_INQ        // Linux 6.17
	ECONNREFUSED = unix.ECONNREFUSED
	EPROTOTYPE   = unix.EPROTOTYPE
)

// SoTimestampOpts are the receive timestamp options a socket may have on
// (the _OLD and _NEW names of each).
var SoTimestampOpts = []int{unix.SO_TIMESTAMP_OLD, unix.SO_TIMESTAMP_NEW, unix.SO_TIMESTAMPNS_OLD,
	unix.SO_TIMESTAMPNS_NEW, unix.SO_TIMESTAMPING_OLD, unix.SO_TIMESTAMPING_NEW}

// peekControlLen has room for the most descriptors one message can carry
// (SCM_MAX_FD, 253) and credentials.
var peekControlLen = unix.CmsgSpace(253*4) + unix.CmsgSpace(unix.SizeofUcred)

// Socketpair creates a connected pair of UNIX sockets of type typ.
func Socketpair(typ int) (a, b *os.File, err error) {
	p, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return newFile(p[0], "unix"), newFile(p[1], "unix"), nil
}

// BindUnix binds f to name.
func BindUnix(f *os.File, name []byte) error {
	err := control(f, func(fd uintptr) error { return addrCall(unix.SYS_BIND, fd, name) })
	return os.NewSyscallError("bind "+strconv.Quote(string(name)), err)
}

// InDir runs fn as a process working in directory dir would, for the
// calls that take a path relative to the working directory (bind and
// connect of a relative socket name): on a thread of its own whose
// working directory is dir (unshare(CLONE_FS)); that thread is never
// reused. fn must not start goroutines that depend on the directory.
func InDir(dir *os.File, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		done <- inDir(dir, fn)
	}()
	return <-done
}

func inDir(dir *os.File, fn func() error) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return os.NewSyscallError("unshare CLONE_FS", err)
	}
	err := control(dir, func(fd uintptr) error { return unix.Fchdir(int(fd)) })
	if err != nil {
		return os.NewSyscallError("fchdir "+dir.Name(), err)
	}
	return fn()
}

// ConnectUnix connects f to name without waiting: a listener whose
// accept queue is full gives EAGAIN.
func ConnectUnix(f *os.File, name []byte) error {
	err := control(f, func(fd uintptr) error {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if _, err := unix.FcntlInt(fd, unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
			return err
		}
		cerr := addrCall(unix.SYS_CONNECT, fd, name)
		_, err = unix.FcntlInt(fd, unix.F_SETFL, fl)
		return errors.Join(cerr, err)
	})
	return os.NewSyscallError("connect "+strconv.Quote(string(name)), err)
}

// Accept takes the oldest connection waiting on listener f; the caller
// makes sure one is waiting.
func Accept(f *os.File) (*os.File, error) {
	var nfd int
	err := control(f, func(fd uintptr) error {
		for {
			var err error
			nfd, _, err = unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
			if err != unix.EINTR {
				return err
			}
		}
	})
	if err != nil {
		return nil, os.NewSyscallError("accept4", err)
	}
	return newFile(nfd, "unix"), nil
}

// UnixPeek is one piece of a UNIX socket's receive queue, read without
// consuming it.
type UnixPeek struct {
	Data []byte // the bytes (len(Data) < Full: the buffer was too small)
	Full int    // the message's length (a stream socket: what was copied)
	From []byte // the sender's name, for a datagram; nil if unnamed
	// Rights is how many descriptors travel with it (SCM_RIGHTS), or -1
	// if there were more than the control buffer held.
	Rights int
}

// PeekAt reads the queue of f from byte off on, without consuming it
// and without waiting, into buf: a datagram or seqpacket socket gives the
// message (or the rest of the one) at off, a stream socket as much as
// fits. It moves the socket's peek offset (SO_PEEK_OFF), which the caller
// saves and restores. errors.Is(err, EAGAIN) when nothing is queued past
// off.
func PeekAt(f *os.File, off int, buf []byte) (UnixPeek, error) {
	var p peekMsg
	err := control(f, func(fd uintptr) error {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEEK_OFF, off); err != nil {
			return err
		}
		var err error
		p, err = recvPeek(fd, buf, make([]byte, peekControlLen))
		return err
	})
	if err != nil {
		return UnixPeek{}, os.NewSyscallError("recvmsg MSG_PEEK", err)
	}
	up := UnixPeek{Data: buf[:p.n], Full: p.full, From: p.from, Rights: p.rights}
	if p.ctrunc {
		up.Rights = -1
	}
	return up, nil
}

// OOBPending reports whether an out-of-band byte (MSG_OOB) waits in the
// queue of stream socket f, peeking at it without consuming it: the
// kernel answers EINVAL when there is none (or SO_OOBINLINE is on, and it
// is read inline) and EOPNOTSUPP without CONFIG_AF_UNIX_OOB.
func OOBPending(f *os.File) (bool, error) {
	var n int
	err := control(f, func(fd uintptr) error {
		var b [1]byte
		for {
			var err error
			n, _, err = unix.Recvfrom(int(fd), b[:], unix.MSG_OOB|unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if err != unix.EINTR {
				return err
			}
		}
	})
	switch err {
	case nil:
		return n == 1, nil
	case unix.EINVAL, unix.EOPNOTSUPP, unix.EAGAIN:
		return false, nil
	}
	return false, os.NewSyscallError("recv MSG_OOB|MSG_PEEK", err)
}

// SendUnix sends b as one message (one write of a stream), to name if it
// is not empty, without waiting: a full queue gives EAGAIN. It returns
// how many bytes a stream socket took.
func SendUnix(f *os.File, b, name []byte) (int, error) {
	var n int
	err := control(f, func(fd uintptr) error {
		var err error
		n, err = sendTo(fd, b, name)
		return err
	})
	return n, os.NewSyscallError("sendto", err)
}

// PathInfo is what lstat(2) says of a path: its type and permissions,
// owner and identity (a socket's file, whose owner and mode are restored).
type PathInfo struct {
	Mode, UID, GID uint32
	Dev, Ino       uint64
}

// Lstat stats path without following a last symbolic link.
func Lstat(path string) (PathInfo, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return PathInfo{}, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return PathInfo{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Dev: st.Dev, Ino: st.Ino}, nil
}

// HasPeer reports whether a UNIX socket has a peer (getpeername works):
// a connected datagram socket, also one whose peer has closed since
// (sock_diag then shows no peer).
func HasPeer(f *os.File) (bool, error) {
	err := control(f, func(fd uintptr) error {
		_, err := unix.Getpeername(int(fd))
		return err
	})
	if err == unix.ENOTCONN {
		return false, nil
	}
	return err == nil, os.NewSyscallError("getpeername", err)
}
