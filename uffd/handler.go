package uffd

import (
	"errors"
	"fmt"
	"github.com/crlazy/crlazy/internal/demand"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// ErrStopped is returned by Wait after Stop.
var ErrStopped = errors.New("lazy page handler stopped")

// Config configures a Handler. Zero values are documented per field.
type Config struct {
	Source Source
	// WorkingSet lists, per image mm id, page addresses to prefetch
	// first, in order.
	WorkingSet map[uint32][]uint64
	// Record keeps the order of first demand faults (see WorkingSet()).
	Record bool
	// PrefetchDelay holds the background prefetch back for a while after
	// a space starts, so that a recorded working set holds what the
	// process touches first rather than what the prefetch happened to
	// bring before it asked. 0: none.
	PrefetchDelay time.Duration
	// Prefetchers is how many spaces walk their prefetch at once; the
	// others answer only their faults until a turn is free. 0: one less
	// than GOMAXPROCS, at least 1, so that a CPU is left for demand.
	Prefetchers int
	// OnFatal is called once, from any goroutine, when a page cannot be
	// provided; the caller must kill the process, which then stops
	// faulting. nil: nothing is called (Wait still returns the error).
	OnFatal func(error)
	// Done is called, on its own goroutine, when a space has every page,
	// with the tag given to Add (0 for the space of a forked child); its
	// faults are still answered until Done returns. nil: nothing.
	Done func(tag int)
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// Handler serves the lazy memory of a restored process and of the
// children it forks. Its methods are safe for concurrent use.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	start time.Time
	wg    sync.WaitGroup
	stop  chan struct{}
	once  sync.Once
	turns *turns
	gate  demand.Gate // demand faults in progress, which the prefetch lets pass

	mu      sync.Mutex // guards the fields below
	err     error
	spaces  int
	live    map[*space]bool // spaces running, to wake them on Stop
	wset    map[uint32][]uint64
	stats   Stats
	allDone time.Duration
}

// New returns a Handler; Add gives it spaces to serve.
func New(cfg Config) *Handler {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Handler{cfg: cfg, log: log, start: time.Now(), stop: make(chan struct{}), turns: newTurns(cfg.Prefetchers)}
}

// Add serves uffd, a non-blocking userfaultfd registered on areas (with
// UFFD_FEATURE_EVENT_FORK|REMAP|REMOVE|UNMAP) of a process whose pages are
// those of image mm; filled lists process ranges inside areas that were
// filled before the process ran and need nothing; tag (non-zero) is
// passed to Config.Done. The Handler owns uffd from now on.
func (h *Handler) Add(uffd *os.File, mm uint32, areas []Area, filled [][2]uint64, tag int) error {
	lay := newLayout(areas)
	for _, f := range filled {
		lay.resolve(f[0], f[1])
	}
	s, err := newSpace(h, uffd, mm, lay, tag)
	if err != nil {
		return err
	}
	h.startSpace(s)
	return nil
}

func (h *Handler) startSpace(s *space) {
	h.mu.Lock()
	h.spaces++
	h.stats.Spaces++
	if h.live == nil {
		h.live = map[*space]bool{}
	}
	h.live[s] = true
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		err := s.run()
		h.spaceEnded(s, err)
	}()
}

func (h *Handler) spaceEnded(s *space, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.live, s)
	if err != nil && h.err == nil {
		h.err = err
	}
	h.spaces--
	if h.spaces == 0 && h.allDone == 0 {
		h.allDone = time.Since(h.start)
	}
}

// fatal records err and tells the caller to kill the process.
func (h *Handler) fatal(err error) {
	h.mu.Lock()
	first := h.err == nil
	if first {
		h.err = err
	}
	h.mu.Unlock()
	if first {
		h.log.Error("lazy pages cannot be served; the process must not run on", "err", err)
		if h.cfg.OnFatal != nil {
			h.cfg.OnFatal(err)
		}
	}
}

// Wait returns when every space is done (all pages in, or the process
// gone) and gives the first error.
func (h *Handler) Wait() error {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Stop makes every space give up and close its userfaultfd, and waits.
func (h *Handler) Stop() {
	h.once.Do(func() {
		close(h.stop)
		h.mu.Lock()
		for s := range h.live {
			s.poke()
		}
		h.mu.Unlock()
	})
	h.wg.Wait()
}

func (h *Handler) stopped() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// recordFault notes the first demand fault of an image page.
func (h *Handler) recordFault(mm uint32, orig uint64, took time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Faults++
	h.stats.FaultTimes = append(h.stats.FaultTimes, took)
	if h.cfg.Record {
		if h.wset == nil {
			h.wset = map[uint32][]uint64{}
		}
		h.wset[mm] = append(h.wset[mm], orig)
	}
}

func (h *Handler) count(f func(*Stats)) {
	h.mu.Lock()
	f(&h.stats)
	h.mu.Unlock()
}

// WorkingSet returns the image addresses of first demand faults of mm, in
// order (only with Config.Record).
func (h *Handler) WorkingSet(mm uint32) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint64(nil), h.wset[mm]...)
}

// Stats returns a snapshot of the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stats
	st.FaultTimes = append([]time.Duration(nil), h.stats.FaultTimes...)
	st.AllIn = h.allDone
	return st
}

// Stats count what a Handler did.
type Stats struct {
	Spaces        int             // address spaces served (1 + forks)
	Faults        int             // demand faults that copied image data
	ZeroFaults    int             // faults answered with a zero page
	Events        int             // fork, remap, remove and unmap events
	FaultBytes    uint64          // bytes copied for demand faults
	PrefetchBytes uint64          // bytes copied by prefetch
	FaultTimes    []time.Duration // service time of each data fault
	AllIn         time.Duration   // from New until every space was done
}

func (st Stats) String() string {
	return fmt.Sprintf("%d faults (%d zero), %d events, %d bytes on demand, %d prefetched",
		st.Faults, st.ZeroFaults, st.Events, st.FaultBytes, st.PrefetchBytes)
}

// FaultPercentile returns the p-th percentile (0 < p <= 100) of the data
// fault service times, 0 without faults.
func (st Stats) FaultPercentile(p float64) time.Duration {
	if len(st.FaultTimes) == 0 {
		return 0
	}
	t := append([]time.Duration(nil), st.FaultTimes...)
	slices.Sort(t)
	i := int(float64(len(t))*p/100+0.5) - 1
	return t[min(max(i, 0), len(t)-1)]
}
