package pageserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crlazy/crlazy/images"
)

// pushFixture pushes fx as checkpoint name the way a dump does: chunks
// first, then the records of the dump's own store once it is committed.
func pushFixture(t *testing.T, s *Server, name string, fx *fixture) string {
	t.Helper()
	local := filepath.Join(t.TempDir(), name)
	p, err := Push(client(s), name, local, PushHeader("test"))
	if err != nil {
		t.Fatal(err)
	}
	fx.eachRun(func(start, end uint64, zero bool) {
		for a := start; a < end && !zero; {
			ce := min(end, (a+images.ChunkMaxBytes)&^(images.ChunkMaxBytes-1))
			if err := p.PutChunk(fx.pid, a, fx.want(a, int(ce-a))); err != nil {
				t.Fatal(err)
			}
			a = ce
		}
	})
	fx.write(t, local, true)
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	return local
}

func TestPush(t *testing.T) {
	fx := newFixture(4242, 5, 0x7f0000003000)
	dir := t.TempDir()
	s, log := startServer(t, Config{Dir: dir})
	local := pushFixture(t, s, "ckpt", fx)
	log.waitFor(t, "checkpoint received")
	r := mustOpen(t, filepath.Join(dir, "ckpt"))
	t.Run("complete", func(t *testing.T) { conform(t, storePages{r}, fx) })
	want, err := Identity(mustOpen(t, local))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Identity(r); err != nil || got != want {
		t.Fatalf("identity of the pushed store %x (%v), of the dump's %x", got, err, want)
	}
	t.Run("served", func(t *testing.T) { conform(t, openSource(t, client(s), "ckpt", fx), fx) })
	if _, err := Push(client(s), "ckpt", local, PushHeader("test")); !errors.Is(err, ErrExists) {
		t.Fatalf("second push of a name: %v, want ErrExists", err)
	}
	other := newFixture(4242, 6, 0x7f0000003000)
	if _, err := Open(client(s), "ckpt", other.openLocal(t)); !errors.Is(err, ErrMismatch) {
		t.Fatalf("open with the records of another dump: %v, want ErrMismatch", err)
	}
}

// checkNothingLeft checks a failed push left no trace in dir.
func checkNothingLeft(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("a failed push left %s", e.Name())
	}
}

func TestPushCutShort(t *testing.T) {
	fx := newFixture(4242, 5, 0x7f0000003000)
	dir := t.TempDir()
	s, log := startServer(t, Config{Dir: dir})
	p, err := Push(client(s), "cut", t.TempDir(), PushHeader("test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PutChunk(fx.pid, fx.base, fx.want(fx.base, 3*page)); err != nil {
		t.Fatal(err)
	}
	p.Abort()
	log.waitFor(t, "push of cut cut short")
	checkNothingLeft(t, dir)
}

func TestPushRefused(t *testing.T) {
	dir := t.TempDir()
	s, log := startServer(t, Config{Dir: dir})
	chunk := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 1), 0x1000)
	chunk = append(chunk, make([]byte, page)...)
	kb := images.RecordKey(images.Core, 1)
	cases := map[string][][]byte{
		"count mismatch": {frame(tPutChunk, 0, chunk), frame(tCommit, 2, commitMsg{chunks: 2, chunkBytes: 2 * page}.append(nil))},
		"bad record":     {frame(tPutRecord, 0, []byte{byte(len(kb))}, kb, []byte{0xff, 0xff, 0xff})},
		"bad chunk":      {frame(tPutChunk, 0, chunk[:12], make([]byte, page+8))},
		"pull request":   {frame(tGet, 2, pageReq{}.append(nil))},
		"duplicate":      {frame(tPutChunk, 0, chunk), frame(tPutChunk, 0, chunk)},
	}
	i := 0
	for what, frames := range cases {
		i++
		name := fmt.Sprintf("refused-%d", i)
		r := rawConn(t, s)
		r.handshake()
		r.send(tOpen, 1, openReq{lane: lanePush, name: name, header: []byte{8, 1}}.append(nil))
		r.expect(tOpened)
		for _, f := range frames {
			r.write(f)
		}
		r.expectClosed()
		log.waitFor(t, "name="+name+" reason=")
		t.Logf("%s: %s", what, lastLine(log.String(), "name="+name+" reason="))
		checkNothingLeft(t, dir)
	}
}
