package restorer

import "sync"

// errgroup runs functions on goroutines and keeps the first error, like
// golang.org/x/sync/errgroup (not a dependency of this module).
type errgroup struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *errgroup) Go(fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	}()
}

func (g *errgroup) Wait() error {
	g.wg.Wait()
	return g.err
}
