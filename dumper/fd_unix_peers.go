package dumper

import (
	"fmt"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	skopts "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-opts"
	skunix "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-unix"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// waiting is a connection in a listener's accept queue.
type waiting struct {
	listener uint64 // the listener's inode
	pos      int    // its place in the queue, 0 first
}

// finish checks the peer of every socket of the tree, once all are known:
// a peer in the tree is rebuilt with it; a connection waiting in the
// accept queue of a listener of the tree is reconnected to it (its
// record names the listener as its peer, backlog its place in the queue
// plus one), one from a client outside the tree refused (dropped with
// --ext-unix-sk); a closed peer leaves the socket as it is; a peer
// outside the tree is refused, or with --ext-unix-sk recorded for a
// datagram socket to reconnect to by name, as criu does.
func (u *unixDump) finish(ft *fileTable) error {
	queued := map[uint64]waiting{} // client inode -> its place
	for _, d := range u.diag {
		for i, client := range d.Pending {
			queued[client] = waiting{d.Inode, i}
		}
	}
	for _, s := range u.order {
		var err error
		switch {
		case s.d.Peer != 0 && u.socks[s.d.Peer] != nil:
		case s.d.Peer != 0:
			err = u.external(ft, s)
		case s.d.State == linux.TCPEstablished && s.d.Type != linux.SockDgram:
			err = u.pending(s, queued)
		}
		if err != nil {
			return err
		}
	}
	if err := u.outsideClients(queued); err != nil {
		return err
	}
	u.warnLost()
	return nil
}

// pending handles a connected socket without a peer inode: a client
// whose connection waits to be accepted, or one whose peer closed.
func (u *unixDump) pending(s *unixSock, queued map[uint64]waiting) error {
	w, ok := queued[s.d.Inode]
	if !ok {
		return nil // the peer closed; restored with a peer that closes
	}
	if u.socks[w.listener] == nil {
		return unsupported("a UNIX socket whose connection waits to be accepted by a listening socket outside the dumped tree cannot be saved", "%s", s.what)
	}
	if s.d.WQueue != 0 {
		return unsupported("a UNIX socket whose connection is not yet accepted holds bytes it sent, which cannot be read without accepting it", "%s", s.what)
	}
	s.e.Usk.Peer = proto.Uint32(uint32(w.listener))
	s.e.Usk.Backlog = proto.Uint32(uint32(w.pos + 1))
	return nil
}

// external handles a socket connected to one outside the tree.
func (u *unixDump) external(ft *fileTable, s *unixSock) error {
	p, ok := u.diag[s.d.Peer]
	if !ok {
		s.e.Usk.Peer = proto.Uint32(0) // gone since the table was read
		return nil
	}
	peer := "connected to a UNIX socket outside the dumped tree (inode " + strconv.FormatUint(p.Inode, 10)
	if len(p.Name) > 0 {
		peer += ", " + printableName(p.Name)
	}
	peer += ")"
	switch {
	case s.d.Type != linux.SockDgram:
		return unsupported(peer+"; a stream connection cannot be restored with only one end (--ext-unix-sk covers datagram sockets, as in criu)", "%s", s.what)
	case len(p.Name) == 0:
		return unsupported(peer+" that has no name to reconnect to", "%s", s.what)
	case !u.extUnixSk:
		return unsupported(peer+"; dump with --ext-unix-sk to have restore reconnect it by name", "%s", s.what)
	}
	u.log.Info("datagram socket connected outside the tree: restore reconnects it by name", "fd", s.what, "peer", printableName(p.Name))
	for _, e := range u.extern {
		if e.GetUsk().GetIno() == uint32(p.Inode) {
			return nil
		}
	}
	usk := externEntry(p)
	if p.Name[0] != 0 && p.Name[0] != '/' {
		if err := externDir(s, p, usk); err != nil {
			return err
		}
	}
	e := &fdinfo.FileEntry{Type: fdinfo.FdTypes_UNIXSK.Enum(), Usk: usk}
	ft.addEntry(e)
	u.extern = append(u.extern, e)
	return nil
}

// externEntry is the record of a peer outside the tree: only its name,
// type and inode matter.
func externEntry(p linux.UnixDiag) *skunix.UnixSkEntry {
	z32, z64 := proto.Uint32(0), proto.Uint64(0)
	return &skunix.UnixSkEntry{
		Id: z32, Ino: proto.Uint32(uint32(p.Inode)), Type: proto.Uint32(uint32(p.Type)),
		State: proto.Uint32(uint32(p.State)), Flags: z32, Uflags: proto.Uint32(uflagExtern),
		Backlog: z32, Peer: z32, Fown: noOwner(), Name: p.Name,
		Opts: &skopts.SkOptsEntry{SoSndbuf: z32, SoRcvbuf: z32, SoSndTmoSec: z64, SoSndTmoUsec: z64,
			SoRcvTmoSec: z64, SoRcvTmoUsec: z64},
	}
}

// externDir finds the directory of a peer's relative name: the working
// directory of the process that connected to it, if the name leads to
// the peer's file from there.
func externDir(s *unixSock, p linux.UnixDiag, usk *skunix.UnixSkEntry) error {
	cwd, err := proc.ReadLink(s.pid, "cwd")
	if err != nil {
		return fmt.Errorf("%s: %w", s.what, err)
	}
	st, err := linux.Lstat(cwd + "/" + string(p.Name))
	if err != nil || st.Ino != p.VFSIno || st.Dev != p.VFSDev {
		return unsupported("connected outside the tree to the relative path "+printableName(p.Name)+
			", which does not lead to that socket from the working directory", "%s", s.what)
	}
	usk.NameDir = proto.String(cwd)
	return nil
}

// outsideClients refuses a listener of the tree with connections
// waiting in its accept queue from clients outside the tree: they cannot
// come back, and would be dropped without a word. With --ext-unix-sk
// they are dropped with a warning (their clients see the connection
// reset, as when a server restarts).
func (u *unixDump) outsideClients(queued map[uint64]waiting) error {
	for client, w := range queued {
		l := u.socks[w.listener]
		if l == nil || u.socks[client] != nil {
			continue
		}
		if !u.extUnixSk {
			who := fmt.Sprintf("a client outside the dumped tree (inode %d)", client)
			if client == 0 {
				who = "a client that has closed"
			}
			return unsupported("a connection from "+who+" waits in the listening UNIX socket's accept queue and "+
				"cannot be restored; retry once it is accepted, or dump with --ext-unix-sk to drop it", "%s", l.what)
		}
		u.log.Warn("a connection waiting in a listening UNIX socket's accept queue is dropped (its client is outside the tree)",
			"fd", l.what, "client_inode", client)
	}
	return nil
}

// warnLost logs the sockets outside the tree connected to a datagram
// socket of the tree (their next send fails).
func (u *unixDump) warnLost() {
	for _, d := range u.diag {
		if s := u.socks[d.Peer]; s != nil && u.socks[d.Inode] == nil && s.d.Type == linux.SockDgram {
			u.log.Warn("a socket outside the tree is connected to a datagram socket of the tree; after restore it must reconnect",
				"fd", s.what, "outside_inode", d.Inode)
		}
	}
}

// printableName shows a socket name: a path, or @ and the abstract name
// with its NUL bytes as @ too.
func printableName(name []byte) string {
	if len(name) > 0 && name[0] == 0 {
		b := append([]byte(nil), name...)
		for i, c := range b {
			if c == 0 {
				b[i] = '@'
			}
		}
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(name))
}

// writeUnix stores the queued data of every socket: one record per
// datagram, pieces of a stream, each naming its sender when it is a
// datagram socket of the tree.
func (u *unixDump) writeUnix(w *store.Writer) error {
	senders := map[string]uint32{} // name -> file id of the tree's datagram sockets
	for _, s := range u.order {
		if s.d.Type == linux.SockDgram && len(s.d.Name) > 0 {
			senders[string(s.d.Name)] = s.e.GetId()
		}
	}
	for _, s := range u.order {
		if err := s.writeQueue(w, senders); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		u.warnSenders(s, senders)
	}
	return nil
}

// warnSenders logs the datagrams queued on s whose sender has a name but
// is not a socket of the tree: they are queued again from an unnamed
// socket, so their receiver sees no address to answer.
func (u *unixDump) warnSenders(s *unixSock, senders map[string]uint32) {
	if s.d.Type == linux.SockStream {
		return
	}
	lost := map[string]int{}
	for _, m := range s.queue {
		if len(m.from) > 0 && senders[string(m.from)] == 0 {
			lost[printableName(m.from)]++
		}
	}
	for name, n := range lost {
		u.log.Warn("queued datagrams from a sender outside the tree lose its address: they are queued again from an unnamed socket",
			"fd", s.what, "sender", name, "datagrams", n)
	}
}

func (s *unixSock) writeQueue(w *store.Writer, senders map[string]uint32) error {
	var index uint64
	put := func(b []byte, from uint32) error {
		sub := index<<32 | uint64(from)
		index++
		return w.PutSubRecord(images.UnixQueue, s.e.GetId(), sub, wrapperspb.Bytes(b))
	}
	for _, m := range s.queue {
		if s.d.Type != linux.SockStream {
			if err := put(m.data, senders[string(m.from)]); err != nil {
				return err
			}
			continue
		}
		for off := 0; off < len(m.data); off += images.UnixQueuePieceMax {
			if err := put(m.data[off:min(off+images.UnixQueuePieceMax, len(m.data))], 0); err != nil {
				return err
			}
		}
	}
	return nil
}
