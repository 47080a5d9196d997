package pageserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/crlazy/crlazy/uffd"
)

// sendError marks a failure to write to the peer (the connection is
// broken) as opposed to a failure to read the checkpoint.
type sendError struct{ err error }

func (e *sendError) Error() string { return "send: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// cleanEnd turns the peer's closing between frames into a nil error.
func cleanEnd(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// serveDemand answers GET and DONE, up to maxInflight at once,
// in any order (replies carry the request id).
func (sc *serverConn) serveDemand(ent *entry) error {
	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		h, p, err := sc.request(tGet, tDone)
		if err != nil {
			wg.Wait()
			return sc.firstErr(cleanEnd(err))
		}
		var do func() error
		switch h.typ {
		case tGet:
			q := parsePageReq(p)
			do = func() error { return sc.get(ent.pages, h.id, q) }
		case tDone:
			do = func() error { return sc.done(h.id) }
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := do(); err != nil {
				sc.fail(err)
			}
		}()
	}
}

// request reads the next request frame, which must be of a type the
// lane takes, and its (small) payload.
func (sc *serverConn) request(allowed ...frameType) (header, []byte, error) {
	h, err := sc.c.next()
	if err != nil {
		return h, nil, err
	}
	if !slices.Contains(allowed, h.typ) {
		return h, nil, badFrame(byte(h.typ), "%s frame on the %s lane", h.typ, sc.lane)
	}
	p, err := sc.payload(h, sc.buf[:])
	return h, p, err
}

// get answers GET with the chunk that holds the page, or NOCHUNK.
func (sc *serverConn) get(pages uffd.Source, id uint64, q pageReq) error {
	sc.s.demand.Enter()
	defer sc.s.demand.Leave()
	var start [chunkHdrLen]byte
	found, err := pages.FindChunk(q.mm, q.addr, func(a uint64, data []byte) error {
		binary.BigEndian.PutUint64(start[:], a)
		if err := sc.c.send(tChunk, id, start[:], data); err != nil {
			return &sendError{err}
		}
		return nil
	})
	switch {
	case err != nil:
		return sc.replyError(id, fmt.Errorf("get mm %d page %#x: %w", q.mm, q.addr, err))
	case !found:
		return sc.c.send(tNoChunk, id)
	}
	return nil
}

func (sc *serverConn) done(id uint64) error {
	sc.s.log.Info("a restore has every page", "remote", sc.remote, "name", sc.name)
	if f := sc.s.cfg.OnDone; f != nil {
		f(sc.name)
	}
	return sc.c.send(tOK, id)
}

// replyError reports a failure to read the checkpoint to the client; a
// failure to send ends the connection.
func (sc *serverConn) replyError(id uint64, err error) error {
	var se *sendError
	if errors.As(err, &se) {
		return se.err
	}
	sc.s.log.Error("cannot serve a request", "remote", sc.remote, "name", sc.name, "err", err)
	if serr := sc.c.send(tError, id, errorMsg{code: codeOf(err), text: err.Error()}.append(nil)); serr != nil {
		return serr
	}
	return nil
}

// serveBulk answers RANGE requests one after the other, each with a
// stream of CHUNK frames and an END frame that counts them. Before each
// chunk it lets demand requests anywhere on the server go first.
func (sc *serverConn) serveBulk(ent *entry) error {
	for {
		h, p, err := sc.request(tRange)
		if err != nil {
			return cleanEnd(err)
		}
		q, err := parseRange(p)
		if err != nil {
			return err
		}
		if err := sc.stream(ent.pages, h.id, q); err != nil {
			return err
		}
	}
}

func (sc *serverConn) stream(pages uffd.Source, id uint64, q rangeReq) error {
	var start, end [8]byte
	var n uint64
	err := pages.ChunksIn(q.mm, q.start, q.end, func(a uint64, data []byte) error {
		sc.s.demand.Wait(maxBulkPause)
		binary.BigEndian.PutUint64(start[:], a)
		if err := sc.c.send(tChunk, id, start[:], data); err != nil {
			return &sendError{err}
		}
		n++
		return nil
	})
	if err != nil {
		return sc.replyError(id, fmt.Errorf("range mm %d %#x-%#x: %w", q.mm, q.start, q.end, err))
	}
	binary.BigEndian.PutUint64(end[:], n)
	return sc.c.send(tEnd, id, end[:])
}
