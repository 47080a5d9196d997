package restorer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	skinet "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-inet"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/netlock"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/tcprepair"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ErrNeedTCPEstablished is returned for an image holding TCP connections
// restored without Options.TCPEstablished (criu's --tcp-established).
var ErrNeedTCPEstablished = errors.New("the image holds established TCP connections: restore with --tcp-established")

// maxBacklog bounds the backlog of a listening socket (the kernel caps
// it at net.core.somaxconn anyway).
const maxBacklog = 1 << 20

// netRestore is the network part of a restore: every inet socket of the
// image, checked before anything is created, and the network lock the
// dump left. The sockets are built in crlazy's process before the tree
// (so that an address now taken fails the restore before any process
// exists) and handed to the processes like every object crlazy makes
// (treeFiles.objs).
type netRestore struct {
	socks []*inetSpec // listeners and unconnected sockets first, then connections
	lock  string      // nftables table to remove; "" for none
}

// inetSpec is one socket as the image describes it.
type inetSpec struct {
	id            uint32
	isk           *skinet.InetSkEntry
	local, remote netip.AddrPort
	conn          *tcprepair.State // a TCP connection; nil otherwise
}

func (s *inetSpec) String() string {
	kind := "socket"
	switch {
	case isConnState(s.isk):
		return fmt.Sprintf("TCP connection %s -> %s (file id %d)", s.local, s.remote, s.id)
	case s.isk.GetState() == linux.TCPListen:
		kind = "listening socket"
	case s.isk.GetProto() == linux.IpprotoUDP:
		kind = "UDP socket"
	}
	return fmt.Sprintf("%s %s (file id %d)", kind, s.local, s.id)
}

