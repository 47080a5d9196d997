package pageserver

import (
	"encoding/binary"
	"time"
)

// bulkConn is a bulk-lane connection: one RANGE stream at a time. The
// caller's goroutine reads the stream itself; the socket's buffer is the
// read-ahead (a reading goroutine that handed chunks over cost more than
// it bought on a 2-CPU machine: see doc.go).
type bulkConn struct {
	c         *conn
	chunkSize uint32
	next      uint64 // last request id
	buf       []byte // a chunk's pages
}

func newBulkConn(c *conn, chunkSize uint32) *bulkConn {
	return &bulkConn{c: c, chunkSize: chunkSize, buf: make([]byte, chunkSize)}
}

// stream runs one RANGE request and calls fn with each chunk, checking
// that chunks come in address order, overlap the range and fit the chunk
// size. On error the connection must not be used again.
func (b *bulkConn) stream(q rangeReq, fn func(uint64, []byte) error) error {
	b.next++
	id := b.next
	if err := b.c.send(tRange, id, q.append(nil)); err != nil {
		return err
	}
	var n, prevEnd uint64
	for {
		h, err := b.header(id)
		if err != nil {
			return err
		}
		if h.typ == tEnd {
			return b.end(n)
		}
		start, data, err := b.chunk(h)
		if err != nil {
			return err
		}
		end := start + uint64(len(data))
		if start < prevEnd || end <= q.start || start >= q.end {
			return badFrame(byte(tChunk), "chunk %#x-%#x out of order or outside %#x-%#x", start, end, q.start, q.end)
		}
		n, prevEnd = n+1, end
		if err := fn(start, data); err != nil {
			return err
		}
	}
}

// header reads the next frame header of stream id: a CHUNK or the END
// (an error frame becomes a *RemoteError). It must come within
// replyTimeout.
func (b *bulkConn) header(id uint64) (header, error) {
	if err := b.c.nc.SetReadDeadline(time.Now().Add(replyTimeout)); err != nil {
		return header{}, err
	}
	h, err := b.c.next()
	switch {
	case err != nil:
		return h, err
	case h.typ == tError:
		var p [2 + maxErrorText]byte
		q, err := b.c.payload(h, p[:])
		if err != nil {
			return h, err
		}
		m := parseError(q)
		return h, &RemoteError{Code: uint16(m.code), Text: m.text}
	case h.typ != tChunk && h.typ != tEnd:
		return h, badFrame(byte(h.typ), "%s frame on the bulk lane", h.typ)
	case h.id != id:
		return h, badFrame(byte(h.typ), "%s frame for request %d during stream %d", h.typ, h.id, id)
	}
	return h, nil
}

// end reads END and checks it counts the n chunks received.
func (b *bulkConn) end(n uint64) error {
	var p [8]byte
	if _, err := b.c.payload(header{typ: tEnd, len: 8}, p[:]); err != nil {
		return err
	}
	if c := binary.BigEndian.Uint64(p[:]); c != n {
		return badFrame(byte(tEnd), "stream of %d chunks ended with a count of %d", n, c)
	}
	return nil
}

// chunk reads a CHUNK's start and pages.
func (b *bulkConn) chunk(h header) (uint64, []byte, error) {
	n := h.len - chunkHdrLen
	if n > b.chunkSize {
		return 0, nil, badFrame(byte(h.typ), "chunk of %d bytes, the checkpoint's chunk size is %d", n, b.chunkSize)
	}
	var hb [chunkHdrLen]byte
	if _, err := b.c.payload(header{typ: h.typ, len: chunkHdrLen}, hb[:]); err != nil {
		return 0, nil, err
	}
	start := binary.BigEndian.Uint64(hb[:])
	data, err := b.c.payload(header{typ: h.typ, len: n}, b.buf)
	if err == nil {
		err = checkPages(tChunk, start, len(data))
	}
	return start, data, err
}
