package restorer

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// acceptPlan is a connection whose accepted end has its listener's name:
// it is rebuilt by connecting client (crlazy's copy of the other end, or
// a stand-in for a peer that closed) to the listener and accepting it.
type acceptPlan struct {
	acc      *unixSpec
	client   *os.File
	cspec    *unixSpec // nil for a stand-in
	listener *unixSpec // a listener of the tree with that name; nil: a temporary one
}

// buildUnix checks the image's UNIX sockets and creates them, before any
// process exists, in this order: sockets and socketpairs, names, listens,
// accepted connections, connections waiting in an accept queue, the
// queued data (sent by the peer side), one-way datagram associations,
// peers that had closed, shutdowns, options. The sockets are in tf.objs
// (the caller closes them); on error the names bound are removed again.
func buildUnix(r *store.Reader, tf *treeFiles, opts Options, log *slog.Logger) (*unixRestore, error) {
	u, err := loadUnix(r, tf.files, opts, log)
	if err != nil || len(u.socks) == 0 {
		return u, err
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"create", u.create}, {"bind", u.bindAll}, {"listen", u.listenAll},
		{"accept", u.acceptAll}, {"connect", u.connectPending}, {"queue", u.fillAll},
		{"associate", u.associate}, {"unlink deleted names", u.unlinkDeleted},
		{"close stand-ins", u.closeExtra}, {"finish", u.finishAll},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			u.abort()
			u.closeAll()
			return nil, fmt.Errorf("UNIX sockets: %s: %w", s.name, err)
		}
	}
	for _, s := range u.socks {
		tf.objs[s.id] = s.f
	}
	return u, nil
}

