package pageserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/crlazy/crlazy/internal/demand"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Server limits.
const (
	// maxConns bounds the connections a server holds; more are closed at
	// once (with a logged reason).
	maxConns = 1024
	// handshakeTimeout bounds TLS, HELLO, AUTH and OPEN.
	handshakeTimeout = 10 * time.Second
	// writeTimeout drops a peer that has not taken a frame for this long
	// (one that never reads).
	writeTimeout = 30 * time.Second
	// frameTimeout drops a peer whose frame does not arrive whole this
	// long after its header (one that lies about a length).
	frameTimeout = 30 * time.Second
	// maxInflight bounds the demand requests of one connection served at
	// once; the next request is not read before one finishes.
	maxInflight = 8
)

// Protocol versions this build speaks.
const (
	ProtocolVersion    = 1
	minProtocolVersion = 1
)

// Config configures a Server. Zero values are documented per field.
type Config struct {
	// Address is host:port to listen on. Off loopback it needs Token or
	// TLS with client certificates (ErrNeedAuth).
	Address string
	// Dir holds the checkpoints: the store of checkpoint NAME is Dir/NAME.
	// Pushes create new ones there. Unused with Process.
	Dir string
	// Process, if set, is the only checkpoint served (a dump's
	// source-side mode); pushes are refused. With neither Dir nor
	// Process, the server serves nothing until ServeFrozen.
	Process *ProcessPages
	// Token, if set, must be proven by every client (HMAC challenge).
	Token []byte
	// TLS, if set, wraps every connection (see ServerTLS).
	TLS *tls.Config
	// OnDone is called, from a connection's goroutine, when a restore
	// reports that it has every page of checkpoint name. nil: nothing.
	OnDone func(name string)
	// Log receives connection events; nil discards them.
	Log *slog.Logger
}

var errNothingToServe = errors.New("no checkpoint directory and no process to serve")

// Server serves checkpoints to restores and receives them from dumps.
// Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	cat    catalog
	demand demand.Gate
	wg     sync.WaitGroup

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen checks cfg and starts listening; Serve then accepts.
func Listen(cfg Config) (*Server, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := checkListenAddr(cfg.Address, authenticated(cfg.Token, cfg.TLS)); err != nil {
		return nil, err
	}
	var cat catalog
	var err error
	switch {
	case cfg.Process != nil:
		cat = cfg.Process
	case cfg.Dir != "":
		if cat, err = newDirCatalog(cfg.Dir, log); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("page server: %w", err)
	}
	return &Server{cfg: cfg, log: log, ln: ln, cat: cat, conns: map[net.Conn]struct{}{}}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Close; it returns nil after Close.
func (s *Server) Serve() error {
	if s.cat == nil {
		return fmt.Errorf("page server: %w", errNothingToServe)
	}
	s.log.Info("page server listening", "address", s.ln.Addr().String(), "token", len(s.cfg.Token) > 0, "tls", s.cfg.TLS != nil)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("page server: accept: %w", err)
		}
		if !s.track(nc) {
			s.log.Warn("connection refused: too many connections", "remote", nc.RemoteAddr().String(), "max", maxConns)
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go s.handle(nc)
	}
}

// track registers nc, unless the server is closed or full.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= maxConns {
		return false
	}
	s.conns[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, ends every connection (pushes in progress are
// dropped), waits for their goroutines and releases the checkpoints.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	err := s.ln.Close()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.cat != nil {
		err = errors.Join(err, s.cat.close())
	}
	return err
}

// handle serves one connection and logs how it ended.
func (s *Server) handle(nc net.Conn) {
	defer s.wg.Done()
	defer s.untrack(nc)
	defer nc.Close()
	sc := &serverConn{s: s, remote: nc.RemoteAddr().String()}
	err := sc.run(nc)
	switch {
	case err == nil:
		s.log.Debug("connection done", "remote", sc.remote, "lane", sc.lane, "name", sc.name)
	case s.isClosed():
		s.log.Debug("connection closed by shutdown", "remote", sc.remote, "lane", sc.lane, "name", sc.name)
	default:
		s.log.Warn("connection ended", "remote", sc.remote, "lane", sc.lane, "name", sc.name, "reason", err)
	}
}
