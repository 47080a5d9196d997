package pageserver

import (
	"sync"
	"time"
)

// maxBulkPause bounds how long a bulk stream waits, before each chunk,
// for demand requests in flight to be answered: demand goes first, but a
// steady stream of faults cannot starve a prefetch.
const maxBulkPause = time.Millisecond

// gate lets bulk streams yield to demand requests across the whole
// server: demand handlers hold it while they work, bulk senders wait for
// it to be free before each chunk.
type gate struct {
	mu   sync.Mutex    // guards the fields below
	n    int           // demand requests in flight
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

// wait returns when no demand request is in flight, or after maxBulkPause.
func (g *gate) wait() {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	idle := g.idle
	g.mu.Unlock()
	t := time.NewTimer(maxBulkPause)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
