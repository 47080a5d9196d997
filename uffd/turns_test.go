package uffd

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// pipeSpace is a space whose "userfaultfd" is a pipe: enough to see it
// poked.
func pipeSpace(t *testing.T) *space {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return &space{uffd: r}
}

func poked(s *space) bool {
	_, err := s.uffd.Read(make([]byte, 1))
	return errors.Is(err, os.ErrDeadlineExceeded)
}

func TestTurnsOneAtATime(t *testing.T) {
	tr := newTurns(1)
	a, b, c := pipeSpace(t), pipeSpace(t), pipeSpace(t)
	if !tr.take(a) {
		t.Fatal("the first space got no turn")
	}
	if tr.take(b) || tr.take(c) || tr.take(b) {
		t.Fatal("a second space got a turn")
	}
	if len(tr.waiting) != 2 {
		t.Fatalf("%d spaces waiting, want 2 (each once)", len(tr.waiting))
	}
	tr.leave(c) // gives up its place
	tr.leave(a) // hands its turn to b
	if !poked(b) || !tr.take(b) {
		t.Fatal("the turn did not go to the space waiting")
	}
	tr.leave(b)
	if tr.free != 1 || len(tr.holders) != 0 || len(tr.waiting) != 0 {
		t.Fatalf("turns not back: free %d, holders %d, waiting %d", tr.free, len(tr.holders), len(tr.waiting))
	}
}

// mmSource serves each mm from its own memSource; ChunksIn (the
// prefetch) reports its mm on in and waits for release.
type mmSource struct {
	mms     map[uint32]*memSource
	in      chan uint32
	release chan struct{}
}

func (m *mmSource) FindChunk(mm uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	return m.mms[mm].FindChunk(mm, addr, fn)
}

func (m *mmSource) ChunksIn(mm uint32, start, end uint64, fn func(uint64, []byte) error) error {
	select {
	case m.in <- mm:
	default:
	}
	<-m.release
	return m.mms[mm].ChunksIn(mm, start, end, fn)
}

func (m *mmSource) HasData(mm uint32, addr uint64) (bool, error) { return m.mms[mm].HasData(mm, addr) }

func TestHandlerPrefetchesSpacesInTurn(t *testing.T) {
	const pages, spaces = 48, 3
	src := &mmSource{mms: map[uint32]*memSource{}, in: make(chan uint32, 1), release: make(chan struct{})}
	mems, bases := map[uint32][]byte{}, map[uint32]uint64{}
	done := make(chan int, spaces)
	h := New(Config{Source: src, Prefetchers: 1, Done: func(tag int) { done <- tag }})
	files := map[uint32]*os.File{}
	for mm := uint32(1); mm <= spaces; mm++ {
		mems[mm], bases[mm], files[mm], src.mms[mm] = newRegion(t, pages)
	}
	for mm, f := range files {
		if err := h.Add(f, mm, []Area{{bases[mm], bases[mm] + pages*pageSize, bases[mm]}}, nil, int(mm)); err != nil {
			t.Fatal(err)
		}
	}
	// One space walks (and waits in ChunksIn); another one, waiting for
	// its turn, answers its faults meanwhile.
	walking := <-src.in
	other := walking%spaces + 1
	got := touch(mems[other])
	close(src.release)
	for range spaces {
		<-done
	}
	if err := h.Wait(); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.Faults == 0 || st.PrefetchBytes == 0 {
		t.Errorf("stats %v", st)
	}
	for mm, mem := range mems {
		if mm == other {
			mem = got
		}
		for i := 0; i < pages; i++ {
			if !bytes.Equal(mem[i*pageSize:(i+1)*pageSize], src.mms[mm].want(bases[mm], i)) {
				t.Fatalf("mm %d page %d differs from the image", mm, i)
			}
		}
	}
}