// create makes every socket: the ends of a connection that has no name
// as a socketpair (a closed peer as a stand-in), the others on their own.
func (u *unixRestore) create() error {
	for _, s := range u.socks {
		if s.f != nil || s.accepted {
			continue
		}
		var err error
		switch {
		case !s.connected() || s.peer != nil && s.peer.state() == linux.TCPListen:
			s.f, err = linux.NewSocket(linux.AfUnix, s.typ(), 0)
		case s.typ() == linux.SockDgram:
			err = u.pairDgram(s)
		default:
			err = u.pairStream(s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// pairDgram makes a connected datagram socket: with its peer as a
// socketpair when they are connected to each other, with a stand-in when
// the peer closed, alone when it is connected one way (associate
// connects it).
func (u *unixRestore) pairDgram(s *unixSpec) error {
	p := s.peer
	if p != nil && (p.extern() || p.usk.GetPeer() != s.usk.GetIno()) {
		var err error
		s.f, err = linux.NewSocket(linux.AfUnix, s.typ(), 0)
		return err
	}
	a, b, err := linux.Socketpair(s.typ())
	if err != nil {
		return err
	}
	s.f, s.partner = a, b
	if p == nil {
		u.extra = append(u.extra, b)
	} else {
		p.f, p.partner = b, a
	}
	return nil
}

// pairStream makes a stream or seqpacket connection (s's peer may have
// closed): a socketpair when neither end has a name, else a plan to
// connect the client end to the accepted end's listener.
func (u *unixRestore) pairStream(s *unixSpec) error {
	acc, client := u.acceptedEnd(s, s.peer)
	if acc == nil {
		a, b, err := linux.Socketpair(s.typ())
		if err != nil {
			return err
		}
		s.f, s.partner = a, b
		if s.peer == nil {
			u.extra = append(u.extra, b)
		} else {
			s.peer.f, s.peer.partner = b, a
		}
		return nil
	}
	c, err := linux.NewSocket(linux.AfUnix, s.typ(), 0)
	if err != nil {
		return err
	}
	plan := &acceptPlan{acc: acc, client: c, cspec: client, listener: u.listenerNamed(acc)}
	if client != nil {
		client.f = c
	} else {
		u.extra = append(u.extra, c)
	}
	acc.accepted = true
	u.accepts = append(u.accepts, plan)
	return nil
}

// acceptedEnd tells which end of a connection came from accept(2), the
// one holding a listener's name: the end named as a listener of the
// tree, else the only named end, else the newer (an accepted socket is
// made after its client). nil when neither has a name.
func (u *unixRestore) acceptedEnd(a, b *unixSpec) (acc, client *unixSpec) {
	named := func(s *unixSpec) bool { return s != nil && len(s.name()) > 0 }
	switch {
	case u.listenerNamed(a) != nil:
		return a, b
	case b != nil && u.listenerNamed(b) != nil:
		return b, a
	case named(a) && !named(b):
		return a, b
	case named(b) && !named(a):
		return b, a
	case named(a) && a.usk.GetIno() > b.usk.GetIno():
		return a, b
	case named(a):
		return b, a
	}
	return nil, nil
}

// listenerNamed returns the listener of the tree that has s's name and
// type, or nil.
func (u *unixRestore) listenerNamed(s *unixSpec) *unixSpec {
	for _, l := range u.socks {
		if l.state() == linux.TCPListen && l.typ() == s.typ() && len(s.name()) > 0 && bytes.Equal(l.name(), s.name()) {
			return l
		}
	}
	return nil
}

// listenAll makes the listeners listen with their backlogs.
func (u *unixRestore) listenAll() error {
	for _, s := range u.socks {
		if s.state() == linux.TCPListen {
			if err := linux.Listen(s.f, int(s.usk.GetBacklog())); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
	}
	return nil
}

// acceptAll rebuilds the accepted connections: the client connects to
// the listener (of the tree, or a temporary one with the name) and the
// listener accepts at once, so the listener's own queue stays empty for
// the connections that were waiting.
func (u *unixRestore) acceptAll() error {
	for _, p := range u.accepts {
		if err := u.accept(p); err != nil {
			return fmt.Errorf("%s: %w", p.acc, err)
		}
		p.acc.partner = p.client
		if p.cspec != nil {
			p.cspec.partner = p.acc.f
		}
	}
	return nil
}

func (u *unixRestore) accept(p *acceptPlan) error {
	l := p.listener
	var lf *os.File
	if l != nil {
		lf = l.f
	} else {
		tmp, err := u.tempListener(p.acc)
		if errors.Is(err, linux.EADDRINUSE) || errors.Is(err, linux.EEXIST) {
			return u.unnamedPair(p, err)
		}
		if err != nil {
			return err
		}
		defer u.dropTemp(tmp, p.acc)
		lf = tmp
	}
	to := p.acc
	if l != nil {
		to = l // its name's file may be one deleted at the dump, bound in a private directory
	}
	if err := connectTo(p.client, to); err != nil {
		return err
	}
	var err error
	p.acc.f, err = linux.Accept(lf)
	return err
}

// tempListener binds a listener to the name of an accepted socket whose
// listener is gone.
func (u *unixRestore) tempListener(acc *unixSpec) (*os.File, error) {
	l, err := linux.NewSocket(linux.AfUnix, acc.typ(), 0)
	if err != nil {
		return nil, err
	}
	if err := u.bindName(l, acc, false); err != nil {
		l.Close()
		return nil, err
	}
	if err := linux.Listen(l, 1); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// dropTemp closes a temporary listener and removes the file its name
// made.
func (u *unixRestore) dropTemp(l *os.File, acc *unixSpec) {
	l.Close()
	if name := acc.name(); len(name) > 0 && name[0] != 0 {
		path := acc.path()
		_ = os.Remove(path)
		u.paths = slices.DeleteFunc(u.paths, func(p string) bool { return p == path })
	}
}

// unnamedPair gives up the name of an accepted socket whose name is
// taken by another socket now: the connection comes back as a
// socketpair, without the name.
func (u *unixRestore) unnamedPair(p *acceptPlan, cause error) error {
	u.log.Warn("an accepted UNIX socket comes back without its name, which another socket holds now",
		"socket", p.acc.String(), "err", cause)
	a, b, err := linux.Socketpair(p.acc.typ())
	if err != nil {
		return err
	}
	if p.cspec != nil {
		p.cspec.f = b
	} else {
		u.extra[slices.Index(u.extra, p.client)] = b
	}
	p.client.Close()
	p.acc.f, p.client = a, b
	return nil
}

// connectPending connects the clients whose connections were waiting in
// a listener's accept queue, in their order.
func (u *unixRestore) connectPending() error {
	var waiting []*unixSpec
	for _, s := range u.socks {
		if s.peer != nil && s.peer.state() == linux.TCPListen {
			waiting = append(waiting, s)
		}
	}
	slices.SortFunc(waiting, func(a, b *unixSpec) int { return int(a.usk.GetBacklog()) - int(b.usk.GetBacklog()) })
	for _, s := range waiting {
		if err := connectTo(s.f, s.peer); err != nil {
			return fmt.Errorf("%s: to %s: %w", s, s.peer, err)
		}
	}
	return nil
}

// associate connects the datagram sockets connected one way (to a
// socket of the tree or outside it), once their queues are filled.
func (u *unixRestore) associate() error {
	for _, s := range u.socks {
		p := s.peer
		if s.typ() != linux.SockDgram || p == nil || (!p.extern() && p.usk.GetPeer() == s.usk.GetIno()) {
			continue
		}
		if err := connectTo(s.f, p); err != nil {
			return fmt.Errorf("%s: to %s: %w", s, quoteName(p.name()), err)
		}
	}
	return nil
}

// closeExtra closes the stand-ins (their sockets see the peer close, as
// it had) and what is left of temporary sockets.
func (u *unixRestore) closeExtra() error {
	for _, f := range u.extra {
		f.Close()
	}
	u.extra = nil
	return nil
}

// closeAll closes every socket made so far (a failed build).
func (u *unixRestore) closeAll() {
	_ = u.closeExtra()
	for _, s := range u.socks {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
}

// abort removes the path names this restore bound (the restore failed,
// so that it can be tried again).
func (u *unixRestore) abort() {
	if u == nil {
		return
	}
	for _, p := range u.paths {
		_ = os.Remove(p)
	}
	u.paths = nil
	_ = u.removeDirs()
}
