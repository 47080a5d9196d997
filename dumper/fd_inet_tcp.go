package dumper

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	skinet "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-inet"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/netlock"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/tcprepair"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// maxTreeTCPBytes bounds the TCP queue bytes one dump holds in memory
// until the store is written.
const maxTreeTCPBytes = 256 << 20

// netDump is the network part of one dump: the sock_diag tables, the lock
// holding the tree's connections, and the connections in repair mode
// (crlazy's copies, kept open until the dump ends). Used from the dump's
// goroutine only.
type netDump struct {
	established  bool // --tcp-established
	skipInFlight bool // --tcp-skip-in-flight
	log          *slog.Logger
	diag         map[[2]int]map[uint64]linux.InetDiag // (family, proto) -> inode -> socket
	lock         *netlock.Lock
	netns        uint64 // SO_NETNS_COOKIE of crlazy's network namespace, once read
	tids         map[int]bool
	paused       []*os.File          // in repair mode, until finish or abort
	sockets      []*fdinfo.FileEntry // every inet socket saved
	streams      []savedStream
	bytes        int
}

// savedStream is a connection saved, written with its socket's record
// (whose id is the file id).
type savedStream struct {
	isk *skinet.InetSkEntry
	st  *tcprepair.State
}

func newNetDump(established bool, log *slog.Logger, tids map[int]bool) *netDump {
	return &netDump{established: established, log: log, tids: tids, diag: map[[2]int]map[uint64]linux.InetDiag{}}
}

// sameNetns reports whether socket f lives in crlazy's network namespace
// (where it will be rebuilt and the lock applies).
func (n *netDump) sameNetns(f *os.File) (bool, error) {
	if n.netns == 0 {
		probe, err := linux.NewSocket(linux.AfInet, linux.SockDgram, linux.IpprotoUDP)
		if err != nil {
			return false, err
		}
		n.netns, err = linux.GetsockoptUint64(probe, linux.SolSocket, linux.SoNetnsCookie)
		probe.Close()
		if err != nil {
			return false, err
		}
	}
	c, err := linux.GetsockoptUint64(f, linux.SolSocket, linux.SoNetnsCookie)
	return c == n.netns, err
}

// diagOf returns what sock_diag says of s (one dump per family and
// protocol, cached).
func (n *netDump) diagOf(s *inetSock) (linux.InetDiag, error) {
	key := [2]int{s.family, s.proto}
	if n.diag[key] == nil {
		all, err := linux.InetDiagDump(s.family, s.proto)
		if err != nil {
			return linux.InetDiag{}, fmt.Errorf("%s: %w", s.o.what, err)
		}
		n.diag[key] = map[uint64]linux.InetDiag{}
		for _, d := range all {
			n.diag[key][d.Inode] = d
		}
	}
	d, ok := n.diag[key][s.o.st.Ino]
	if !ok {
		return d, fmt.Errorf("%s: not found by sock_diag", s.o.what)
	}
	return d, nil
}

// checkConnection refuses a connection unless --tcp-established is
// given and it is TCP (MPTCP has no repair mode), and makes sure the
// lock holds it.
func (n *netDump) checkConnection(s *inetSock) error {
	conn := fmt.Sprintf("%s %s -> %s", tcprepair.StateName(s.state), s.local, s.remote)
	if s.proto == linux.IpprotoMPTCP {
		return unsupported("established MPTCP connections cannot be checkpointed (the kernel has no repair mode for MPTCP): "+conn, "%s", s.o.what)
	}
	if !n.established {
		return unsupported("established TCP connection "+conn+" (dump with --tcp-established to save it)", "%s", s.o.what)
	}
	if n.lock == nil {
		if err := n.lockTree(); err != nil {
			return err
		}
	}
	c := netlock.Conn{Local: s.local, Remote: s.remote}
	if !n.lock.Held(c) {
		return n.lock.Add(c) // it became established since the tree was scanned
	}
	return nil
}

