package restorer

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	pipedata "github.com/checkpoint-restore/go-criu/v8/crit/images/pipe-data"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// pipeStore writes a store holding pipe 1's record (bytes, capacity) and
// the given pieces (offset -> data), and opens it.
func pipeStore(t *testing.T, n, size uint32, pieces map[uint64][]byte) *store.Reader {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	w, err := store.Create(dir, &crlazypb.Header{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	e := &pipedata.PipeDataEntry{PipeId: proto.Uint32(1), Bytes: proto.Uint32(n), Size: proto.Uint32(size)}
	if err := w.PutRecord(images.PipeData, 1, e); err != nil {
		t.Fatal(err)
	}
	for off, b := range pieces {
		if err := w.PutSubRecord(images.PipeBytes, 1, off, wrapperspb.Bytes(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestLoadPipe(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, images.PipeBytesMax), []byte("tail")
	tf := &treeFiles{content: map[uint32]*pipeContent{}}
	r := pipeStore(t, uint32(len(a)+len(b)), 1<<17, map[uint64][]byte{0: a, uint64(len(a)): b})
	if err := tf.loadPipe(r, 1); err != nil {
		t.Fatal(err)
	}
	c := tf.content[1]
	if c.size != 1<<17 || !bytes.Equal(c.data, append(append([]byte{}, a...), b...)) {
		t.Errorf("loaded capacity %d and %d bytes", c.size, len(c.data))
	}
}

// TestLoadPipeBad: pipe records that do not add up are refused before
// anything is created.
func TestLoadPipeBad(t *testing.T) {
	for _, c := range []struct {
		name    string
		n, size uint32
		pieces  map[uint64][]byte
	}{
		{"gap", 8, 4096, map[uint64][]byte{0: []byte("abc"), 4: []byte("efgh")}},
		{"short", 8, 4096, map[uint64][]byte{0: []byte("abc")}},
		{"long", 2, 4096, map[uint64][]byte{0: []byte("abc")}},
		{"above capacity", 8, 4, map[uint64][]byte{0: []byte("abcdefgh")}},
		{"above limit", images.PipeDataMax + 1, images.PipeDataMax + 4096, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			tf := &treeFiles{content: map[uint32]*pipeContent{}}
			err := tf.loadPipe(pipeStore(t, c.n, c.size, c.pieces), 1)
			if !errors.Is(err, ErrBadImage) {
				t.Errorf("loadPipe: %v, want ErrBadImage", err)
			}
		})
	}
	tf := &treeFiles{content: map[uint32]*pipeContent{}}
	if err := tf.loadPipe(pipeStore(t, 0, 4096, nil), 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pipe without its record: %v, want ErrNotFound", err)
	}
}
