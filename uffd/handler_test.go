package uffd

import (
	"bytes"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

const testChunk = 4 * pageSize

// sink keeps loads the compiler would drop as unused.
var sink byte

// memSource serves chunks of testChunk bytes (from base) from a map;
// holes are absent.
type memSource struct {
	base   uint64
	chunks map[uint64][]byte
	data   map[uint64]bool // pages the "pagemap" says hold data
	broken atomic.Bool
}

func (m *memSource) FindChunk(_ uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	if m.broken.Load() {
		return false, errors.New("store unreadable")
	}
	start := m.chunkOf(addr)
	c, ok := m.chunks[start]
	if !ok {
		return false, nil
	}
	return true, fn(start, c)
}

func (m *memSource) ChunksIn(_ uint32, start, end uint64, fn func(uint64, []byte) error) error {
	for a := m.chunkOf(start); a < end; a += testChunk {
		if c, ok := m.chunks[a]; ok {
			if err := fn(a, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memSource) chunkOf(addr uint64) uint64 { return m.base + (addr-m.base)&^(testChunk-1) }

func (m *memSource) HasData(_ uint32, addr uint64) (bool, error) { return m.data[addr], nil }

// newRegion maps pages of memory registered on a new userfaultfd, and a
// source whose chunks hold a pattern except every third chunk (a hole).
func newRegion(t *testing.T, pages int) ([]byte, uint64, *os.File, *memSource) {
	t.Helper()
	testutil.RequirePriv(t)
	f, err := linux.UserfaultfdOpen(linux.ONonblock)
	if err != nil {
		t.Fatal(err)
	}
	feats := uint64(linux.UffdFeatureEventRemove | linux.UffdFeatureEventUnmap | linux.UffdFeatureEventRemap)
	if _, _, err := linux.UffdAPI(f, feats); err != nil {
		t.Fatal(err)
	}
	mem, addr, err := linux.MmapAnon(pages * pageSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = linux.Munmap(mem) })
	if _, err := linux.UffdRegister(f, uint64(addr), uint64(len(mem)), linux.UffdRegisterModeMissing); err != nil {
		t.Fatal(err)
	}
	src := &memSource{base: uint64(addr), chunks: map[uint64][]byte{}, data: map[uint64]bool{}}
	for i := 0; i < pages*pageSize; i += testChunk {
		if (i/testChunk)%3 == 2 {
			continue
		}
		c := make([]byte, testChunk)
		for j := range c {
			c[j] = byte(i/pageSize + j%251 + 1)
		}
		src.chunks[uint64(addr)+uint64(i)] = c
		for p := 0; p < testChunk; p += pageSize {
			src.data[uint64(addr)+uint64(i+p)] = true
		}
	}
	return mem, uint64(addr), f, src
}

// want returns what page i of the region must read.
func (m *memSource) want(base uint64, i int) []byte {
	a := base + uint64(i*pageSize)
	c, ok := m.chunks[m.chunkOf(a)]
	if !ok {
		return make([]byte, pageSize)
	}
	off := a - m.chunkOf(a)
	return c[off : off+pageSize]
}

// touch reads every page from a goroutine of its own: each read faults.
func touch(mem []byte) []byte {
	out := make([]byte, len(mem))
	done := make(chan struct{})
	go func() {
		copy(out, mem)
		close(done)
	}()
	<-done
	return out
}

func TestHandlerServesFaults(t *testing.T) {
	const pages = 48
	mem, base, f, src := newRegion(t, pages)
	h := New(Config{Source: src, Record: true, PrefetchDelay: time.Hour})
	if err := h.Add(f, 1, []Area{{base, base + pages*pageSize, base}}, nil, 1); err != nil {
		t.Fatal(err)
	}
	got := touch(mem)
	for i := 0; i < pages; i++ {
		if !bytes.Equal(got[i*pageSize:(i+1)*pageSize], src.want(base, i)) {
			t.Fatalf("page %d differs from the image", i)
		}
	}
	// Discarded memory reads as zeros, not as the image.
	if err := linux.Madvise(mem[:testChunk], linux.MadvDontneed); err != nil {
		t.Fatal(err)
	}
	if got := touch(mem[:testChunk]); !bytes.Equal(got, make([]byte, testChunk)) {
		t.Error("memory discarded with MADV_DONTNEED came back with data")
	}
	h.Stop() // the counters are final once the space goroutine is gone
	if err := h.Wait(); err != nil {
		t.Fatal(err)
	}
	st := h.Stats()
	if st.Faults == 0 || st.ZeroFaults == 0 || st.PrefetchBytes != 0 || len(h.WorkingSet(1)) != st.Faults {
		t.Errorf("stats %v, working set of %d", st, len(h.WorkingSet(1)))
	}
}

func TestHandlerPrefetchesEverything(t *testing.T) {
	const pages = 48
	mem, base, f, src := newRegion(t, pages)
	done := make(chan bool, 1)
	h := New(Config{Source: src, Done: func(tag int) { done <- tag == 1 }})
	if err := h.Add(f, 1, []Area{{base, base + pages*pageSize, base}}, nil, 1); err != nil {
		t.Fatal(err)
	}
	if root := <-done; !root {
		t.Error("Done called for a non-root space")
	}
	if err := h.Wait(); err != nil {
		t.Fatal(err)
	}
	// Everything is in and the userfaultfd is closed: reads no longer
	// fault (holes are zero-filled by the kernel now).
	for i := 0; i < pages; i++ {
		if !bytes.Equal(mem[i*pageSize:(i+1)*pageSize], src.want(base, i)) {
			t.Fatalf("page %d differs from the image after prefetch", i)
		}
	}
	if st := h.Stats(); st.Faults != 0 || st.PrefetchBytes == 0 {
		t.Errorf("stats %v", st)
	}
}

func TestHandlerFatalOnMissingChunk(t *testing.T) {
	const pages = 12
	mem, base, f, src := newRegion(t, pages)
	delete(src.chunks, base) // data run without its chunk: a damaged image
	fatal := make(chan error, 1)
	h := New(Config{Source: src, OnFatal: func(err error) { fatal <- err }, PrefetchDelay: time.Hour})
	if err := h.Add(f, 1, []Area{{base, base + pages*pageSize, base}}, nil, 1); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		sink = mem[0] // blocks in the fault: nobody answers it
		close(read)
	}()
	if err := <-fatal; err == nil {
		t.Fatal("no fatal error")
	}
	if err := h.Wait(); err == nil {
		t.Error("Wait returned no error after a fatal one")
	}
	// A real caller kills the process in OnFatal; here the handler's
	// userfaultfd is closed now and the read goes on before the region
	// is unmapped.
	<-read
}
