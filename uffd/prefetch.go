package uffd

import (
	"errors"
	"sync"
)

// chunkBufBytes is the size of pooled prefetch buffers (the dumper's
// chunk size; a larger chunk gets a buffer of its own).
const chunkBufBytes = 128 << 10

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkBufBytes); return &b }}

// fetched is a chunk read ahead by the prefetch reader, or the end of the
// walk.
type fetched struct {
	start    uint64 // image address
	data     []byte
	buf      *[]byte // pooled backing store of data, if any
	err      error
	walkDone bool
}

var errStop = errors.New("prefetch stopped")

// origRanges returns the image ranges of the layout's pending runs,
// merged, in address order: what the prefetch must walk.
func (l *layout) origRanges() [][2]uint64 {
	var out [][2]uint64
	_ = l.pendingRuns(0, ^uint64(0), func(_, orig, length uint64) error {
		if n := len(out); n > 0 && out[n-1][1] == orig {
			out[n-1][1] += length
		} else {
			out = append(out, [2]uint64{orig, orig + length})
		}
		return nil
	})
	return out
}

// prefetch runs on its own goroutine: it reads the chunks the space still
// needs, working set first, and hands them to the space goroutine.
func (s *space) prefetch(ranges [][2]uint64) {
	seen := map[uint64]bool{}
	src, mm := s.h.cfg.Source, s.h.cfg.MM
	for _, addr := range s.h.cfg.WorkingSet {
		if !inRanges(ranges, addr) {
			continue
		}
		_, err := src.FindChunk(mm, addr, func(start uint64, data []byte) error {
			if seen[start] {
				return nil
			}
			seen[start] = true
			return s.hand(start, data)
		})
		if s.handErr(err) {
			return
		}
	}
	for _, r := range ranges {
		err := src.ChunksIn(mm, r[0], r[1], func(start uint64, data []byte) error {
			if seen[start] {
				return nil
			}
			return s.hand(start, data)
		})
		if s.handErr(err) {
			return
		}
	}
	s.send(fetched{walkDone: true})
}

// handErr passes a source error on to the space; it reports whether the
// prefetch must end.
func (s *space) handErr(err error) bool {
	if err == nil {
		return false
	}
	if !errors.Is(err, errStop) {
		s.send(fetched{err: err})
	}
	return true
}

// hand copies a chunk out of the source (whose bytes are only valid in
// the callback) and queues it.
func (s *space) hand(start uint64, data []byte) error {
	f := fetched{start: start}
	if len(data) <= chunkBufBytes {
		f.buf = chunkBufs.Get().(*[]byte)
		f.data = (*f.buf)[:len(data)]
	} else {
		f.data = make([]byte, len(data))
	}
	copy(f.data, data)
	if !s.send(f) {
		return errStop
	}
	return nil
}

func (s *space) send(f fetched) bool {
	select {
	case s.ready <- f:
		_ = s.wake.Signal()
		return true
	case <-s.stop:
		return false
	}
}

func inRanges(ranges [][2]uint64, addr uint64) bool {
	for _, r := range ranges {
		if addr >= r[0] && addr < r[1] {
			return true
		}
	}
	return false
}

// prefetched applies a chunk read ahead (space goroutine).
func (s *space) prefetched(f fetched) error {
	if f.err != nil {
		return f.err
	}
	if f.walkDone {
		// What is still pending had no chunk: holes, zero on fault.
		s.walked = true
		s.lay.resolve(0, ^uint64(0))
		return nil
	}
	n, err := s.apply(f.start, f.data)
	if f.buf != nil {
		chunkBufs.Put(f.buf)
	}
	s.h.count(func(st *Stats) { st.PrefetchBytes += n })
	return err
}
