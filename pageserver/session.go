package pageserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errNoReply breaks a session whose server did not answer in time.
var errNoReply = errors.New("no reply from the page server")

// session is a demand-lane connection: requests are pipelined, each with
// its own id, and one goroutine reads the replies and hands each to its
// caller, reading a chunk straight into the caller's buffer.
type session struct {
	c         *conn
	chunkSize uint32

	mu      sync.Mutex // guards the fields below
	pending map[uint64]*call
	next    uint64
	err     error // why the session broke; no call succeeds after it
}

// call is one request waiting for its reply.
type call struct {
	buf   []byte        // where a CHUNK's pages go (chunkSize bytes)
	ready chan struct{} // closed when the fields below are set
	typ   frameType
	start uint64
	data  []byte
	err   error
}

func newSession(c *conn, chunkSize uint32) *session {
	s := &session{c: c, chunkSize: chunkSize, pending: map[uint64]*call{}}
	go s.read()
	return s
}

// roundTrip sends a request and waits for its reply (at most
// replyTimeout, after which the session is broken).
func (s *session) roundTrip(t frameType, payload []byte, cl *call) error {
	cl.ready = make(chan struct{})
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return s.err
	}
	s.next++
	id := s.next
	s.pending[id] = cl
	s.mu.Unlock()
	if err := s.c.send(t, id, payload); err != nil {
		s.broken(err)
	}
	timer := time.NewTimer(replyTimeout)
	defer timer.Stop()
	select {
	case <-cl.ready:
	case <-timer.C:
		s.broken(fmt.Errorf("%s request %d: %w within %v", t, id, errNoReply, replyTimeout))
		<-cl.ready
	}
	return cl.err
}

// broken fails every pending call with err and closes the connection.
func (s *session) broken(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		s.c.close()
	}
	for id, cl := range s.pending {
		cl.err = s.err
		close(cl.ready)
		delete(s.pending, id)
	}
}

func (s *session) close() { s.broken(ErrClosed) }

// read hands replies to their calls until the connection fails.
func (s *session) read() {
	for {
		if err := s.readOne(); err != nil {
			s.broken(err)
			return
		}
	}
}

func (s *session) readOne() error {
	h, err := s.c.next()
	if err != nil {
		return err
	}
	// Claim the call: from here on only this goroutine completes it, so
	// that its buffer is never handed back while a reply is read into it.
	s.mu.Lock()
	cl := s.pending[h.id]
	delete(s.pending, h.id)
	s.mu.Unlock()
	if cl == nil {
		return badFrame(byte(h.typ), "%s frame for request %d, which is not waiting", h.typ, h.id)
	}
	err = s.fill(cl, h)
	if err != nil {
		cl.err = err
	}
	close(cl.ready)
	return err
}

// fill reads the reply described by h into cl.
func (s *session) fill(cl *call, h header) error {
	cl.typ = h.typ
	switch h.typ {
	case tChunk:
		n := h.len - chunkHdrLen
		if n > s.chunkSize {
			return badFrame(byte(h.typ), "chunk of %d bytes, the checkpoint's chunk size is %d", n, s.chunkSize)
		}
		var hb [chunkHdrLen]byte
		if _, err := s.c.payload(header{typ: h.typ, len: chunkHdrLen}, hb[:]); err != nil {
			return err
		}
		cl.start = binary.BigEndian.Uint64(hb[:])
		data, err := s.c.payload(header{typ: h.typ, len: n}, cl.buf)
		cl.data = data
		if err == nil {
			err = checkPages(tChunk, cl.start, len(data))
		}
		return err
	case tNoChunk, tOK:
		return nil
	case tError:
		var b [2 + maxErrorText]byte
		p, err := s.c.payload(h, b[:])
		if err != nil {
			return err
		}
		m := parseError(p)
		cl.err = &RemoteError{Code: uint16(m.code), Text: m.text}
		return nil
	}
	return badFrame(byte(h.typ), "%s frame on the demand lane", h.typ)
}

// alive reports whether the session has not broken.
func (s *session) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == nil
}
