package pageserver

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/uffd"
)

// TestConformance runs one suite against every page source: the store
// itself, a ProcessPages, and the network Source in front of each.
func TestConformance(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		fx := newFixture(4242, 1, 0x7f0000003000)
		r := fx.openLocalFull(t)
		conform(t, storePages{r}, fx)
	})
	t.Run("process", func(t *testing.T) {
		fx := inMemory(t, 2)
		conform(t, newProcessPages(t, fx), fx)
	})
	t.Run("server-store", func(t *testing.T) {
		fx := newFixture(4242, 3, 0x7f0000003000)
		s, _ := startServer(t, Config{Dir: fx.checkpointDir(t, "ckpt")})
		conform(t, openSource(t, client(s), "ckpt", fx), fx)
	})
	t.Run("server-process", func(t *testing.T) {
		fx := inMemory(t, 4)
		s, _ := startServer(t, Config{Process: newProcessPages(t, fx)})
		conform(t, openSource(t, client(s), "live", fx), fx)
	})
}

func (fx *fixture) openLocalFull(t testing.TB) *storeReader {
	t.Helper()
	dir := fx.checkpointDir(t, "full")
	return mustOpen(t, dir+"/full")
}

func newProcessPages(t testing.TB, fx *fixture) *ProcessPages {
	t.Helper()
	p, err := NewProcessPages("live", fx.openLocal(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var errStopHere = errors.New("stop here")

func conform(t *testing.T, src uffd.Source, fx *fixture) {
	t.Run("find", func(t *testing.T) { conformFind(t, src, fx) })
	t.Run("range", func(t *testing.T) { conformRange(t, src, fx, fx.base, fx.end()) })
	t.Run("subranges", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(fx.seed, 9))
		for range 40 {
			a := fx.base + rng.Uint64N(fx.end()-fx.base)
			b := a + 1 + rng.Uint64N(fx.end()+page-a)
			conformRange(t, src, fx, a, b)
		}
	})
	t.Run("other-mm", func(t *testing.T) {
		found, err := src.FindChunk(fx.pid+1, fx.base, func(uint64, []byte) error { return nil })
		if err != nil || found {
			t.Fatalf("other mm: found %v, err %v", found, err)
		}
		err = src.ChunksIn(fx.pid+1, 0, ^uint64(0), func(uint64, []byte) error { return errors.New("a chunk") })
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("callback-error", func(t *testing.T) {
		_, err := src.FindChunk(fx.pid, fx.base, func(uint64, []byte) error { return errStopHere })
		if !errors.Is(err, errStopHere) {
			t.Fatalf("FindChunk returned %v, want the callback's error", err)
		}
		err = src.ChunksIn(fx.pid, fx.base, fx.end(), func(uint64, []byte) error { return errStopHere })
		if !errors.Is(err, errStopHere) {
			t.Fatalf("ChunksIn returned %v, want the callback's error", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- checkEveryPage(src, fx, g)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// conformFind looks up every page of the fixture and the page after it.
func conformFind(t *testing.T, src uffd.Source, fx *fixture) {
	if err := checkEveryPage(src, fx, 0); err != nil {
		t.Fatal(err)
	}
	for addr := fx.base; addr <= fx.end(); addr += page {
		has, err := src.HasData(fx.pid, addr)
		if err != nil || has != fx.isData(addr) {
			t.Fatalf("HasData(%#x) = %v, %v; want %v", addr, has, err, fx.isData(addr))
		}
	}
}

// checkEveryPage checks FindChunk on every page, starting at page i0.
func checkEveryPage(src uffd.Source, fx *fixture, i0 int) error {
	n := int((fx.end() - fx.base) / page)
	for k := range n + 1 {
		addr := fx.base + uint64((i0+k)%(n+1))*page
		var got []byte
		var start uint64
		found, err := src.FindChunk(fx.pid, addr, func(s uint64, data []byte) error {
			start, got = s, append([]byte(nil), data...)
			return nil
		})
		if err != nil {
			return fmt.Errorf("find %#x: %w", addr, err)
		}
		if found != fx.isData(addr) {
			return fmt.Errorf("find %#x: found %v, want %v", addr, found, fx.isData(addr))
		}
		if !found {
			continue
		}
		if err := checkChunk(fx, start, got); err != nil {
			return fmt.Errorf("find %#x: %w", addr, err)
		}
		if addr < start || addr >= start+uint64(len(got)) {
			return fmt.Errorf("find %#x: chunk %#x+%d does not hold it", addr, start, len(got))
		}
	}
	return nil
}

// checkChunk checks a chunk is data, of allowed size, with the pattern.
func checkChunk(fx *fixture, start uint64, data []byte) error {
	if len(data) == 0 || len(data)%page != 0 || len(data) > images.ChunkMaxBytes {
		return fmt.Errorf("chunk %#x of %d bytes", start, len(data))
	}
	for a := start; a < start+uint64(len(data)); a += page {
		if !fx.isData(a) {
			return fmt.Errorf("chunk %#x+%d holds page %#x, a hole", start, len(data), a)
		}
	}
	if !bytes.Equal(data, fx.want(start, len(data))) {
		return fmt.Errorf("chunk %#x+%d: wrong bytes", start, len(data))
	}
	return nil
}

// conformRange checks ChunksIn over [a, b): chunks in order, each
// overlapping the range, together holding every data page in it once.
func conformRange(t *testing.T, src uffd.Source, fx *fixture, a, b uint64) {
	t.Helper()
	seen := map[uint64]bool{}
	var prevEnd uint64
	err := src.ChunksIn(fx.pid, a, b, func(s uint64, data []byte) error {
		e := s + uint64(len(data))
		switch {
		case s < prevEnd:
			return fmt.Errorf("chunk %#x before the end of the previous one %#x", s, prevEnd)
		case e <= a || s >= b:
			return fmt.Errorf("chunk %#x-%#x outside %#x-%#x", s, e, a, b)
		}
		prevEnd = e
		for p := s; p < e; p += page {
			seen[p] = true
		}
		return checkChunk(fx, s, data)
	})
	if err != nil {
		t.Fatalf("range %#x-%#x: %v", a, b, err)
	}
	for p := a &^ (page - 1); p < b; p += page {
		if fx.isData(p) != seen[p] {
			t.Fatalf("range %#x-%#x: page %#x data %v, delivered %v", a, b, p, fx.isData(p), seen[p])
		}
	}
}
