package uffd

import (
	"sync"
	"time"
)

// maxPrefetchPause bounds how long the prefetch waits, before each chunk,
// for the demand faults in progress to be answered: demand goes first,
// but a steady stream of faults cannot starve the prefetch.
const maxPrefetchPause = time.Millisecond

// gate lets the prefetch of every space yield to the demand faults of
// any space of the Handler: fault holds it while it fetches and copies,
// the prefetch waits for it to be free before each chunk.
type gate struct {
	mu   sync.Mutex    // guards the fields below
	n    int           // faults in progress
	idle chan struct{} // closed when n drops to zero
}

func (g *gate) enter() {
	g.mu.Lock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
}

func (g *gate) leave() {
	g.mu.Lock()
	if g.n--; g.n == 0 {
		close(g.idle)
	}
	g.mu.Unlock()
}

// wait returns when no fault is in progress, or after maxPrefetchPause.
func (g *gate) wait() {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	idle := g.idle
	g.mu.Unlock()
	t := time.NewTimer(maxPrefetchPause)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
