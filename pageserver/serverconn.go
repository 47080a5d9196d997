package pageserver

import (
	"crypto/hmac"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images/crlazypb"
)

// tlsRecordHandshake is the first byte a TLS client sends.
const tlsRecordHandshake = 0x16

// serverConn is the server's side of one connection.
type serverConn struct {
	s      *Server
	remote string
	c      *conn
	lane   lane
	name   string
	buf    [maxOpenPayload]byte // control payloads, read by the reading goroutine
	idle   time.Time            // read deadline between frames: the handshake's, then none

	mu  sync.Mutex // guards err
	err error      // first failure of a request goroutine
}

// run takes the connection through TLS, hello, authentication and open,
// then serves its lane.
func (sc *serverConn) run(nc net.Conn) error {
	sc.idle = time.Now().Add(handshakeTimeout)
	if err := nc.SetDeadline(sc.idle); err != nil {
		return err
	}
	if tc := sc.s.cfg.TLS; tc != nil {
		t := tls.Server(nc, tc)
		if err := t.Handshake(); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		nc = t
	}
	sc.c = newConn(nc, fromClient, writeTimeout)
	if err := sc.handshake(); err != nil {
		return err
	}
	return sc.open()
}

// read reads the next frame, which must be of type t, into sc.buf.
func (sc *serverConn) read(t frameType) (header, []byte, error) {
	h, err := sc.c.next()
	if err != nil {
		return h, nil, err
	}
	if h.typ != t {
		return h, nil, badFrame(byte(h.typ), "%s frame where %s was expected", h.typ, t)
	}
	p, err := sc.payload(h, sc.buf[:])
	return h, p, err
}

// payload reads a frame's payload, which must arrive within frameTimeout
// of its header: a peer that announces more than it sends is dropped.
func (sc *serverConn) payload(h header, buf []byte) ([]byte, error) {
	if h.len == 0 {
		return buf[:0], nil
	}
	if err := sc.c.nc.SetReadDeadline(time.Now().Add(frameTimeout)); err != nil {
		return nil, err
	}
	p, err := sc.c.payload(h, buf)
	if err != nil {
		return nil, err
	}
	return p, sc.c.nc.SetReadDeadline(sc.idle)
}

func (sc *serverConn) handshake() error {
	if b, err := sc.c.r.Peek(1); err == nil && b[0] == tlsRecordHandshake {
		return fmt.Errorf("a TLS client on a server without TLS: %w", ErrProtocol)
	}
	_, p, err := sc.read(tHello)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	hl, err := parseHello(p)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if hl.max < minProtocolVersion || hl.min > ProtocolVersion {
		err := fmt.Errorf("client speaks versions %d..%d, this server %d..%d", hl.min, hl.max, minProtocolVersion, ProtocolVersion)
		return sc.refuseConn(0, refuse(codeVersion, err))
	}
	w := welcome{version: min(hl.max, ProtocolVersion)}
	if w.nonce, err = newNonce(); err != nil {
		return err
	}
	token := sc.s.cfg.Token
	if len(token) > 0 {
		w.flags = welcomeToken
	}
	if err := sc.c.send(tWelcome, 0, w.append(nil)); err != nil {
		return err
	}
	return sc.authenticate(w.nonce, token)
}

func (sc *serverConn) authenticate(nonce [nonceLen]byte, token []byte) error {
	_, p, err := sc.read(tAuth)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	a := parseAuth(p)
	var proof [macLen]byte
	if len(token) > 0 {
		want := clientMAC(token, nonce, a.nonce)
		switch {
		case a.mac == [macLen]byte{}:
			return sc.refuseConn(0, refuse(codeAuth, fmt.Errorf("client sent no token: %w", ErrAuth)))
		case !hmac.Equal(a.mac[:], want[:]):
			return sc.refuseConn(0, refuse(codeAuth, fmt.Errorf("client sent a wrong token: %w", ErrAuth)))
		}
		proof = serverProof(token, a.nonce, nonce)
	}
	return sc.c.send(tReady, 0, proof[:])
}

// refuseConn sends an error frame for err (best effort) and returns err.
func (sc *serverConn) refuseConn(id uint64, err error) error {
	_ = sc.c.send(tError, id, errorMsg{code: codeOf(err), text: err.Error()}.append(nil))
	return err
}

// open binds the connection to a checkpoint and serves its lane.
func (sc *serverConn) open() error {
	h, p, err := sc.read(tOpen)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	o, err := parseOpen(p)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	sc.lane, sc.name = o.lane, o.name
	if o.lane == lanePush {
		return sc.openPush(h.id, o)
	}
	ent, err := sc.s.cat.pull(o.name, o.ident)
	if err != nil {
		return sc.refuseConn(h.id, err)
	}
	defer ent.release()
	if err := sc.opened(h.id, ent.chunkSize); err != nil {
		return err
	}
	sc.s.log.Debug("restore connected", "remote", sc.remote, "lane", sc.lane, "name", sc.name)
	if o.lane == laneDemand {
		return sc.serveDemand(ent)
	}
	return sc.serveBulk(ent)
}

func (sc *serverConn) openPush(id uint64, o openReq) error {
	hdr := &crlazypb.Header{}
	if err := proto.Unmarshal(o.header, hdr); err != nil {
		return sc.refuseConn(id, refuse(codeBadRequest, fmt.Errorf("push header: %w", err)))
	}
	in, err := sc.s.cat.push(o.name, hdr)
	if err != nil {
		return sc.refuseConn(id, err)
	}
	defer in.abort()
	if err := sc.opened(id, in.w.Header().GetChunkSize()); err != nil {
		return err
	}
	sc.s.log.Info("receiving checkpoint", "remote", sc.remote, "name", sc.name)
	return sc.servePush(in)
}

// opened answers OPEN and lifts the handshake deadline.
func (sc *serverConn) opened(id uint64, chunkSize uint32) error {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], chunkSize)
	if err := sc.c.send(tOpened, id, b[:]); err != nil {
		return err
	}
	sc.idle = time.Time{}
	return sc.c.deadline(sc.idle)
}

// fail records the first error of a request goroutine and ends the
// connection, so that the reading goroutine stops too.
func (sc *serverConn) fail(err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.err == nil {
		sc.err = err
		sc.c.close()
	}
}

// firstErr returns the error a request goroutine failed with, if any, in
// preference to err (which then only says the connection was closed).
func (sc *serverConn) firstErr(err error) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.err != nil {
		return sc.err
	}
	return err
}
