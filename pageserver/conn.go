package pageserver

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// readBufBytes is the buffered reader of a connection: large enough to
// take many small frames with one read; larger payloads are read straight
// into their destination.
const readBufBytes = 64 << 10

// conn is one framed connection. send may be called from any goroutine;
// reads belong to one goroutine at a time.
type conn struct {
	nc   net.Conn
	r    *bufio.Reader
	peer side          // what the other end may send
	wto  time.Duration // write deadline per frame; 0: none

	wmu  sync.Mutex // guards whdr and the write side of nc
	whdr [headerLen]byte
	rhdr [headerLen]byte
}

func newConn(nc net.Conn, peer side, writeTimeout time.Duration) *conn {
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, readBufBytes), peer: peer, wto: writeTimeout}
}

// send writes one frame whose payload is the concatenation of parts,
// without copying them (writev on a TCP connection).
func (c *conn) send(t frameType, id uint64, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	putHeader(c.whdr[:], header{typ: t, len: uint32(n), id: id})
	if c.wto > 0 {
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.wto)); err != nil {
			return err
		}
	}
	bufs := make(net.Buffers, 0, 1+len(parts))
	bufs = append(bufs, c.whdr[:])
	for _, p := range parts {
		if len(p) > 0 {
			bufs = append(bufs, p)
		}
	}
	_, err := bufs.WriteTo(c.nc)
	return err
}

// next reads the next frame header.
func (c *conn) next() (header, error) {
	return readHeader(c.r, &c.rhdr, c.peer)
}

// payload reads h's payload into buf (which must be large enough).
func (c *conn) payload(h header, buf []byte) ([]byte, error) {
	return readPayload(c.r, h, buf)
}

// expect reads a frame that must be of type t (or an error frame, which
// becomes a *RemoteError) into buf.
func (c *conn) expect(t frameType, id uint64, buf []byte) ([]byte, error) {
	h, err := c.next()
	if err != nil {
		return nil, err
	}
	p, err := c.payload(h, buf)
	if err != nil {
		return nil, err
	}
	switch {
	case h.typ == tError:
		m := parseError(p)
		return nil, &RemoteError{Code: uint16(m.code), Text: m.text}
	case h.typ != t:
		return nil, badFrame(byte(h.typ), "%s frame where %s was expected", h.typ, t)
	case h.id != id:
		return nil, badFrame(byte(h.typ), "%s frame for request %d, want %d", h.typ, h.id, id)
	}
	return p, nil
}

// deadline sets the read and write deadline (zero: none).
func (c *conn) deadline(t time.Time) error { return c.nc.SetDeadline(t) }

func (c *conn) close() error { return c.nc.Close() }
