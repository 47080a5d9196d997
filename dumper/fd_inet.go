package dumper

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	skinet "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-inet"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/tcprepair"
	"google.golang.org/protobuf/proto"
)

// inetSock is an IPv4 or IPv6 socket of the tree, read through crlazy's
// own copy of it (pidfd_getfd), which the caller closes.
type inetSock struct {
	f                  *os.File
	o                  openFd
	family, typ, proto int
	local, remote      netip.AddrPort
	state              uint8 // TCP state (TCPClose for an unconnected UDP socket)
	backlog, queued    uint32
}

// socketEntry builds the record of a socket: IPv4 and IPv6 TCP, UDP and
// MPTCP sockets are saved (fd_inet*.go); the others are refused, named.
func (c *collector) socketEntry(o openFd) (*fdinfo.FileEntry, error) {
	refusal := unsupported("sockets are not supported yet", "%s", o.what)
	f, err := c.p.leader().StealFD(o.fd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	s := &inetSock{f: f, o: o}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	if s.family, s.typ, s.proto, err = linux.SocketInfo(f); err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	if s.family != linux.AfInet && s.family != linux.AfInet6 {
		return nil, c.socketError(o.fd, refusal)
	}
	if err := c.net.checkKind(s); err != nil {
		return nil, err
	}
	if err := c.net.inspect(s); err != nil {
		return nil, err
	}
	isk, err := s.entry()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	if isConnection(s) {
		if keep, err = c.net.saveConnection(s, isk); err != nil {
			return nil, err
		}
	}
	e := &fdinfo.FileEntry{Type: fdinfo.FdTypes_INETSK.Enum(), Isk: isk}
	c.net.sockets = append(c.net.sockets, e)
	return e, nil
}

// isConnection reports whether s is a TCP connection whose queues and
// sequence numbers are saved.
func isConnection(s *inetSock) bool {
	return s.proto != linux.IpprotoUDP && s.state != linux.TCPListen && s.state != linux.TCPClose
}

// checkKind refuses the inet sockets crlazy cannot rebuild: raw and ping
// sockets, UDP-Lite, SCTP, and sockets of another network namespace.
func (n *netDump) checkKind(s *inetSock) error {
	name := socketName(s.family, s.typ, s.proto)
	switch {
	case s.typ == linux.SockRaw:
		return unsupported("raw sockets cannot be checkpointed ("+name+")", "%s", s.o.what)
	case s.typ == linux.SockStream && (s.proto == linux.IpprotoTCP || s.proto == linux.IpprotoMPTCP):
	case s.typ == linux.SockDgram && s.proto == linux.IpprotoUDP:
	default:
		return unsupported("only TCP, UDP and MPTCP sockets can be checkpointed ("+name+")", "%s", s.o.what)
	}
	same, err := n.sameNetns(s.f)
	if err != nil {
		return fmt.Errorf("%s: %w", s.o.what, err)
	}
	if !same {
		return unsupported("the socket is in another network namespace than crlazy; run crlazy in it (ip netns exec)", "%s", s.o.what)
	}
	nf, err := linux.SocketFilterLen(s.f)
	if err != nil {
		return fmt.Errorf("%s: %w", s.o.what, err)
	}
	if nf > 0 {
		return unsupported("socket filters (SO_ATTACH_FILTER) are not supported", "%s", s.o.what)
	}
	return nil
}

// inspect reads the addresses and state of s; a listener's backlog and a
// connection's addresses come from sock_diag.
func (n *netDump) inspect(s *inetSock) (err error) {
	if s.local, err = linux.SockName(s.f); err != nil {
		return fmt.Errorf("%s: %w", s.o.what, err)
	}
	if s.proto == linux.IpprotoUDP {
		s.state = linux.TCPClose
		if s.remote, err = linux.PeerName(s.f); err == nil {
			s.state = linux.TCPEstablished
		}
		return nil
	}
	info, err := linux.TCPInfo(s.f)
	if err != nil {
		return fmt.Errorf("%s: %w", s.o.what, err)
	}
	s.state = info.State
	switch s.state {
	case linux.TCPListen:
		return n.inspectListener(s)
	case linux.TCPClose:
		return nil
	case linux.TCPSynSent, linux.TCPSynRecv:
		return unsupported("a TCP connection in progress ("+tcprepair.StateName(s.state)+") cannot be checkpointed", "%s", s.o.what)
	}
	if s.remote, err = linux.PeerName(s.f); err != nil {
		return fmt.Errorf("%s: %w", s.o.what, err)
	}
	return n.checkConnection(s)
}

// inspectListener finds the backlog of a listening socket.
func (n *netDump) inspectListener(s *inetSock) error {
	d, err := n.diagOf(s)
	if err != nil {
		return err
	}
	s.backlog, s.queued = d.WQueue, d.RQueue
	switch {
	case s.queued > 0 && !n.skipInFlight:
		// criu refuses them too unless told to drop them.
		return unsupported(fmt.Sprintf("%d connections wait in the accept queue of this listener (%s) and cannot be saved; "+
			"dump with --tcp-skip-in-flight to drop them (their clients see a reset)", s.queued, s.local), "%s", s.o.what)
	case s.queued > 0:
		n.log.Warn("connections waiting in a listening socket's accept queue are dropped (--tcp-skip-in-flight; their peers see a reset)",
			"fd", s.o.what, "address", s.local, "pending", s.queued)
	}
	return nil
}

// entry builds the socket's inet_sk_entry (the id is set later).
func (s *inetSock) entry() (*skinet.InetSkEntry, error) {
	isk := &skinet.InetSkEntry{
		Id: proto.Uint32(0), Ino: proto.Uint32(uint32(s.o.st.Ino)),
		Family: proto.Uint32(uint32(s.family)), Type: proto.Uint32(uint32(s.typ)),
		Proto: proto.Uint32(uint32(s.proto)), State: proto.Uint32(uint32(s.state)),
		SrcPort: proto.Uint32(uint32(s.local.Port())), DstPort: proto.Uint32(uint32(s.remote.Port())),
		Flags: proto.Uint32(s.o.statusFlags()), Backlog: proto.Uint32(s.backlog),
		SrcAddr: linux.AddrWords(s.local.Addr().WithZone("")), Fown: noOwner(),
	}
	if s.remote.IsValid() {
		isk.DstAddr = linux.AddrWords(s.remote.Addr().WithZone(""))
	}
	if z := s.local.Addr().Zone(); z != "" { // a link-local address: its interface
		if i, err := strconv.Atoi(z); err == nil {
			if ifi, err := net.InterfaceByIndex(i); err == nil {
				isk.Ifname = proto.String(ifi.Name)
			}
		}
	}
	return isk, collectSockOpts(s, isk)
}
