package pageserver

import (
	"net"
	"testing"
	"time"
)

// rawTimeout bounds every read of a raw test connection.
const rawTimeout = 10 * time.Second

// raw is a hand-driven client connection, for tests that break the
// protocol.
type raw struct {
	t *testing.T
	c *conn
}

func rawConn(t *testing.T, s *Server) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, c: newConn(nc, fromServer, rawTimeout)}
}

func (r *raw) send(ty frameType, id uint64, parts ...[]byte) {
	r.t.Helper()
	if err := r.c.send(ty, id, parts...); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// next reads the next frame and its payload.
func (r *raw) next() (header, []byte, error) {
	if err := r.c.nc.SetReadDeadline(time.Now().Add(rawTimeout)); err != nil {
		return header{}, nil, err
	}
	h, err := r.c.next()
	if err != nil {
		return h, nil, err
	}
	p, err := r.c.payload(h, make([]byte, h.len))
	return h, p, err
}

func (r *raw) expect(ty frameType) []byte {
	r.t.Helper()
	h, p, err := r.next()
	if err != nil {
		r.t.Fatal(err)
	}
	if h.typ != ty {
		r.t.Fatalf("got %s, want %s", h.typ, ty)
	}
	return p
}

func (r *raw) expectError(code errCode) {
	r.t.Helper()
	p := r.expect(tError)
	if m := parseError(p); m.code != code {
		r.t.Fatalf("error %d %q, want code %d", m.code, m.text, code)
	}
}

// expectClosed reads until the server closes the connection.
func (r *raw) expectClosed() {
	r.t.Helper()
	for {
		if _, _, err := r.next(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatal("the server kept the connection open")
			}
			return
		}
	}
}

// handshake says hello and authenticates without a token.
func (r *raw) handshake() {
	r.t.Helper()
	r.send(tHello, 0, hello{min: 1, max: 1}.append(nil))
	r.expect(tWelcome)
	r.send(tAuth, 0, auth{}.append(nil))
	r.expect(tReady)
}

// open handshakes and opens a lane of checkpoint name.
func (r *raw) open(l lane, name string, ident [identLen]byte) {
	r.t.Helper()
	r.handshake()
	r.send(tOpen, 1, openReq{lane: l, name: name, ident: ident}.append(nil))
	r.expect(tOpened)
}
