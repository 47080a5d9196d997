package restorer

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	skunix "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-unix"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ErrNeedExtUnixSk is returned for an image holding a UNIX socket
// connected outside the tree restored without Options.ExtUnixSk (criu's
// --ext-unix-sk).
var ErrNeedExtUnixSk = errors.New("the image holds a UNIX socket connected outside the dumped tree: restore with --ext-unix-sk")

// Bounds of UNIX socket records.
const (
	unixNameMax      = 108     // sun_path
	maxTreeUnixBytes = 1 << 30 // queued bytes of all sockets of an image
)

// uflagExtern marks the record of a peer outside the tree (the dumper's
// meaning of unix_sk_entry.uflags).
const uflagExtern = 1

// unixRestore is the UNIX socket part of a restore: every socket of the
// image is built in crlazy's process before the tree (socketpair, bind,
// listen, connect and accept, queues refilled from the peer side) and
// handed to the processes like every object crlazy makes
// (treeFiles.objs). Used from the restore's goroutine only.
type unixRestore struct {
	socks   []*unixSpec          // the tree's sockets, by file id
	byIno   map[uint32]*unixSpec // the tree's sockets and outside peers
	log     *slog.Logger
	paths   []string   // path names this restore bound (removed if it fails)
	deleted []string   // path names deleted at the dump: removed once connected to
	dirs    []string   // private directories of deleted relative names
	extra   []*os.File // stand-ins for closed peers, temporary listeners: closed at the end
	accepts []*acceptPlan
}

// unixSpec is one socket as the image describes it.
type unixSpec struct {
	id    uint32
	usk   *skunix.UnixSkEntry
	peer  *unixSpec // nil: none, or it closed
	queue []queuedMsg
	f     *os.File // crlazy's socket, once made
	// partner is the socket at the other end once made (the peer's, or a
	// stand-in for a peer that closed): what refills the queue.
	partner *os.File
	// accepted: the socket came from accept(2) and has its listener's
	// name (made by connecting to a listener, not by bind).
	accepted bool
	// dir is the private directory a deleted relative name is bound in
	// (bindName); empty otherwise.
	dir string
}

// queuedMsg is a datagram or piece of a stream to queue again.
type queuedMsg struct {
	data   []byte
	sender uint32 // file id of the datagram socket that sent it; 0: unknown
}

func (s *unixSpec) typ() int        { return int(s.usk.GetType()) }
func (s *unixSpec) state() uint32   { return s.usk.GetState() }
func (s *unixSpec) name() []byte    { return s.usk.GetName() }
func (s *unixSpec) extern() bool    { return s.usk.GetUflags()&uflagExtern != 0 }
func (s *unixSpec) connected() bool { return s.state() == linux.TCPEstablished }

// nameDir is the directory a relative name is bound in: the dumped one,
// or a private one for a deleted name.
func (s *unixSpec) nameDir() string {
	if s.dir != "" {
		return s.dir
	}
	return s.usk.GetNameDir()
}

// path is the file of a path name.
func (s *unixSpec) path() string {
	if dir := s.nameDir(); dir != "" {
		return filepath.Join(dir, string(s.name()))
	}
	return string(s.name())
}

func (s *unixSpec) String() string {
	kind := map[int]string{linux.SockStream: "stream", linux.SockDgram: "datagram", linux.SockSeqpacket: "seqpacket"}[s.typ()]
	if len(s.name()) == 0 {
		return fmt.Sprintf("UNIX %s socket (file id %d)", kind, s.id)
	}
	return fmt.Sprintf("UNIX %s socket %s (file id %d)", kind, quoteName(s.name()), s.id)
}

// quoteName shows a socket name, abstract names with a leading @.
func quoteName(name []byte) string {
	if len(name) > 0 && name[0] == 0 {
		return "@" + strconv.Quote(string(name[1:]))
	}
	return strconv.Quote(string(name))
}

