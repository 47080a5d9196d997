package dumper

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	skopts "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-opts"
	skunix "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-unix"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"google.golang.org/protobuf/proto"
)

// unixDump is the UNIX socket part of one dump: sock_diag's view of every
// UNIX socket of the namespace (read at the first socket, with the tree
// frozen), and the sockets of the tree with their queued data. Peers are
// checked once every process is collected (fd_unix_peers.go). Used from
// the dump's goroutine only.
type unixDump struct {
	extUnixSk bool // --ext-unix-sk
	log       *slog.Logger
	diag      map[uint64]linux.UnixDiag // by inode; nil until read
	socks     map[uint64]*unixSock      // the tree's sockets, by inode
	order     []*unixSock               // in the order they were met
	extern    []*fdinfo.FileEntry       // peers outside the tree (--ext-unix-sk)
	bytes     int                       // queued bytes held, all sockets
}

// unixSock is one UNIX socket of the tree.
type unixSock struct {
	d     linux.UnixDiag
	e     *fdinfo.FileEntry // its record (Usk); its id is the file id
	what  string
	pid   int       // a process holding it
	queue []unixMsg // its receive queue, oldest first
}

// unixMsg is a datagram (or seqpacket record), or a piece of a stream,
// queued to be read.
type unixMsg struct {
	data []byte
	from []byte // the sender's name (datagrams), nil if unnamed
}

// Flags of unix_sk_entry.uflags as crlazy uses them.
const (
	// uflagExtern marks the record of a peer outside the tree, kept so
	// that a restore with --ext-unix-sk connects to it by name.
	uflagExtern = 1
)

func newUnixDump(ext bool, log *slog.Logger) *unixDump {
	return &unixDump{extUnixSk: ext, log: log, socks: map[uint64]*unixSock{}}
}

// unixEntry builds the record of a UNIX socket; ok is false for a socket
// of another family (saved or refused by socketEntry).
func (c *collector) unixEntry(ft *fileTable, o openFd) (e *fdinfo.FileEntry, ok bool, err error) {
	f, err := c.p.leader().StealFD(o.fd)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", o.what, err)
	}
	defer f.Close()
	if family, _, _, err := linux.SocketInfo(f); err != nil || family != linux.AfUnix {
		return nil, err != nil, wrapWhat(o.what, err)
	}
	e, err = ft.unix.collect(c, f, o)
	return e, true, err
}

// collect reads one socket: its sock_diag state, options, name and queue.
func (u *unixDump) collect(c *collector, f *os.File, o openFd) (*fdinfo.FileEntry, error) {
	same, err := c.net.sameNetns(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	if !same {
		return nil, unsupported("the UNIX socket is in another network namespace than crlazy; run crlazy in it", "%s", o.what)
	}
	d, err := u.diagOf(o)
	if err != nil {
		return nil, err
	}
	if d.Type == linux.SockDgram { // both ends of a connect show ESTABLISHED
		d.State = linux.TCPClose
		if peer, err := linux.HasPeer(f); err != nil {
			return nil, fmt.Errorf("%s: %w", o.what, err)
		} else if peer {
			d.State = linux.TCPEstablished
		}
	}
	s := &unixSock{d: d, what: o.what, pid: c.pid}
	usk, err := s.entry(c.pid, f, o)
	if err != nil {
		return nil, err
	}
	if usk.GetDeleted() && usk.GetName()[0] != '/' {
		u.log.Warn("a UNIX socket bound to a relative path whose file is not in the working directory is restored as deleted",
			"fd", o.what, "name", printableName(usk.GetName()))
	}
	if d.State != linux.TCPListen {
		if err := u.readQueue(s, f); err != nil {
			return nil, err
		}
		if err := s.checkOOB(f); err != nil {
			return nil, err
		}
	}
	s.e = &fdinfo.FileEntry{Type: fdinfo.FdTypes_UNIXSK.Enum(), Usk: usk}
	u.socks[d.Inode] = s
	u.order = append(u.order, s)
	return s.e, nil
}

// diagOf returns what sock_diag says of o (the table is read once).
func (u *unixDump) diagOf(o openFd) (linux.UnixDiag, error) {
	if u.diag == nil {
		all, err := linux.UnixDiagDump()
		if err != nil {
			return linux.UnixDiag{}, fmt.Errorf("%s: %w", o.what, err)
		}
		u.diag = make(map[uint64]linux.UnixDiag, len(all))
		for _, d := range all {
			u.diag[d.Inode] = d
		}
	}
	d, ok := u.diag[o.st.Ino]
	if !ok {
		return d, unsupported("a UNIX socket that sock_diag does not show (another network namespace?) cannot be saved", "%s", o.what)
	}
	return d, nil
}

// entry builds the socket's unix_sk_entry (id and peer are set later).
func (s *unixSock) entry(pid int, f *os.File, o openFd) (*skunix.UnixSkEntry, error) {
	opts, err := unixOpts(f, o.what)
	if err != nil {
		return nil, err
	}
	d := s.d
	usk := &skunix.UnixSkEntry{
		Id: proto.Uint32(0), Ino: proto.Uint32(uint32(d.Inode)),
		Type: proto.Uint32(uint32(d.Type)), State: proto.Uint32(uint32(d.State)),
		Flags: proto.Uint32(o.statusFlags()), Uflags: proto.Uint32(0),
		Backlog: proto.Uint32(0), Peer: proto.Uint32(uint32(d.Peer)),
		Fown: noOwner(), Opts: opts, Name: append([]byte{}, d.Name...), // required: set even if empty
		Shutdown: skopts.SkShutdown(d.Shutdown).Enum(),
	}
	if d.State == linux.TCPListen {
		usk.Backlog = proto.Uint32(d.WQueue)
	}
	if len(d.Name) > 0 && d.Name[0] != 0 {
		if err := bindPath(pid, usk, d, o.what); err != nil {
			return nil, err
		}
	}
	return usk, nil
}

// unixOpts reads the socket options a UNIX socket keeps. Options in use
// that the image has no place for are refused (unixUnsaved).
func unixOpts(f *os.File, what string) (*skopts.SkOptsEntry, error) {
	r := &sockOpts{f: f}
	o := &skopts.SkOptsEntry{
		SoSndbuf: r.u32(linux.SolSocket, linux.SoSndbuf), SoRcvbuf: r.u32(linux.SolSocket, linux.SoRcvbuf),
		SoPriority: r.u32(linux.SolSocket, linux.SoPriority), SoRcvlowat: r.u32(linux.SolSocket, linux.SoRcvlowat),
		SoMark: r.u32(linux.SolSocket, linux.SoMark), SoPasscred: r.bool(linux.SolSocket, linux.SoPasscred),
		SoPasssec: r.bool(linux.SolSocket, linux.SoPasssec), SoBufLock: r.u32(linux.SolSocket, linux.SoBufLock),
		SoOobinline: r.u32(linux.SolSocket, linux.SoOobinline),
	}
	o.SoSndTmoSec, o.SoSndTmoUsec = r.timeout(linux.SoSndtimeo)
	o.SoRcvTmoSec, o.SoRcvTmoUsec = r.timeout(linux.SoRcvtimeo)
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", what, r.err)
	}
	if why, err := unixUnsaved(f); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	} else if why != "" {
		return nil, unsupported("a UNIX socket with "+why+" cannot be saved", "%s", what)
	}
	return o, nil
}

