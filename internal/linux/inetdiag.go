package linux

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// sock_diag for inet sockets (include/uapi/linux/inet_diag.h,
// sock_diag.h, netlink.h): a dump of every socket of one family and
// protocol, with its state, addresses, queues and inode. It is how a
// listening socket's backlog is read (idiag_wqueue), and how the
// dumper finds the connections of a tree before it touches them.
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	nlmsgHdrLen      = 16 // struct nlmsghdr
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagReqProto = 3  // INET_DIAG_REQ_PROTOCOL: u32 attribute for protocols above 255
	nlaHdrLen        = 4
	diagRecvBuf      = 64 << 10
	diagMaxSockets   = 1 << 20 // bounds one dump
	diagAllStates    = 0xffffffff
	nlmsgDone        = unix.NLMSG_DONE
	nlmsgError       = unix.NLMSG_ERROR
	nlmFDump         = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
)

// InetDiag is one socket as sock_diag reports it.
type InetDiag struct {
	Family        int
	State         uint8 // TCPEstablished, TCPListen, ... (TCPClose for unbound UDP)
	Local, Remote netip.AddrPort
	Ifindex       uint32
	RQueue        uint32 // listening: connections waiting in the accept queue
	WQueue        uint32 // listening: the backlog
	Inode         uint64
}

// InetDiagDump returns every socket of family (AfInet, AfInet6) and
// protocol (IpprotoTCP, IpprotoUDP, IpprotoMPTCP) in this network
// namespace.
func InetDiagDump(family, protocol int) ([]InetDiag, error) {
	return sockDiagDump(inetDiagRequest(family, protocol), "sock_diag", ParseInetDiag)
}

// sockDiagDump sends a sock_diag dump request and parses the answers
// with parse until the dump is done; name prefixes its errors.
func sockDiagDump[T any](req []byte, name string, parse func([]byte, *[]T) (bool, error)) ([]T, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket NETLINK_SOCK_DIAG", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto "+name, err)
	}
	var out []T
	buf := make([]byte, diagRecvBuf)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("recv "+name, err)
		}
		done, err := parse(buf[:n], &out)
		if err != nil || done {
			return out, err
		}
		if len(out) > diagMaxSockets {
			return nil, fmt.Errorf("%s: more than %d sockets", name, diagMaxSockets)
		}
	}
}

// inetDiagRequest builds the dump request: nlmsghdr, inet_diag_req_v2
// for every state, and the protocol attribute when it does not fit the
// request's byte.
func inetDiagRequest(family, protocol int) []byte {
	size := nlmsgHdrLen + inetDiagReqLen
	if protocol > 0xff {
		size += nlaHdrLen + 4
	}
	b := make([]byte, size)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(size))
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], nlmFDump)
	ne.PutUint32(b[8:], 1) // seq
	r := b[nlmsgHdrLen:]
	r[0], r[1] = byte(family), byte(protocol)
	ne.PutUint32(r[4:], diagAllStates)
	if protocol > 0xff {
		a := r[inetDiagReqLen:]
		ne.PutUint16(a[0:], nlaHdrLen+4)
		ne.PutUint16(a[2:], inetDiagReqProto)
		ne.PutUint32(a[4:], uint32(protocol))
	}
	return b
}

// ParseInetDiag appends the sockets of one netlink datagram to out and
// reports whether the dump is done. It checks every length.
func ParseInetDiag(b []byte, out *[]InetDiag) (done bool, err error) {
	return parseDiagDump(b, "sock_diag", func(msg []byte) error {
		d, err := parseInetDiagMsg(msg)
		if err == nil {
			*out = append(*out, d)
		}
		return err
	})
}

// parseDiagDump walks the messages of one datagram of a sock_diag dump,
// giving each socket's message (after the netlink header) to add, and
// reports whether the dump is done. It checks every length; name
// prefixes its errors.
func parseDiagDump(b []byte, name string, add func(msg []byte) error) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return false, fmt.Errorf("%s: message of %d bytes in %d", name, l, len(b))
		}
		msg, typ := b[nlmsgHdrLen:l], ne.Uint16(b[4:])
		switch typ {
		case nlmsgDone:
			return true, nil
		case nlmsgError:
			if len(msg) >= 4 {
				if e := int32(ne.Uint32(msg)); e < 0 {
					return false, os.NewSyscallError(name, unix.Errno(-e))
				}
			}
			return false, fmt.Errorf("%s: malformed error message", name)
		case sockDiagByFamily:
			if err := add(msg); err != nil {
				return false, err
			}
		}
		b = b[min(len(b), (l+3)&^3):]
	}
	return false, nil
}

func parseInetDiagMsg(m []byte) (InetDiag, error) {
	if len(m) < inetDiagMsgLen {
		return InetDiag{}, fmt.Errorf("sock_diag: inet_diag_msg of %d bytes", len(m))
	}
	ne := binary.NativeEndian
	d := InetDiag{Family: int(m[0]), State: m[1]}
	id := m[4:52]
	sport, dport := binary.BigEndian.Uint16(id[0:]), binary.BigEndian.Uint16(id[2:])
	src, dst := diagAddr(d.Family, id[4:20]), diagAddr(d.Family, id[20:36])
	d.Local, d.Remote = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	d.Ifindex = ne.Uint32(id[36:])
	d.RQueue, d.WQueue = ne.Uint32(m[56:]), ne.Uint32(m[60:])
	d.Inode = uint64(ne.Uint32(m[68:]))
	return d, nil
}

func diagAddr(family int, b []byte) netip.Addr {
	if family == unix.AF_INET {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16([16]byte(b))
}
