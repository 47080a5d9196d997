package restorer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	skopts "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-opts"
	"github.com/crlazy/crlazy/internal/linux"
)

// fillSlack is added to a sender's buffer, beyond twice the bytes it
// sends, while it refills a queue (the kernel counts each message's
// overhead against the sender's buffer until it is read).
const fillSlack = 1 << 20

// bindAll binds every socket that had bound a name itself (not the
// accepted ones, whose name is their listener's).
func (u *unixRestore) bindAll() error {
	for _, s := range u.socks {
		if len(s.name()) == 0 || s.accepted {
			continue
		}
		if err := u.bindName(s.f, s, true); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// bindName binds f to s's name. A path name's file left by the dumped
// socket (no socket answers there) is removed first; with perms the new
// file gets the dumped owner and mode, and a name whose file was deleted
// is marked to be removed again once every socket has connected to it
// (unlinkDeleted). A deleted relative name is bound in a private
// directory: the socket gets its name, no file of the host is touched.
func (u *unixRestore) bindName(f *os.File, s *unixSpec, perms bool) error {
	name := s.name()
	if name[0] == 0 {
		return linux.BindUnix(f, name)
	}
	if s.usk.GetDeleted() && name[0] != '/' && s.nameDir() == "" {
		dir, err := os.MkdirTemp("", "crlazy-unix-")
		if err != nil {
			return err
		}
		s.dir = dir
		u.dirs = append(u.dirs, dir)
	}
	path := s.path()
	if err := clearStale(s, path); err != nil {
		return err
	}
	if err := inNameDir(s, func() error { return linux.BindUnix(f, name) }); err != nil {
		return err
	}
	u.paths = append(u.paths, path)
	if !perms {
		return nil
	}
	if fp := s.usk.GetFilePerms(); fp != nil {
		if err := os.Chmod(path, os.FileMode(fp.GetMode()&0o777)); err != nil {
			return err
		}
		if err := os.Lchown(path, int(fp.GetUid()), int(fp.GetGid())); err != nil {
			return err
		}
	}
	if s.usk.GetDeleted() {
		u.deleted = append(u.deleted, path)
	}
	return nil
}

// unlinkDeleted removes the files of the names that were deleted at the
// dump, now that the sockets that had connected to them have, and the
// private directories of deleted relative names.
func (u *unixRestore) unlinkDeleted() error {
	for _, path := range u.deleted {
		if err := os.Remove(path); err != nil {
			return err
		}
		u.paths = slices.DeleteFunc(u.paths, func(p string) bool { return p == path })
	}
	u.deleted = nil
	return u.removeDirs()
}

// removeDirs removes the private directories (empty by now).
func (u *unixRestore) removeDirs() error {
	var errs []error
	for _, d := range u.dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	u.dirs = nil
	return errors.Join(errs...)
}

// inNameDir runs fn in the directory a relative name was bound from (so
// that a bind gives the socket that relative name, as it had).
func inNameDir(s *unixSpec, fn func() error) error {
	dir := s.nameDir()
	if dir == "" {
		return fn()
	}
	d, err := linux.OpenFile(dir, linux.ORdonly|linux.ODirectory)
	if err != nil {
		return err
	}
	defer d.Close()
	return linux.InDir(d, fn)
}

// reach calls fn with an address that reaches s: its name, or for a
// relative path the absolute one (from the directory it was bound in)
// when it fits in sun_path, else the relative one from that directory.
func reach(s *unixSpec, fn func(addr []byte) error) error {
	dir := s.nameDir()
	if dir == "" {
		return fn(s.name())
	}
	if abs := filepath.Join(dir, string(s.name())); len(abs) <= unixNameMax {
		return fn([]byte(abs))
	}
	return inNameDir(s, func() error { return fn(s.name()) })
}

// connectTo connects f to s.
func connectTo(f *os.File, s *unixSpec) error {
	return reach(s, func(addr []byte) error { return linux.ConnectUnix(f, addr) })
}

// clearStale removes the socket file at path, s's name, that no socket
// serves any more (the dumped one's): a datagram connect to it is
// refused. A file of another type, or one a socket answers on, is left
// and reported.
func clearStale(s *unixSpec, path string) error {
	st, err := linux.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&linux.SIfmt != linux.SIfsock {
		return fmt.Errorf("%s exists and is not a socket: %w", path, linux.EADDRINUSE)
	}
	probe, err := linux.NewSocket(linux.AfUnix, linux.SockDgram, 0)
	if err != nil {
		return err
	}
	defer probe.Close()
	if err := connectTo(probe, s); !errors.Is(err, linux.ECONNREFUSED) {
		return fmt.Errorf("%s is held by a live socket: %w", path, linux.EADDRINUSE)
	}
	return os.Remove(path)
}

// fillAll queues again what every socket had queued, sent by the other
// end: a stream or seqpacket socket's data by its partner; a datagram by
// the datagram socket of the tree that had sent it (to the receiver's
// name, or as its partner), else by the partner, else by an unnamed
// socket of crlazy's to the receiver's name.
func (u *unixRestore) fillAll() error {
	var anon *os.File
	defer func() {
		if anon != nil {
			anon.Close()
		}
	}()
	for _, s := range u.socks {
		for i, m := range s.queue {
			from, to, err := u.senderOf(s, m, &anon)
			if err == nil {
				err = sendQueued(from, s.typ(), m.data, to)
			}
			if err != nil {
				return fmt.Errorf("%s: message %d of %d (%d bytes): %w", s, i+1, len(s.queue), len(m.data), err)
			}
		}
	}
	return nil
}

// senderOf picks the socket that sends m to s, and the socket it sends
// to by name (nil: its peer).
func (u *unixRestore) senderOf(s *unixSpec, m queuedMsg, anon **os.File) (*os.File, *unixSpec, error) {
	if s.typ() != linux.SockDgram || m.sender == 0 && s.partner != nil {
		if s.partner == nil {
			return nil, nil, badImage("queued data but no peer to send it")
		}
		return s.partner, nil, nil
	}
	if m.sender != 0 {
		from := u.fileSock(m.sender).f
		if from == s.partner {
			return from, nil, nil
		}
		if len(s.name()) == 0 {
			return nil, nil, badImage("datagram from file id %d to an unnamed socket it is not paired with", m.sender)
		}
		return from, s, nil
	}
	if len(s.name()) == 0 {
		return nil, nil, badImage("datagram for an unnamed socket without a peer")
	}
	if *anon == nil {
		f, err := linux.NewSocket(linux.AfUnix, linux.SockDgram, 0)
		if err != nil {
			return nil, nil, err
		}
		*anon = f
	}
	return *anon, s, nil
}

// sendQueued sends one message (or piece of a stream) without waiting,
// to its peer or to socket to by name, the sender's buffer raised for it
// (finishAll sets the tree's sockets' buffers back).
func sendQueued(from *os.File, typ int, b []byte, to *unixSpec) error {
	cur, err := linux.GetsockoptInt(from, linux.SolSocket, linux.SoSndbuf)
	if err != nil {
		return err
	}
	if want := 2*len(b) + fillSlack; cur < want {
		if err := linux.SetsockoptInt(from, linux.SolSocket, linux.SoSndbufForce, want); err != nil {
			return err
		}
	}
	if to != nil {
		return reach(to, func(addr []byte) error {
			_, err := linux.SendUnix(from, b, addr)
			return err
		})
	}
	for {
		n, err := linux.SendUnix(from, b, nil)
		if err != nil {
			return err
		}
		if typ != linux.SockStream || n == len(b) {
			return nil
		}
		b = b[n:]
	}
}

// finishAll gives every socket its shutdown state, options and status
// flags.
func (u *unixRestore) finishAll() error {
	for _, s := range u.socks {
		if err := finishUnix(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

var shutHow = map[skopts.SkShutdown]int{skopts.SkShutdown_READ: linux.ShutRd,
	skopts.SkShutdown_WRITE: linux.ShutWr, skopts.SkShutdown_BOTH: linux.ShutRdwr}

func finishUnix(s *unixSpec) error {
	if how, ok := shutHow[s.usk.GetShutdown()]; ok && s.state() != linux.TCPListen {
		if err := linux.Shutdown(s.f, how); err != nil && !errors.Is(err, linux.ENOTCONN) {
			return err
		}
	}
	if err := applyUnixOpts(s.f, s.usk.GetOpts()); err != nil {
		return err
	}
	return setStatus(s.f, s.usk.GetFlags())
}

// applyUnixOpts sets the options of a UNIX socket: the buffer sizes as
// they were (raised for the refill, and the kernel doubles what it is
// given) with the process's locks on them, and the others where they
// differ from a new socket's.
func applyUnixOpts(f *os.File, o *skopts.SkOptsEntry) error {
	for _, b := range []struct{ opt, v int }{
		{linux.SoSndbufForce, int(o.GetSoSndbuf())}, {linux.SoRcvbufForce, int(o.GetSoRcvbuf())},
	} {
		if b.v > 0 {
			if err := linux.SetsockoptInt(f, linux.SolSocket, b.opt, b.v/2); err != nil {
				return err
			}
		}
	}
	opts := []intOpt{
		{linux.SolSocket, linux.SoBufLock, u32p(o.SoBufLock)},
		{linux.SolSocket, linux.SoPriority, u32p(o.SoPriority)},
		{linux.SolSocket, linux.SoRcvlowat, u32p(o.SoRcvlowat)},
		{linux.SolSocket, linux.SoMark, u32p(o.SoMark)},
		{linux.SolSocket, linux.SoPasscred, boolp(o.SoPasscred)},
		{linux.SolSocket, linux.SoPasssec, boolp(o.SoPasssec)},
		{linux.SolSocket, linux.SoOobinline, u32p(o.SoOobinline)},
	}
	for _, io := range opts {
		if err := setIfDiffers(f, io); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		opt       int
		sec, usec uint64
	}{
		{linux.SoSndtimeo, o.GetSoSndTmoSec(), o.GetSoSndTmoUsec()},
		{linux.SoRcvtimeo, o.GetSoRcvTmoSec(), o.GetSoRcvTmoUsec()},
	} {
		if d := time.Duration(t.sec)*time.Second + time.Duration(t.usec)*time.Microsecond; d > 0 {
			if err := linux.SetsockoptTimeout(f, t.opt, d); err != nil {
				return err
			}
		}
	}
	return nil
}
