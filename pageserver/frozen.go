package pageserver

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Source-side mode timing.
const (
	// lingerWindow is how long a source-side dump waits for restores
	// that connected and then all went away to come back (their retries
	// last DefaultRetryWindow) before it gives up.
	lingerWindow = 3 * DefaultRetryWindow
	// lingerCheck is how often it looks.
	lingerCheck = time.Second
)

// Errors of ServeFrozen.
var (
	// ErrAbandoned: restores that had connected went away without
	// reporting they had every page.
	ErrAbandoned = errors.New("the restore went away before it had every page")
	// ErrStopped: the caller stopped serving.
	ErrStopped = errors.New("serving stopped")
)

// ServeFrozen makes p the only checkpoint of s (made by Listen with
// neither Dir nor Process; Config.OnDone is replaced) and serves it until a restore reports it has
// every page (then it returns nil), stop is closed (ErrStopped), or the
// restores that had connected stayed away for lingerWindow
// (ErrAbandoned). It closes s before it returns, and reports whether any
// page was served: if one was, a restored process may hold part of the
// memory and run.
func (s *Server) ServeFrozen(p *ProcessPages, stop <-chan struct{}) (served bool, err error) {
	if s.cat != nil {
		return false, errors.New("page server: ServeFrozen on a server that has checkpoints already")
	}
	s.cat = p
	done := make(chan struct{})
	var once sync.Once
	s.cfg.OnDone = func(name string) { once.Do(func() { close(done) }) }
	serving := make(chan error, 1)
	go func() { serving <- s.Serve() }()
	tick := time.NewTicker(lingerCheck)
	defer tick.Stop()
	for err == nil {
		select {
		case <-done:
			s.log.Info("the restore has every page; the source process can go", "name", p.name)
			s.Close()
			return true, nil
		case <-stop:
			err = ErrStopped
		case err = <-serving:
			if err == nil {
				err = ErrClosed
			}
		case <-tick.C:
			if p.abandoned(lingerWindow) {
				err = fmt.Errorf("%w (gone for %v)", ErrAbandoned, lingerWindow)
			}
		}
	}
	s.Close()
	return p.hasServed(), err
}

// DiscardPages is a dumper.PageSink that drops every chunk: a source-side
// dump serves the pages from the frozen process instead, and writes only
// the records (and the pagemap) into its store.
type DiscardPages struct{}

// PutChunk drops the pages.
func (DiscardPages) PutChunk(uint32, uint64, []byte) error { return nil }

// AfterCommit runs fn at once.
func (DiscardPages) AfterCommit(fn func()) error { fn(); return nil }

// Commit does nothing.
func (DiscardPages) Commit() error { return nil }
