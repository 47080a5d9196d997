package uffd

import (
	"runtime"
	"sync"
)

// turns lets at most n spaces of a Handler walk their prefetch at once;
// the others wait for their turn in arrival order, answering their faults
// meanwhile (see "Lanes" in doc.go). A space holds its turn for its whole
// walk.
type turns struct {
	mu      sync.Mutex      // guards the fields below
	free    int             // turns nobody holds
	holders map[*space]bool // spaces walking, or whose turn was handed over
	waiting []*space        // in arrival order
}

func newTurns(n int) *turns {
	if n <= 0 {
		n = max(1, runtime.GOMAXPROCS(0)-1)
	}
	return &turns{free: n, holders: map[*space]bool{}}
}

// take gives s a turn if one is free or was handed to it; otherwise it
// puts s in the queue (once) and reports false: s is poked when its turn
// comes.
func (t *turns) take(s *space) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holders[s] {
		return true
	}
	if t.free > 0 && len(t.waiting) == 0 {
		t.free--
		t.holders[s] = true
		return true
	}
	for _, w := range t.waiting {
		if w == s {
			return false
		}
	}
	t.waiting = append(t.waiting, s)
	return false
}

// leave gives up s's turn, or its place in the queue; a freed turn goes
// to the first space waiting.
func (t *turns) leave(s *space) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.holders[s] {
		for i, w := range t.waiting {
			if w == s {
				t.waiting = append(t.waiting[:i], t.waiting[i+1:]...)
				break
			}
		}
		return
	}
	delete(t.holders, s)
	if len(t.waiting) == 0 {
		t.free++
		return
	}
	next := t.waiting[0]
	t.waiting = t.waiting[1:]
	t.holders[next] = true
	next.poke()
}

// waitTurn answers faults and events until s may walk its prefetch.
func (s *space) waitTurn() error {
	for {
		if err := s.arm(); err != nil {
			return err
		}
		if s.h.turns.take(s) {
			return nil
		}
		if err := s.step(); err != nil {
			return err
		}
	}
}
