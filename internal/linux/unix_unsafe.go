package linux

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UNIX socket addresses are passed raw (struct sockaddr_un,
// include/uapi/linux/un.h): x/sys's SockaddrUnix cannot hold an abstract
// name with NUL bytes in it, turns a path starting with '@' into an
// abstract name and cannot express a 108-byte path. A name here is what
// sock_diag reports: a path without its NUL, or a NUL and the abstract
// name; empty for no name.

// rawUnixAddr builds the sockaddr_un of name and its length.
func rawUnixAddr(name []byte) (*unix.RawSockaddrUnix, uint32, error) {
	if len(name) == 0 || len(name) > len(unix.RawSockaddrUnix{}.Path) {
		return nil, 0, unix.EINVAL
	}
	sa := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	for i, c := range name {
		sa.Path[i] = int8(c)
	}
	n := uint32(2 + len(name))
	if name[0] != 0 && len(name) < len(sa.Path) {
		n++ // a path's NUL
	}
	return sa, n, nil
}

// unixAddrName is the inverse of rawUnixAddr for n bytes of sa.
func unixAddrName(sa *unix.RawSockaddrUnix, n uint32) []byte {
	if n <= 2 || int(n-2) > len(sa.Path) {
		return nil
	}
	b := make([]byte, n-2)
	for i := range b {
		b[i] = byte(sa.Path[i])
	}
	if b[0] != 0 { // a path: up to its NUL
		for i, c := range b {
			if c == 0 {
				return b[:i]
			}
		}
	}
	return b
}

// addrCall runs bind or connect (nr) on fd with name's address.
func addrCall(nr uintptr, fd uintptr, name []byte) error {
	sa, n, err := rawUnixAddr(name)
	if err != nil {
		return err
	}
	for {
		_, _, e := unix.Syscall(nr, fd, uintptr(unsafe.Pointer(sa)), uintptr(n))
		runtime.KeepAlive(sa)
		if e != unix.EINTR {
			return errnoErr(e)
		}
	}
}

// peekMsg is the result of one MSG_PEEK of a UNIX socket.
type peekMsg struct {
	n, full int    // bytes copied; the message's length from the offset
	from    []byte // the sender's name (datagram sockets), or nil
	rights  int    // descriptors attached (SCM_RIGHTS), closed here
	ctrunc  bool   // control data was cut: more were attached
}

// recvPeek peeks at the data at the socket's peek offset without
// consuming it (MSG_PEEK|MSG_TRUNC, never waiting). Descriptors in flight
// that the kernel hands out with a peek are counted and closed at once.
func recvPeek(fd uintptr, buf, oob []byte) (peekMsg, error) {
	var from unix.RawSockaddrUnix
	iov := unix.Iovec{Base: unsafe.SliceData(buf)}
	iov.SetLen(len(buf))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&from)), Namelen: uint32(unsafe.Sizeof(from)), Iov: &iov, Iovlen: 1}
	if len(oob) > 0 {
		msg.Control = unsafe.SliceData(oob)
		msg.SetControllen(len(oob))
	}
	flags := unix.MSG_PEEK | unix.MSG_DONTWAIT | unix.MSG_TRUNC | unix.MSG_CMSG_CLOEXEC
	var r uintptr
	var e unix.Errno
	for {
		r, _, e = unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), uintptr(flags))
		if e != unix.EINTR {
			break
		}
	}
	runtime.KeepAlive(buf)
	runtime.KeepAlive(&from)
	if e != 0 {
		return peekMsg{}, e
	}
	p := peekMsg{full: int(r), n: min(int(r), len(buf)), from: unixAddrName(&from, msg.Namelen)}
	p.ctrunc = msg.Flags&unix.MSG_CTRUNC != 0
	p.rights = closeRights(oob[:msg.Controllen])
	return p, nil
}

// closeRights closes the descriptors of the SCM_RIGHTS messages in oob
// and returns how many there were.
func closeRights(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	n := 0
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		n += len(fds)
	}
	return n
}

// sendTo sends b as one message on fd, to name if it is not empty.
func sendTo(fd uintptr, b []byte, name []byte) (int, error) {
	var to unsafe.Pointer
	var tolen uint32
	if len(name) > 0 {
		sa, n, err := rawUnixAddr(name)
		if err != nil {
			return 0, err
		}
		to, tolen = unsafe.Pointer(sa), n
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(unsafe.SliceData(b))
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(p), uintptr(len(b)),
			uintptr(unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL), uintptr(to), uintptr(tolen))
		runtime.KeepAlive(b)
		if e != unix.EINTR {
			return int(r), errnoErr(e)
		}
	}
}