// loadUnix checks every UNIX socket record of the image, links peers and
// loads the queues.
func loadUnix(r *store.Reader, files map[uint32]*fdinfo.FileEntry, opts Options, log *slog.Logger) (*unixRestore, error) {
	u := &unixRestore{byIno: map[uint32]*unixSpec{}, log: log}
	ids := make([]uint32, 0)
	for id, f := range files {
		if f.GetType() == fdinfo.FdTypes_UNIXSK {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var all []*unixSpec
	for _, id := range ids {
		s := &unixSpec{id: id, usk: files[id].GetUsk()}
		if err := checkUnixSpec(s); err != nil {
			return nil, fmt.Errorf("file id %d: %w", id, err)
		}
		if u.byIno[s.usk.GetIno()] != nil {
			return nil, badImage("two UNIX sockets of inode %d", s.usk.GetIno())
		}
		u.byIno[s.usk.GetIno()] = s
		all = append(all, s)
		if !s.extern() {
			u.socks = append(u.socks, s)
		}
	}
	for _, s := range all {
		if err := u.link(s, opts); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	return u, u.loadQueues(r)
}

// checkUnixSpec checks one record on its own.
func checkUnixSpec(s *unixSpec) error {
	usk := s.usk
	if usk == nil || usk.GetOpts() == nil {
		return badImage("UNIX socket without its record")
	}
	typ, st := s.typ(), s.state()
	switch {
	case typ != linux.SockStream && typ != linux.SockDgram && typ != linux.SockSeqpacket:
		return badImage("UNIX socket of type %d", typ)
	case st != linux.TCPEstablished && st != linux.TCPClose && st != linux.TCPListen,
		st == linux.TCPListen && typ == linux.SockDgram:
		return badImage("UNIX socket of type %d in state %d", typ, st)
	case len(usk.GetName()) > unixNameMax:
		return badImage("UNIX socket name of %d bytes", len(usk.GetName()))
	case usk.GetBacklog() > maxBacklog:
		return badImage("backlog %d, at most %d", usk.GetBacklog(), maxBacklog)
	case s.extern() && (typ != linux.SockDgram || len(usk.GetName()) == 0):
		return badImage("outside peer that is not a named datagram socket")
	case usk.NameDir != nil && (len(usk.GetName()) == 0 || usk.GetName()[0] == 0 || usk.GetName()[0] == '/'):
		return badImage("a directory for a name that is not a relative path")
	}
	return nil
}

// link finds the peer of s and checks that the pair can be rebuilt.
func (u *unixRestore) link(s *unixSpec, opts Options) error {
	if s.extern() || s.usk.GetPeer() == 0 {
		return nil
	}
	p := u.byIno[s.usk.GetPeer()]
	switch {
	case p == nil:
		return badImage("peer inode %d is not in the image", s.usk.GetPeer())
	case p.typ() != s.typ() || !s.connected():
		return badImage("peer %s does not match", p)
	case p.extern() && !opts.ExtUnixSk:
		return fmt.Errorf("%w (connected to %s)", ErrNeedExtUnixSk, quoteName(p.name()))
	case p.state() == linux.TCPListen && s.usk.GetBacklog() == 0:
		return badImage("connected to a listener without a place in its queue")
	case s.typ() != linux.SockDgram && p.state() != linux.TCPListen && p.usk.GetPeer() != s.usk.GetIno():
		return badImage("stream peer %s is connected elsewhere", p)
	case s.typ() == linux.SockDgram && p.usk.GetPeer() != s.usk.GetIno() && len(p.name()) == 0:
		return fmt.Errorf("connected to the unnamed %s, which is connected elsewhere: %w", p, ErrUnsupported)
	}
	s.peer = p
	return nil
}

// loadQueues reads the queued data of every socket, within the bounds.
func (u *unixRestore) loadQueues(r *store.Reader) error {
	total := 0
	for _, s := range u.socks {
		size := 0
		var next uint64
		err := r.SubRecords(images.UnixQueue, s.id, func(sub uint64, raw []byte) error {
			var piece wrapperspb.BytesValue
			if err := images.UnmarshalRecord(raw, &piece); err != nil {
				return err
			}
			index, sender := sub>>32, uint32(sub)
			size += len(piece.Value)
			total += len(piece.Value)
			switch {
			case index != next:
				return badImage("queued message %d after %d", index, next)
			case size > images.UnixQueueMax || total > maxTreeUnixBytes:
				return badImage("%d bytes queued, at most %d (%d for the image)", size, images.UnixQueueMax, maxTreeUnixBytes)
			case s.typ() == linux.SockStream && (sender != 0 || len(piece.Value) > images.UnixQueuePieceMax):
				return badImage("stream piece of %d bytes from file id %d", len(piece.Value), sender)
			case sender != 0 && (u.fileSock(sender) == nil || u.fileSock(sender).typ() != linux.SockDgram):
				return badImage("datagram from file id %d, not a datagram socket of the image", sender)
			}
			next++
			s.queue = append(s.queue, queuedMsg{data: piece.Value, sender: sender})
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if len(s.queue) > 0 && s.state() == linux.TCPListen {
			return badImage("%s: a listening socket with queued data", s)
		}
	}
	return nil
}

// fileSock returns the tree's socket of file id id, or nil.
func (u *unixRestore) fileSock(id uint32) *unixSpec {
	i, ok := slices.BinarySearchFunc(u.socks, id, func(s *unixSpec, id uint32) int { return cmp.Compare(s.id, id) })
	if !ok {
		return nil
	}
	return u.socks[i]
}
