package store

import "sync"

// syncer fsyncs the store's value-log files in the background while a
// dump writes, every syncEveryBytes of committed data. badger msyncs a
// value-log file synchronously when it rotates to the next one, stalling
// every write; pages that the syncer already wrote back make that msync
// (and Commit's final fsync) cheap. Errors are kept for Commit: a failed
// fsync may mean lost pages.
type syncer struct {
	dir  string
	kick chan struct{} // capacity 1: a pending request to sync
	done chan struct{} // closed when the goroutine has ended

	mu  sync.Mutex // guards err
	err error
}

func startSyncer(dir string) *syncer {
	s := &syncer{dir: dir, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *syncer) run() {
	defer close(s.done)
	for range s.kick {
		if err := syncFiles(s.dir); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}
}

// request asks for a sync without waiting; requests made while one is
// pending merge.
func (s *syncer) request() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// stop ends the goroutine and returns the first error it met.
func (s *syncer) stop() error {
	close(s.kick)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
