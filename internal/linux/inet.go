package linux

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Wrappers for IPv4 and IPv6 sockets (TCP, UDP, MPTCP): create, bind,
// connect, listen, addresses, queues. Like the other files of this
// package, every socket created here is blocking and close-on-exec, so
// that Go's poller never registers it.

// Socket levels, states and flags that the inet socket code needs.
const (
	SolSocket      = unix.SOL_SOCKET
	SolIP          = unix.SOL_IP
	SolIPv6        = unix.SOL_IPV6
	IpprotoUDPLite = unix.IPPROTO_UDPLITE
	ShutRd         = unix.SHUT_RD
	ShutWr         = unix.SHUT_WR
	ShutRdwr       = unix.SHUT_RDWR
	MsgPeek        = unix.MSG_PEEK
	MsgDontwait    = unix.MSG_DONTWAIT
)

// TCP states (include/net/tcp_states.h), as TCP_INFO and inet_diag give
// them.
const (
	TCPEstablished = 1
	TCPSynSent     = 2
	TCPSynRecv     = 3
	TCPFinWait1    = 4
	TCPFinWait2    = 5
	TCPTimeWait    = 6
	TCPClose       = 7
	TCPCloseWait   = 8
	TCPLastAck     = 9
	TCPListen      = 10
	TCPClosing     = 11
)

// NewSocket creates a socket of family, type and protocol, owned by the
// caller.
func NewSocket(family, typ, proto int) (*os.File, error) {
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	return newFile(fd, "socket"), nil
}

// sockaddr turns an address and port into the family's sockaddr. An IPv4
// address given to an IPv6 socket becomes ::ffff:a.b.c.d.
func sockaddr(family int, ap netip.AddrPort) (unix.Sockaddr, error) {
	a := ap.Addr()
	switch family {
	case unix.AF_INET:
		if !a.Is4() && !a.Is4In6() {
			return nil, fmt.Errorf("address %s for an IPv4 socket: %w", a, unix.EAFNOSUPPORT)
		}
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}, nil
	case unix.AF_INET6:
		sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
		if z := a.Zone(); z != "" {
			id, err := strconv.ParseUint(z, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("address %s: zone is not an interface index", a)
			}
			sa.ZoneId = uint32(id)
		}
		return sa, nil
	}
	return nil, fmt.Errorf("family %d: %w", family, unix.EAFNOSUPPORT)
}

// addrPort turns a sockaddr back into an address and port (the zone of
// an IPv6 address is its interface index).
func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(sa.ZoneId), 10))
		}
		return netip.AddrPortFrom(a, uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// Bind binds socket f (of family) to ap.
func Bind(f *os.File, family int, ap netip.AddrPort) error {
	sa, err := sockaddr(family, ap)
	if err != nil {
		return err
	}
	err = control(f, func(fd uintptr) error { return unix.Bind(int(fd), sa) })
	return os.NewSyscallError("bind "+ap.String(), err)
}

// Connect connects socket f (of family) to ap. A TCP socket in repair
// mode is connected at once, without a SYN.
func Connect(f *os.File, family int, ap netip.AddrPort) error {
	sa, err := sockaddr(family, ap)
	if err != nil {
		return err
	}
	err = control(f, func(fd uintptr) error {
		for {
			if err := unix.Connect(int(fd), sa); err != unix.EINTR {
				return err
			}
		}
	})
	return os.NewSyscallError("connect "+ap.String(), err)
}

// Listen makes f listen with backlog.
func Listen(f *os.File, backlog int) error {
	err := control(f, func(fd uintptr) error { return unix.Listen(int(fd), backlog) })
	return os.NewSyscallError("listen", err)
}

// Shutdown shuts down part of a connection (ShutRd, ShutWr, ShutRdwr).
func Shutdown(f *os.File, how int) error {
	err := control(f, func(fd uintptr) error { return unix.Shutdown(int(fd), how) })
	return os.NewSyscallError("shutdown", err)
}

// SockName returns the local address of an inet socket (the zero
// AddrPort for another family).
func SockName(f *os.File) (netip.AddrPort, error) {
	var sa unix.Sockaddr
	err := control(f, func(fd uintptr) error {
		var err error
		sa, err = unix.Getsockname(int(fd))
		return err
	})
	return addrPort(sa), os.NewSyscallError("getsockname", err)
}

// PeerName returns the remote address of a connected inet socket;
// errors.Is(err, ENOTCONN) when it is not connected.
func PeerName(f *os.File) (netip.AddrPort, error) {
	var sa unix.Sockaddr
	err := control(f, func(fd uintptr) error {
		var err error
		sa, err = unix.Getpeername(int(fd))
		return err
	})
	return addrPort(sa), os.NewSyscallError("getpeername", err)
}

// EADDRINUSE is returned by Bind for an address taken (PeerName returns
// ENOTCONN for a socket that is not connected).
const EADDRINUSE = unix.EADDRINUSE

// ENOPROTOOPT is returned for a socket option the protocol lacks.
const ENOPROTOOPT = unix.ENOPROTOOPT

// SockIoctl returns the int result of ioctl req on a socket (SiocInq,
// SiocOutq, SiocOutqNSD).
func SockIoctl(f *os.File, req uint) (int, error) {
	var n int
	err := control(f, func(fd uintptr) error {
		var err error
		n, err = unix.IoctlGetInt(int(fd), req)
		return err
	})
	return n, os.NewSyscallError("ioctl "+strconv.Itoa(int(req)), err)
}

// RecvPeek copies up to n queued bytes of f without consuming them, and
// never waits. In TCP repair mode it reads the queue chosen with
// SockoptTCPRepairQueue (the send queue included).
func RecvPeek(f *os.File, n int) ([]byte, error) {
	buf := make([]byte, n)
	got := 0
	err := control(f, func(fd uintptr) error {
		for {
			r, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return nil
			case err != nil:
				return err
			}
			got = r
			return nil
		}
	})
	return buf[:got], os.NewSyscallError("recv MSG_PEEK", err)
}

// SendAll writes all of b to socket f (blocking: callers bound the wait
// with SO_SNDTIMEO).
func SendAll(f *os.File, b []byte) error {
	err := control(f, func(fd uintptr) error {
		for len(b) > 0 {
			n, err := unix.Write(int(fd), b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	})
	return os.NewSyscallError("write", err)
}

// AddrWords returns an address as criu stores it (inet_sk_entry src_addr,
// dst_addr): its bytes in network order, as native (little-endian)
// 32-bit words: one for IPv4, four for IPv6.
func AddrWords(a netip.Addr) []uint32 {
	b := a.AsSlice()
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

// AddrFromWords is the inverse of AddrWords.
func AddrFromWords(w []uint32) (netip.Addr, bool) {
	b := make([]byte, 4*len(w))
	for i, x := range w {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return netip.AddrFromSlice(b)
}

// Raw IP sockets, for the segments tcprepair forges.
const (
	SockRawType = unix.SOCK_RAW
	IPHdrincl   = unix.IP_HDRINCL
)

// SendTo sends one datagram b to ap on socket f (of family).
func SendTo(f *os.File, family int, b []byte, ap netip.AddrPort) error {
	sa, err := sockaddr(family, ap)
	if err != nil {
		return err
	}
	err = control(f, func(fd uintptr) error {
		for {
			if err := unix.Sendto(int(fd), b, 0, sa); err != unix.EINTR {
				return err
			}
		}
	})
	return os.NewSyscallError("sendto "+ap.String(), err)
}
