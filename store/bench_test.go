package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/crlazy/crlazy/images"
)

// benchBytes is how much page data one benchmark operation writes or
// reads: 1 GiB, as the dump throughput goal is stated per GiB.
const benchBytes = 1 << 30

// benchChunkSizes are the chunk sizes compared by the benchmarks.
var benchChunkSizes = []int{64 << 10, 128 << 10, 256 << 10, 1 << 20}

// benchPool is random page data that benchmark chunks are cut from; the
// Writer never modifies chunk data, so sharing it between chunks is safe.
var benchPool = func() []byte {
	b := make([]byte, 64<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}()

func benchChunk(i, size int) []byte {
	off := (i * size) % (len(benchPool) - size + 1)
	off -= off % images.PageSize
	return benchPool[off : off+size : off+size]
}

// writeBench writes benchBytes of chunks of size into a new store in dir;
// it returns how long the puts took (until every batch reached badger)
// and how long Commit took (fsync of everything).
func writeBench(tb testing.TB, dir string, size int) (put, commit time.Duration) {
	hdr := testHeader()
	hdr.ChunkSize = uint32(size)
	w, err := Create(dir, hdr)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	for i := range benchBytes / size {
		// Four mms, as a small process tree; chunks back to back.
		if err := w.PutChunk(uint32(i%4), uint64(i/4*size), benchChunk(i, size)); err != nil {
			tb.Fatal(err)
		}
	}
	w.mu.Lock()
	err = w.batch.flush()
	w.batch = newBatcher(w.db, w.sync, batchBytes)
	w.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	put = time.Since(start)
	if err := w.Commit(); err != nil {
		tb.Fatal(err)
	}
	return put, time.Since(start) - put
}

// BenchmarkPutChunk writes 1 GiB of chunks per operation into a fresh
// store. MB/s covers PutChunk until the data is in badger (the page
// cache); commit-ms is what Commit adds (fsync of 1 GiB).
func BenchmarkPutChunk(b *testing.B) {
	for _, size := range benchChunkSizes {
		b.Run(fmt.Sprintf("chunk=%dK", size>>10), func(b *testing.B) {
			b.SetBytes(benchBytes)
			var commit time.Duration
			for range b.N {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "images")
				b.StartTimer()
				put, c := writeBench(b, dir, size)
				b.StopTimer()
				commit += c
				_ = put
			}
			b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms")
		})
	}
}

// BenchmarkChunksRead reads every chunk of a 1 GiB store (warm page
// cache) per operation, through Chunks, without copying.
func BenchmarkChunksRead(b *testing.B) {
	for _, size := range benchChunkSizes {
		b.Run(fmt.Sprintf("chunk=%dK", size>>10), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "images")
			writeBench(b, dir, size)
			r, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.SetBytes(benchBytes)
			b.ResetTimer()
			for range b.N {
				readBench(b, r)
			}
		})
	}
}

func readBench(b *testing.B, r *Reader) {
	var n int
	for mm := range uint32(4) {
		err := r.Chunks(mm, func(addr uint64, data []byte) error {
			n += len(data)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != benchBytes {
		b.Fatalf("read %d bytes, want %d", n, benchBytes)
	}
}

// BenchmarkFindChunk measures the fault-path lookup: the chunk that holds
// a random page of a 1 GiB store.
func BenchmarkFindChunk(b *testing.B) {
	for _, size := range benchChunkSizes {
		b.Run(fmt.Sprintf("chunk=%dK", size>>10), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "images")
			writeBench(b, dir, size)
			r, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			rng := rand.New(rand.NewPCG(5, 6))
			perMM := uint64(benchBytes / 4)
			b.ResetTimer()
			for range b.N {
				addr := rng.Uint64N(perMM) &^ (images.PageSize - 1)
				found, err := r.FindChunk(rng.Uint32N(4), addr, func(uint64, []byte) error { return nil })
				if err != nil || !found {
					b.Fatalf("find %#x: %v %v", addr, found, err)
				}
			}
		})
	}
}
