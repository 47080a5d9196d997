// Package demand lets background work (prefetch, bulk page streams) give
// way to demand work (a fault a process waits on) in progress.
package demand

import (
	"sync"
	"time"
)

// Gate counts the demand work in progress. Demand work holds it (Enter,
// Leave); background work calls Wait before each piece. The zero value is
// ready to use.
type Gate struct {
	mu   sync.Mutex    // guards the fields below
	n    int           // demand work in progress
	idle chan struct{} // closed when n drops to zero
}

// Enter marks the start of a piece of demand work.
func (g *Gate) Enter() {
	g.mu.Lock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
}

// Leave marks its end.
func (g *Gate) Leave() {
	g.mu.Lock()
	if g.n--; g.n == 0 {
		close(g.idle)
	}
	g.mu.Unlock()
}

// Wait returns when no demand work is in progress, or after max: demand
// goes first, but a steady stream of it cannot starve the background.
func (g *Gate) Wait(max time.Duration) {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	idle := g.idle
	g.mu.Unlock()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
