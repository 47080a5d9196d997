package uffd

import (
	"errors"
	"time"
)

// errStop ends a walk early: the handler stops or the space is gone.
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

// waitDelay answers faults only, for Config.PrefetchDelay.
func (s *space) waitDelay() error {
	d := s.h.cfg.PrefetchDelay
	if d <= 0 {
		return nil
	}
	deadline := time.Now().Add(d)
	t := time.AfterFunc(d, s.poke)
	defer t.Stop()
	for {
		if err := s.arm(); err != nil {
			return err
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		if err := s.step(); err != nil {
			return err
		}
	}
}

// prefetch brings in every chunk the space still needs, working set
// first, on the space goroutine itself: before each chunk it answers the
// faults and events queued, so a fault waits for at most one chunk, and
// the chunk is copied straight out of the store (no copy of ours; the
// store checks it as it reads it). When the walk is over, what is still
// pending had no chunk: holes, which a fault turns into a zero page.
func (s *space) prefetch(ranges [][2]uint64) error {
	src, mm := s.h.cfg.Source, s.mm
	seen := map[uint64]bool{}
	apply := func(start uint64, data []byte) error {
		if s.h.stopped() {
			return errStop
		}
		s.h.gate.Wait(maxPrefetchPause)
		if err := s.drain(); err != nil {
			return err
		}
		n, err := s.apply(start, data)
		s.h.count(func(st *Stats) { st.PrefetchBytes += n })
		return err
	}
	for _, addr := range s.h.cfg.WorkingSet[mm] {
		if !inRanges(ranges, addr) || !s.lay.origPending(addr) {
			continue
		}
		_, err := src.FindChunk(mm, addr, func(start uint64, data []byte) error {
			seen[start] = true
			return apply(start, data)
		})
		if err != nil {
			return err
		}
	}
	for _, r := range ranges {
		err := src.ChunksIn(mm, r[0], r[1], func(start uint64, data []byte) error {
			if seen[start] {
				return nil
			}
			return apply(start, data)
		})
		if err != nil {
			return err
		}
	}
	s.walked = true
	s.lay.resolve(0, ^uint64(0))
	return nil
}

func inRanges(ranges [][2]uint64, addr uint64) bool {
	for _, r := range ranges {
		if addr >= r[0] && addr < r[1] {
			return true
		}
	}
	return false
}