// unixUnsaved names an option in use that a restore would lose: a peek
// offset (SO_PEEK_OFF), SO_PASSPIDFD, SO_PASSRIGHTS turned off, SO_INQ,
// receive timestamps, a BPF filter. Options this kernel lacks count as
// off.
func unixUnsaved(f *os.File) (string, error) {
	r := &sockOpts{f: f}
	if r.int(linux.SolSocket, linux.SoPeekOff) >= 0 && r.err == nil {
		return "SO_PEEK_OFF set", nil
	}
	type check struct {
		opt  int
		want uint32 // what a new socket has
		name string
	}
	checks := []check{
		{linux.SoPasspidfd, 0, "SO_PASSPIDFD set"},
		{linux.SoPassrights, 1, "SO_PASSRIGHTS turned off"},
		{linux.SoInq, 0, "SO_INQ set"},
	}
	for _, ts := range linux.SoTimestampOpts {
		checks = append(checks, check{ts, 0, "receive timestamps (SO_TIMESTAMP*) on"})
	}
	for _, c := range checks {
		if v := r.optional(linux.SolSocket, c.opt); v != nil && *v != c.want {
			return c.name, nil
		}
	}
	if r.err != nil {
		return "", r.err
	}
	if n, err := linux.SocketFilterLen(f); err != nil || n > 0 {
		return "a socket filter (SO_ATTACH_FILTER)", err
	}
	return "", nil
}

// bindPath records what a path name needs at restore: the file's
// permissions, the directory a relative name was bound from, and whether
// the file is gone (deleted, or another file is there now). A relative
// name whose file is not in the working directory counts as deleted (with
// a warning): the directory it was bound from cannot be known, so if the
// process moved since and the file is still there, the restored socket
// keeps the name but not the file.
func bindPath(pid int, usk *skunix.UnixSkEntry, d linux.UnixDiag, what string) error {
	name := string(d.Name)
	var cwd string
	if name[0] != '/' {
		var err error
		if cwd, err = proc.ReadLink(pid, "cwd"); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		name = cwd + "/" + name
	}
	st, err := linux.Lstat(name)
	if err != nil || st.Ino != d.VFSIno || st.Dev != d.VFSDev {
		usk.Deleted = proto.Bool(true) // removed, or replaced by another file
		return nil
	}
	if cwd != "" {
		usk.NameDir = proto.String(cwd)
	}
	usk.FilePerms = &skunix.FilePermsEntry{Mode: proto.Uint32(st.Mode), Uid: proto.Uint32(st.UID), Gid: proto.Uint32(st.GID)}
	return nil
}