// lockTree holds, in one transaction, every TCP connection of the tree
// before any is read.
func (n *netDump) lockTree() error {
	l, err := netlock.New()
	if err != nil {
		return err
	}
	inodes := map[uint64]bool{}
	for tid := range n.tids {
		fds, err := proc.ListFds(tid)
		if err != nil {
			continue // a thread that shares its table, or went away
		}
		for _, fd := range fds {
			link, _ := proc.ReadFdLink(tid, fd)
			if ino, ok := strings.CutPrefix(link, "socket:["); ok {
				if v, err := strconv.ParseUint(strings.TrimSuffix(ino, "]"), 10, 64); err == nil {
					inodes[v] = true
				}
			}
		}
	}
	var conns []netlock.Conn
	for _, family := range []int{linux.AfInet, linux.AfInet6} {
		all, err := linux.InetDiagDump(family, linux.IpprotoTCP)
		if err != nil {
			return err
		}
		for _, d := range all {
			if inodes[d.Inode] && d.State != linux.TCPListen && d.State != linux.TCPClose {
				conns = append(conns, netlock.Conn{Local: d.Local, Remote: d.Remote})
			}
		}
	}
	if err := l.Add(conns...); err != nil {
		return err
	}
	n.lock = l
	n.log.Info("network locked", "table", l.Name(), "connections", len(conns))
	return nil
}

// saveConnection puts the connection into repair mode (it stays so: the
// process's copy goes away silently when the tree is killed) and saves
// it. It keeps s.f open.
func (n *netDump) saveConnection(s *inetSock, isk *skinet.InetSkEntry) (bool, error) {
	if err := tcprepair.Pause(s.f); err != nil {
		return false, fmt.Errorf("%s: %w", s.o.what, err)
	}
	n.paused = append(n.paused, s.f)
	st, err := tcprepair.Save(s.f)
	if err != nil {
		return true, fmt.Errorf("%s: %w", s.o.what, err)
	}
	n.bytes += len(st.RecvQueue) + len(st.SendQueue)
	if n.bytes > maxTreeTCPBytes {
		return true, unsupported(fmt.Sprintf("the tree's TCP connections queue more than %d bytes", maxTreeTCPBytes), "%s", s.o.what)
	}
	n.streams = append(n.streams, savedStream{isk: isk, st: st})
	return true, nil
}

// write stores the connections and the lock's name, after setting each
// socket's inet_sk_entry id to its file id (assigned after the entry was
// built).
func (n *netDump) write(w *store.Writer) error {
	for _, e := range n.sockets {
		e.Isk.Id = e.Id
	}
	for _, s := range n.streams {
		id := s.isk.GetId()
		if err := w.PutRecord(images.TCPStream, id, s.st.Entry()); err != nil {
			return err
		}
		for _, q := range []struct {
			queue uint64
			data  []byte
		}{{images.TCPQueueRecv, s.st.RecvQueue}, {images.TCPQueueSend, s.st.SendQueue}} {
			for off := 0; off < len(q.data); off += images.TCPQueueBytesMax {
				piece := q.data[off:min(off+images.TCPQueueBytesMax, len(q.data))]
				if err := w.PutSubRecord(images.TCPQueue, id, q.queue<<32|uint64(off), wrapperspb.Bytes(piece)); err != nil {
					return err
				}
			}
		}
	}
	if n.lock != nil {
		return w.PutRecord(images.NetLock, 0, wrapperspb.String(n.lock.Name()))
	}
	return nil
}

// abort lets the connections go on as before the dump: out of repair
// mode, lock released (a failed dump, or --leave-running).
func (n *netDump) abort() error {
	if n == nil {
		return nil
	}
	var errs []error
	for _, f := range n.paused {
		errs = append(errs, tcprepair.Resume(f))
	}
	if n.lock != nil {
		errs = append(errs, n.lock.Release())
	}
	n.close()
	return errors.Join(errs...)
}

// finish ends a dump whose tree was killed: crlazy's copies are closed in
// repair mode, so the connections vanish without a FIN or reset, and the
// lock stays for the restore to remove.
func (n *netDump) finish() {
	if n == nil {
		return
	}
	if n.lock != nil {
		n.log.Info("network stays locked until restore", "table", n.lock.Name())
	}
	n.close()
}

func (n *netDump) close() {
	for _, f := range n.paused {
		f.Close()
	}
	n.paused = nil
}
