package linux

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// sock_diag for UNIX sockets (include/uapi/linux/unix_diag.h): a dump of
// every UNIX socket of the network namespace with its type, state, name,
// bound inode, peer, pending connections, queue lengths and shutdown
// state. It is how the dumper pairs the sockets of a tree and tells a
// peer outside the tree from a closed one. The netlink framing is shared
// with inetdiag.go.
const (
	unixDiagReqLen  = 24 // struct unix_diag_req
	unixDiagMsgLen  = 16 // struct unix_diag_msg
	udiagShowName   = 0x01
	udiagShowVFS    = 0x02
	udiagShowPeer   = 0x04
	udiagShowIcons  = 0x08
	udiagShowRqlen  = 0x10
	udiagShowUID    = 0x40
	unixDiagName    = 0 // UNIX_DIAG_NAME: sun_path bytes
	unixDiagVFS     = 1 // UNIX_DIAG_VFS: struct unix_diag_vfs {u32 ino, dev}
	unixDiagPeer    = 2 // UNIX_DIAG_PEER: u32 inode
	unixDiagIcons   = 3 // UNIX_DIAG_ICONS: u32 inodes of the accept queue
	unixDiagRqlen   = 4 // UNIX_DIAG_RQLEN: struct unix_diag_rqlen {u32 rqueue, wqueue}
	unixDiagShut    = 6 // UNIX_DIAG_SHUTDOWN: u8 sk_shutdown
	unixDiagUID     = 7 // UNIX_DIAG_UID: u32
	unixSunPathMax  = 108
	unixMaxPending  = 1 << 16 // bounds UNIX_DIAG_ICONS of one listener
	kernelMinorBits = 20      // the kernel's internal dev_t (MINORBITS)
)

// Shutdown bits of UnixDiag.Shutdown (include/net/sock.h).
const (
	RcvShutdown  = 1
	SendShutdown = 2
)

// UnixDiag is one UNIX socket as sock_diag reports it.
type UnixDiag struct {
	Type, State uint8  // SockStream..., TCPListen / TCPEstablished / TCPClose
	Inode       uint64 // the socket's inode (as in /proc/PID/fd)
	// Name is the bound address's sun_path: a path without its NUL, or
	// an abstract name starting with a NUL byte; empty when unbound.
	Name []byte
	// VFSIno and VFSDev identify the file a path name was bound to (dev
	// in stat(2)'s encoding); zero for abstract names.
	VFSIno, VFSDev uint64
	Peer           uint64 // inode of the peer; 0 for none
	// Pending lists, for a listener, the clients whose connections wait
	// in its accept queue, oldest first (a connection not yet accepted
	// has no inode of its own: its client shows Peer 0).
	Pending []uint64
	// RQueue and WQueue: for a listener, connections waiting and the
	// backlog; otherwise the bytes queued to be read (a datagram socket:
	// its first datagram only) and the memory its sent data still holds.
	RQueue, WQueue uint32
	Shutdown       uint8 // RcvShutdown | SendShutdown
	UID            uint32
	HasRqlen       bool
}

// UnixDiagDump returns every UNIX socket of this network namespace.
func UnixDiagDump() ([]UnixDiag, error) {
	return sockDiagDump(unixDiagRequest(), "unix_diag", ParseUnixDiag)
}

// unixDiagRequest asks for every state and every attribute crlazy reads.
func unixDiagRequest() []byte {
	b := make([]byte, nlmsgHdrLen+unixDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], nlmFDump)
	ne.PutUint32(b[8:], 1) // seq
	r := b[nlmsgHdrLen:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], diagAllStates)
	ne.PutUint32(r[12:], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRqlen|udiagShowUID)
	return b
}

// ParseUnixDiag appends the sockets of one netlink datagram to out and
// reports whether the dump is done. It checks every length.
func ParseUnixDiag(b []byte, out *[]UnixDiag) (done bool, err error) {
	return parseDiagDump(b, "unix_diag", func(msg []byte) error {
		d, err := parseUnixDiagMsg(msg)
		if err == nil {
			*out = append(*out, d)
		}
		return err
	})
}

func parseUnixDiagMsg(m []byte) (UnixDiag, error) {
	if len(m) < unixDiagMsgLen {
		return UnixDiag{}, fmt.Errorf("unix_diag: unix_diag_msg of %d bytes", len(m))
	}
	ne := binary.NativeEndian
	d := UnixDiag{Type: m[1], State: m[2], Inode: uint64(ne.Uint32(m[4:]))}
	for a := m[unixDiagMsgLen:]; len(a) >= nlaHdrLen; {
		l := int(ne.Uint16(a[0:]))
		if l < nlaHdrLen || l > len(a) {
			return d, fmt.Errorf("unix_diag: attribute of %d bytes in %d", l, len(a))
		}
		if err := d.setAttr(ne.Uint16(a[2:])&0x3fff, a[nlaHdrLen:l]); err != nil {
			return d, err
		}
		a = a[min(len(a), (l+3)&^3):]
	}
	return d, nil
}

// setAttr stores one netlink attribute of a socket.
func (d *UnixDiag) setAttr(typ uint16, v []byte) error {
	ne := binary.NativeEndian
	switch {
	case typ == unixDiagName:
		if len(v) > unixSunPathMax {
			return fmt.Errorf("unix_diag: name of %d bytes", len(v))
		}
		if len(v) > 0 && v[0] != 0 { // a path: drop the NUL and what follows
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
		}
		d.Name = append([]byte(nil), v...)
	case typ == unixDiagVFS && len(v) >= 8:
		d.VFSIno = uint64(ne.Uint32(v[0:]))
		kdev := ne.Uint32(v[4:])
		d.VFSDev = unix.Mkdev(kdev>>kernelMinorBits, kdev&(1<<kernelMinorBits-1))
	case typ == unixDiagPeer && len(v) >= 4:
		d.Peer = uint64(ne.Uint32(v))
	case typ == unixDiagIcons:
		if len(v)/4 > unixMaxPending {
			return fmt.Errorf("unix_diag: %d pending connections", len(v)/4)
		}
		for i := 0; i+4 <= len(v); i += 4 {
			d.Pending = append(d.Pending, uint64(ne.Uint32(v[i:])))
		}
	case typ == unixDiagRqlen && len(v) >= 8:
		d.RQueue, d.WQueue, d.HasRqlen = ne.Uint32(v[0:]), ne.Uint32(v[4:]), true
	case typ == unixDiagShut && len(v) >= 1:
		d.Shutdown = v[0]
	case typ == unixDiagUID && len(v) >= 4:
		d.UID = ne.Uint32(v)
	}
	return nil
}
