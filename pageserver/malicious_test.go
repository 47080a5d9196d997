package pageserver

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// maliciousServer serves checkpoint ckpt from a directory that has, next
// to it, a store the server must never serve (secret) and a symlink to it
// inside (link).
func maliciousServer(t *testing.T) (*Server, *logBuf, *fixture) {
	t.Helper()
	fx := newFixture(4242, 7, 0x7f0000003000)
	dir := fx.checkpointDir(t, "ckpt")
	secret := filepath.Join(filepath.Dir(dir), "secret")
	newFixture(4242, 8, 0x7f0000003000).write(t, secret, false)
	t.Cleanup(func() { os.RemoveAll(secret) })
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s, log := startServer(t, Config{Dir: dir})
	return s, log, fx
}

// TestMaliciousPeer breaks the protocol in every way it can: each
// connection is ended with a logged reason, nothing outside the store is
// read, and a well-behaved client is served all along.
func TestMaliciousPeer(t *testing.T) {
	s, log, fx := maliciousServer(t)
	good := openSource(t, client(s), "ckpt", fx)
	ident := good.ident
	get := func(mm uint32, addr uint64) []byte { return frame(tGet, 2, pageReq{mm: mm, addr: addr}.append(nil)) }
	lie := frame(tHello, 0, hello{min: 1, max: 1}.append(nil))
	binary.BigEndian.PutUint32(lie[4:], 1<<30)
	cases := []struct {
		name   string
		lane   lane // 0: before open
		frames [][]byte
		reason string
	}{
		{"oversize hello", 0, [][]byte{lie}, "oversize HELLO frame"},
		{"unknown type", laneDemand, [][]byte{frame(99, 1)}, "unknown frame type"},
		{"server frame", laneDemand, [][]byte{frame(tChunk, 1, make([]byte, 8+page))}, "from the wrong side"},
		{"length lie", laneDemand, [][]byte{frame(tGet, 2, make([]byte, 12))[:headerLen+5]}, "unexpected EOF"},
		{"oversize get", laneDemand, [][]byte{frame(tGet, 2, make([]byte, 13))}, "oversize GET frame"},
		{"range on demand", laneDemand, [][]byte{frame(tRange, 2, rangeReq{start: 0, end: 1}.append(nil))}, "RANGE frame on the demand lane"},
		{"get on bulk", laneBulk, [][]byte{get(fx.pid, fx.base)}, "GET frame on the bulk lane"},
		{"push on pull", laneDemand, [][]byte{frame(tPutChunk, 0, make([]byte, 12+page))}, "PUTCHUNK frame on the demand lane"},
		{"empty range", laneBulk, [][]byte{frame(tRange, 2, rangeReq{start: 5, end: 5}.append(nil))}, "empty range"},
	}
	r := rawConn(t, s)
	r.send(tHello, 0, hello{min: ProtocolVersion + 1, max: ProtocolVersion + 5}.append(nil))
	r.expectError(codeVersion)
	log.waitFor(t, "client speaks versions")
	for _, c := range cases {
		r := rawConn(t, s)
		if c.lane != 0 {
			r.open(c.lane, "ckpt", ident)
		}
		for _, f := range c.frames {
			r.write(f)
		}
		if c.name == "length lie" {
			r.c.nc.Close()
		} else {
			r.expectClosed()
		}
		log.waitFor(t, c.reason)
		if err := checkEveryPage(good, fx, 0); err != nil {
			t.Fatalf("after %s: %v", c.name, err)
		}
	}
}

// TestMaliciousNames asks for checkpoints outside the directory.
func TestMaliciousNames(t *testing.T) {
	s, log, _ := maliciousServer(t)
	var ident [identLen]byte
	for i, name := range []string{"..", "../secret", "/etc", "a/../../secret", ".incoming-x"} {
		r := rawConn(t, s)
		r.handshake()
		r.send(tOpen, 1, []byte{byte(laneDemand), byte(len(name))}, []byte(name), ident[:])
		r.expectClosed()
		waitCount(t, log, ErrBadName.Error(), i+1)
	}
	for _, name := range []string{"link", "secret", "missing"} {
		r := rawConn(t, s)
		r.handshake()
		r.send(tOpen, 1, openReq{lane: laneDemand, name: name, ident: ident}.append(nil))
		r.expectError(codeNoSuch)
	}
	log.waitFor(t, "checkpoint link is not a directory")
	if got := log.String(); strings.Contains(got, "checkpoint opened name=link") || strings.Contains(got, "checkpoint opened name=secret") {
		t.Fatalf("a store outside the directory was opened:\n%s", got)
	}
}

// TestMaliciousOutside asks for pages the store does not have.
func TestMaliciousOutside(t *testing.T) {
	s, _, fx := maliciousServer(t)
	good := openSource(t, client(s), "ckpt", fx)
	r := rawConn(t, s)
	r.open(laneDemand, "ckpt", good.ident)
	for i, q := range []pageReq{{fx.pid + 1, fx.base}, {fx.pid, 0}, {fx.pid, ^uint64(0)}, {fx.pid, fx.base - 1}, {0, fx.base}} {
		r.send(tGet, uint64(i+1), q.append(nil))
		r.expect(tNoChunk)
	}
	b := rawConn(t, s)
	b.open(laneBulk, "ckpt", good.ident)
	b.send(tRange, 1, rangeReq{mm: fx.pid + 1, start: 0, end: ^uint64(0)}.append(nil))
	if p := b.expect(tEnd); binary.BigEndian.Uint64(p) != 0 {
		t.Fatalf("range of another mm sent %d chunks", binary.BigEndian.Uint64(p))
	}
}

// TestMaliciousNeverReads opens bulk streams and never reads them, and
// floods the server with connections and requests: well-behaved clients
// are served all along, and the server still works after.
func TestMaliciousNeverReads(t *testing.T) {
	s, _, fx := maliciousServer(t)
	good := openSource(t, client(s), "ckpt", fx)
	for range 4 {
		r := rawConn(t, s)
		r.open(laneBulk, "ckpt", good.ident)
		for i := range 64 {
			r.send(tRange, uint64(i+1), rangeReq{mm: fx.pid, start: 0, end: ^uint64(0)}.append(nil))
		}
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flood(t, s, fx, good.ident)
		}()
	}
	if err := checkEveryPage(good, fx, 0); err != nil {
		t.Fatalf("while peers never read: %v", err)
	}
	wg.Wait()
	if err := checkEveryPage(openSource(t, client(s), "ckpt", fx), fx, 0); err != nil {
		t.Fatalf("after the flood: %v", err)
	}
}

// flood sends GETs as fast as it can without reading a reply, then drops
// the connection.
func flood(t *testing.T, s *Server, fx *fixture, ident [identLen]byte) {
	r := rawConn(t, s)
	r.open(laneDemand, "ckpt", ident)
	for i := range 2000 {
		if r.c.send(tGet, uint64(i+1), pageReq{mm: fx.pid, addr: fx.base}.append(nil)) != nil {
			return
		}
	}
}