// prepareInet checks every inet socket of the image and loads the
// connections' state.
func prepareInet(r *store.Reader, files map[uint32]*fdinfo.FileEntry, opts Options) (*netRestore, error) {
	n := &netRestore{}
	var name wrapperspb.StringValue
	switch err := r.Record(images.NetLock, 0, &name); {
	case err == nil:
		n.lock = name.GetValue()
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	ids := make([]uint32, 0, len(files))
	for id, f := range files {
		if f.GetType() == fdinfo.FdTypes_INETSK {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var conns []*inetSpec
	for _, id := range ids {
		s, err := inetSpecOf(id, files[id].GetIsk())
		if err != nil {
			return n, fmt.Errorf("file id %d: %w", id, err)
		}
		if !isConnState(s.isk) {
			n.socks = append(n.socks, s)
			continue
		}
		if !opts.TCPEstablished {
			return n, fmt.Errorf("%w (%s)", ErrNeedTCPEstablished, s)
		}
		if s.conn, err = loadConnection(r, s); err != nil {
			return n, fmt.Errorf("%s: %w", s, err)
		}
		conns = append(conns, s)
	}
	n.socks = append(n.socks, conns...)
	return n, nil
}

// isConnState reports whether isk is a TCP connection (saved with its
// queues), not a listener, a closed socket or a UDP socket.
func isConnState(isk *skinet.InetSkEntry) bool {
	st := isk.GetState()
	return isk.GetProto() != linux.IpprotoUDP && st != linux.TCPListen && st != linux.TCPClose
}

// inetSpecOf checks an inet_sk_entry.
func inetSpecOf(id uint32, isk *skinet.InetSkEntry) (*inetSpec, error) {
	if isk == nil {
		return nil, badImage("inet socket without its record")
	}
	fam, typ, proto, st := int(isk.GetFamily()), int(isk.GetType()), int(isk.GetProto()), isk.GetState()
	switch {
	case fam != linux.AfInet && fam != linux.AfInet6:
		return nil, badImage("inet socket of family %d", fam)
	case !(typ == linux.SockStream && (proto == linux.IpprotoTCP || proto == linux.IpprotoMPTCP)) &&
		!(typ == linux.SockDgram && proto == linux.IpprotoUDP):
		return nil, badImage("inet socket of type %d, protocol %d", typ, proto)
	case proto == linux.IpprotoUDP && st != linux.TCPClose && st != linux.TCPEstablished,
		proto == linux.IpprotoMPTCP && st != linux.TCPClose && st != linux.TCPListen,
		proto == linux.IpprotoTCP && st > linux.TCPClosing:
		return nil, badImage("socket of protocol %d in state %d", proto, st)
	case isk.GetBacklog() > maxBacklog:
		return nil, badImage("backlog %d, at most %d", isk.GetBacklog(), maxBacklog)
	}
	s := &inetSpec{id: id, isk: isk}
	var err error
	if s.local, err = addrOf(fam, isk.GetSrcAddr(), isk.GetSrcPort(), isk.GetIfname()); err != nil {
		return nil, err
	}
	if len(isk.GetDstAddr()) > 0 {
		if s.remote, err = addrOf(fam, isk.GetDstAddr(), isk.GetDstPort(), ""); err != nil {
			return nil, err
		}
	}
	if (st == linux.TCPEstablished || isConnState(isk)) && !s.remote.IsValid() {
		return nil, badImage("connected socket without a peer address")
	}
	return s, nil
}

// addrOf decodes an address as criu stores it, with the interface of a
// link-local IPv6 address.
func addrOf(family int, words []uint32, port uint32, ifname string) (netip.AddrPort, error) {
	a, ok := linux.AddrFromWords(words)
	if !ok || (family == linux.AfInet) != a.Is4() || port > 0xffff {
		return netip.AddrPort{}, badImage("address %v port %d for family %d", words, port, family)
	}
	if ifname != "" {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("interface %s of %s: %w", ifname, a, err)
		}
		a = a.WithZone(strconv.Itoa(ifi.Index))
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// build creates every socket, listeners first, and keeps them in
// objs by file id; the caller closes objs.
func (n *netRestore) build(objs map[uint32]*os.File) error {
	for _, s := range n.socks {
		f, err := s.build()
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		objs[s.id] = f
	}
	return nil
}

// abort puts the restored connections back into repair mode, so that
// closing them (the restore failed) sends nothing: their peers get a
// reset once the lock is gone, not a FIN that would look like an orderly
// close.
func (n *netRestore) abort(objs map[uint32]*os.File) {
	if n == nil {
		return
	}
	for _, s := range n.socks {
		if f := objs[s.id]; f != nil && s.conn != nil {
			_ = tcprepair.Pause(f)
		}
	}
}

// unlock removes the dump's network lock: the restored connections talk
// again (the restore succeeded), or are let go (it failed).
func (n *netRestore) unlock() error {
	if n == nil || n.lock == "" {
		return nil
	}
	err := netlock.Remove(n.lock)
	n.lock = ""
	return err
}

// buildInet checks the image's inet sockets and creates them, before any
// process exists. On error the sockets made so far are in tf.objs (the
// caller closes them; connections are paused first, so nothing is sent).
func buildInet(r *store.Reader, tf *treeFiles, opts Options) (*netRestore, error) {
	n, err := prepareInet(r, tf.files, opts)
	if err != nil {
		return nil, n.keptLock(err)
	}
	if err := n.build(tf.objs); err != nil {
		n.abort(tf.objs)
		return nil, n.keptLock(err)
	}
	return n, nil
}

// release removes the network lock once the tree is back; a failure is
// logged (the tree runs; its connections wait until the table goes).
func (n *netRestore) release(log *slog.Logger) {
	if n == nil || n.lock == "" {
		return
	}
	name := n.lock
	if err := n.unlock(); err != nil {
		log.Error("the network lock could not be removed: remove it with `nft delete table inet "+name+"`", "err", err)
		return
	}
	log.Info("network unlocked", "table", name)
}

// keptLock completes the error of a failed restore: the dump's network
// lock stays, so that the restore can be tried again, and the message
// says how to let the connections go instead.
func (n *netRestore) keptLock(err error) error {
	if n == nil || n.lock == "" {
		return err
	}
	return fmt.Errorf("%w (the connections stay held by nftables table inet %s for another restore; `nft delete table inet %s` lets them go)",
		err, n.lock, n.lock)
}
