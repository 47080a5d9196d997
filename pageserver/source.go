package pageserver

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/crlazy/crlazy/store"
)

// maxIdleBulk bounds the bulk connections a Source keeps for reuse.
const maxIdleBulk = 4

// Source serves a restore's pages from a page server: it is a
// uffd.Source (and what restorer.Options.Pages takes). Demand lookups
// (FindChunk) go over one pipelined connection; each ChunksIn streams
// over a bulk connection of its own, so a fault never waits behind a
// prefetch. Lost connections are retried for ClientConfig.RetryWindow;
// past it the call fails with ErrUnavailable. Its methods are safe for
// concurrent use.
type Source struct {
	cfg   ClientConfig
	log   *slog.Logger
	name  string
	ident [identLen]byte
	local *store.Reader
	bufs  sync.Pool // *[]byte of chunkSize, for FindChunk replies

	mu        sync.Mutex // guards the fields below
	sess      *session   // the demand lane; nil or broken: dial again
	chunkSize uint32
	idle      []*bulkConn
	closed    bool
}

// Open connects to checkpoint name on the server. local is the store
// holding the checkpoint's records (the restore's images directory): it
// proves which dump the restore expects (Identity), and answers HasData
// from its pagemap. The caller keeps ownership of local and must keep it
// open until Close.
func Open(cfg ClientConfig, name string, local *store.Reader) (*Source, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	ident, err := Identity(local)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, log: cfg.logger(), name: name, ident: ident, local: local}
	if _, err := s.session(); err != nil {
		return nil, fmt.Errorf("page server %s: %w", cfg.Address, err)
	}
	size := int(s.chunkSize)
	s.bufs.New = func() any { b := make([]byte, size); return &b }
	return s, nil
}

// session returns the demand session, dialling a new one if it broke.
func (s *Source) session() (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.sess != nil && s.sess.alive() {
		return s.sess, nil
	}
	c, size, err := s.cfg.dial(openReq{lane: laneDemand, name: s.name, ident: s.ident})
	if err != nil {
		return nil, err
	}
	if err := s.sameSize(size); err != nil {
		c.close()
		return nil, err
	}
	s.sess = newSession(c, size)
	return s.sess, nil
}

// sameSize checks a new connection reports the checkpoint's chunk size.
func (s *Source) sameSize(size uint32) error {
	if s.chunkSize != 0 && size != s.chunkSize {
		return badFrame(byte(tOpened), "chunk size changed from %d to %d", s.chunkSize, size)
	}
	s.chunkSize = size
	return nil
}

// FindChunk asks the server for the chunk of mm that holds addr.
func (s *Source) FindChunk(mm uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	rt := s.cfg.retrier()
	for {
		sess, err := s.session()
		if err == nil {
			var found bool
			if found, err = s.get(sess, mm, addr, fn); err == nil {
				s.recovered(&rt)
				return found, nil
			}
		}
		s.lost(&rt, err)
		if err := rt.again(fmt.Sprintf("get chunk %d@%#x", mm, addr), err); err != nil {
			return false, err
		}
	}
}

func (s *Source) get(sess *session, mm uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	cl := &call{buf: *bp}
	var req [12]byte
	if err := sess.roundTrip(tGet, pageReq{mm: mm, addr: addr}.append(req[:0]), cl); err != nil {
		return false, err
	}
	if cl.typ == tNoChunk {
		return false, nil
	}
	if addr < cl.start || addr-cl.start >= uint64(len(cl.data)) {
		return false, badFrame(byte(tChunk), "chunk %#x+%d does not hold %#x", cl.start, len(cl.data), addr)
	}
	if err := fn(cl.start, cl.data); err != nil {
		return true, &userError{err}
	}
	return true, nil
}

// ChunksIn streams every chunk of mm overlapping [start, end) from the
// server; a stream cut short resumes after the last chunk delivered.
func (s *Source) ChunksIn(mm uint32, start, end uint64, fn func(uint64, []byte) error) error {
	next := start
	rt := s.cfg.retrier()
	for next < end {
		b, err := s.bulk()
		if err == nil {
			err = b.stream(rangeReq{mm: mm, start: next, end: end}, func(a uint64, data []byte) error {
				if err := fn(a, data); err != nil {
					return &userError{err}
				}
				next = max(next, a+uint64(len(data)))
				return nil
			})
			if err == nil {
				s.putIdle(b)
				s.recovered(&rt)
				return nil
			}
			b.c.close()
		}
		s.lost(&rt, err)
		if err := rt.again(fmt.Sprintf("read chunks %d@%#x-%#x", mm, next, end), err); err != nil {
			return err
		}
	}
	return nil
}

// bulk returns an idle bulk connection or dials one.
func (s *Source) bulk() (*bulkConn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(s.idle); n > 0 {
		b := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	c, size, err := s.cfg.dial(openReq{lane: laneBulk, name: s.name, ident: s.ident})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	err = s.sameSize(size)
	s.mu.Unlock()
	if err != nil {
		c.close()
		return nil, err
	}
	return newBulkConn(c, size), nil
}

func (s *Source) putIdle(b *bulkConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.idle) >= maxIdleBulk {
		b.c.close()
		return
	}
	s.idle = append(s.idle, b)
}

// lost logs the first failure of an operation that will be retried.
func (s *Source) lost(rt *retrier, err error) {
	if rt.first.IsZero() && retryable(err) {
		s.log.Warn("page server connection lost; retrying", "address", s.cfg.Address, "within", rt.window, "err", err)
	}
}

func (s *Source) recovered(rt *retrier) {
	if !rt.first.IsZero() {
		s.log.Info("page server reached again", "address", s.cfg.Address)
	}
}

// HasData answers from the local records' pagemap.
func (s *Source) HasData(mm uint32, addr uint64) (bool, error) {
	return hasData(s.local, mm, addr)
}

// Finish tells the server the restore has every page (a source-side
// dump then lets its process go).
func (s *Source) Finish() error {
	rt := s.cfg.retrier()
	for {
		sess, err := s.session()
		if err == nil {
			if err = sess.roundTrip(tDone, nil, &call{}); err == nil {
				return nil
			}
		}
		if err := rt.again("report all pages in", err); err != nil {
			return err
		}
	}
}

// Close closes every connection. Calls after Close fail with ErrClosed.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if s.sess != nil {
		s.sess.close()
	}
	for _, b := range s.idle {
		b.c.close()
	}
	s.idle = nil
	return nil
}
