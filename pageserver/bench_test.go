package pageserver

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
)

// benchBytes is the size of the store the package benchmarks serve.
const benchBytes = 256 << 20

// benchServer writes a store of benchBytes of chunks of mm 1 as
// checkpoint "bench", serves it on loopback, and returns a client and
// the store itself.
func benchServer(b *testing.B) (*Source, *store.Reader) {
	b.Helper()
	dir := b.TempDir()
	w, err := store.Create(filepath.Join(dir, "bench"), &crlazypb.Header{ToolVersion: "bench", Arch: "x86_64"})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for a := uint64(0); a < benchBytes; a += images.ChunkMaxBytes {
		data := make([]byte, images.ChunkMaxBytes)
		for i := 0; i < len(data); i += 8 {
			data[i] = byte(rng.Uint32()) | 1
		}
		if err := w.PutChunk(1, a, data); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	s, _ := startServer(b, Config{Dir: dir})
	r := mustOpen(b, filepath.Join(dir, "bench"))
	src, err := Open(client(s), "bench", r)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	return src, r
}

// BenchmarkStream reads every chunk through a client (a prefetch).
func BenchmarkStream(b *testing.B) {
	src, _ := benchServer(b)
	b.SetBytes(benchBytes)
	b.ResetTimer()
	for range b.N {
		if err := src.ChunksIn(1, 0, benchBytes, func(uint64, []byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindChunk looks up random chunks through a client (a fault).
func BenchmarkFindChunk(b *testing.B) {
	src, _ := benchServer(b)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for range b.N {
		addr := rng.Uint64N(benchBytes) &^ (images.PageSize - 1)
		if found, err := src.FindChunk(1, addr, func(uint64, []byte) error { return nil }); err != nil || !found {
			b.Fatalf("find %#x: %v %v", addr, found, err)
		}
	}
}
