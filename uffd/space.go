package uffd

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
)

// msgBatch is how many messages one read takes.
const msgBatch = 64

// maxApplyAttempts bounds how often a chunk copy is tried on a
// destination the kernel says is not mapped (ENOENT).
const maxApplyAttempts = 16

// spinAttempts is how many times a copy that met EAGAIN is retried at once
// before backing off for backoff, so that the thread the kernel woke when
// we read its event gets to run.
const (
	spinAttempts = 4
	backoff      = 20 * time.Microsecond
)

// errGone means the address space no longer exists (the process exited).
var errGone = errors.New("address space gone")

// space serves one userfaultfd. All its fields belong to its goroutine;
// other goroutines only poke it (see wait.go).
type space struct {
	h          *Handler
	uffd       *os.File
	fd         int
	mm         uint32 // the image mm its pages come from
	lay        *layout
	tag        int           // Config.Done's argument; 0 for a forked child
	walked     bool          // the prefetch walk is over
	done       chan struct{} // closed when Config.Done returned
	doneCalled bool
	msgs       [msgBatch]linux.UffdMsg
}

func newSpace(h *Handler, uffd *os.File, mm uint32, lay *layout, tag int) (*space, error) {
	uffd, err := pollable(uffd)
	if err != nil {
		return nil, err
	}
	fd, err := linux.RawFd(uffd)
	if err != nil {
		return nil, err
	}
	return &space{h: h, uffd: uffd, fd: fd, mm: mm, lay: lay, tag: tag, done: make(chan struct{})}, nil
}

// run serves the space until every page is in and Done returned, the
// process is gone, or the Handler stops.
func (s *space) run() error {
	defer s.close()
	ranges := s.lay.origRanges()
	s.h.log.Debug("serving lazy pages", "uffd", s.fd, "tag", s.tag, "pending_pages", s.lay.pending, "ranges", len(ranges))
	err := s.waitDelay()
	if err == nil {
		err = s.waitTurn()
	}
	if err == nil {
		err = s.prefetch(ranges)
	}
	s.h.turns.leave(s)
	for err == nil {
		if err = s.arm(); err != nil {
			break
		}
		if s.finished() {
			s.h.log.Debug("space complete", "uffd", s.fd, "tag", s.tag)
			return nil
		}
		err = s.step()
	}
	switch {
	case errors.Is(err, errGone), errors.Is(err, errStop):
		s.h.log.Debug("address space gone", "uffd", s.fd, "tag", s.tag, "pending_pages", s.lay.pending)
		return nil
	}
	s.h.fatal(err)
	return err
}

func (s *space) close() { s.uffd.Close() }

// finished reports whether everything is in and Done has returned.
func (s *space) finished() bool {
	if !s.walked || s.lay.pending != 0 {
		return false
	}
	if !s.doneCalled {
		s.doneCalled = true
		go func() {
			if s.h.cfg.Done != nil {
				s.h.cfg.Done(s.tag)
			}
			close(s.done)
			s.poke()
		}()
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// drain reads and handles every queued message.
func (s *space) drain() error {
	for {
		n, err := linux.UffdTryReadMsgs(s.uffd, s.msgs[:])
		if err != nil {
			return fmt.Errorf("read userfaultfd: %w", err)
		}
		if n == 0 {
			return nil
		}
		if err := s.handleBatch(n); err != nil {
			return err
		}
	}
}

// handleBatch handles the first n messages of s.msgs, just read.
func (s *space) handleBatch(n int) error {
	msgs, at := s.msgs, time.Now() // the array is reused by nested drains
	for i := range n {
		if err := s.handle(&msgs[i], at); err != nil {
			return err
		}
	}
	return nil
}

// handle handles one message, read at at.
func (s *space) handle(m *linux.UffdMsg, at time.Time) error {
	switch m.Event() {
	case linux.UffdEventPagefault:
		return s.fault(m.PagefaultAddress()&^(pageSize-1), at)
	case linux.UffdEventFork:
		return s.fork(int(m.ForkUffd()))
	case linux.UffdEventRemap:
		s.lay.remap(m.RemapFrom(), m.RemapTo(), m.RemapLen())
	case linux.UffdEventRemove:
		s.lay.resolve(m.RemoveStart(), m.RemoveEnd())
	case linux.UffdEventUnmap:
		s.lay.remove(m.RemoveStart(), m.RemoveEnd())
	default:
		return fmt.Errorf("userfaultfd message with unknown event %#x", m.Event())
	}
	s.h.count(func(st *Stats) { st.Events++ })
	return nil
}

// fork starts serving the child's userfaultfd, with a copy of our layout.
func (s *space) fork(fd int) error {
	f := os.NewFile(uintptr(fd), "userfaultfd")
	child, err := newSpace(s.h, f, s.mm, s.lay.clone(), 0)
	if err != nil {
		f.Close()
		return err
	}
	s.h.startSpace(child)
	return nil
}

// fault answers a page fault at page addr, read at start: its service
// time runs from there to the copy that answered it.
func (s *space) fault(addr uint64, start time.Time) error {
	if !s.lay.isPending(addr) {
		s.h.count(func(st *Stats) { st.ZeroFaults++ })
		return s.zero(addr)
	}
	a := s.lay.find(addr)
	orig := a.origOf(addr)
	var copied uint64
	s.h.gate.Enter()
	defer s.h.gate.Leave()
	found, err := s.h.cfg.Source.FindChunk(s.mm, orig, func(cstart uint64, data []byte) error {
		var err error
		copied, err = s.apply(cstart, data)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return s.hole(addr, orig)
	}
	s.h.count(func(st *Stats) { st.FaultBytes += copied })
	s.h.recordFault(s.mm, orig, time.Since(start))
	if s.lay.isPending(addr) {
		// The chunk did not cover the page after all (moved meanwhile):
		// the fault is still queued in the kernel; answer it.
		return s.fault(addr, start)
	}
	return nil
}

// hole answers a fault on a pending page that has no chunk.
func (s *space) hole(addr, orig uint64) error {
	data, err := s.h.cfg.Source.HasData(s.mm, orig)
	if err != nil {
		return err
	}
	if data {
		return fmt.Errorf("image page %#x (at %#x) was saved but its chunk is missing", orig, addr)
	}
	s.lay.resolve(addr, addr+pageSize)
	s.h.count(func(st *Stats) { st.ZeroFaults++ })
	return s.zero(addr)
}

// zero maps a zero page at addr, or wakes the faulting thread if a page
// is there already.
func (s *space) zero(addr uint64) error {
	_, err := linux.UffdZeropage(s.uffd, addr, pageSize, 0)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, linux.EEXIST):
		return linux.UffdWake(s.uffd, addr, pageSize)
	case errors.Is(err, linux.EAGAIN):
		return s.drain() // an event is pending; the fault comes again
	case errors.Is(err, linux.ESRCH):
		return errGone
	case errors.Is(err, linux.ENOENT):
		return nil // unmapped meanwhile
	}
	return fmt.Errorf("zero page at %#x: %w", addr, err)
}

// apply copies the pending pages of the chunk at image address cstart
// into wherever they are now, and returns the bytes copied.
//
// EAGAIN means an event (fork, mremap, munmap, madvise) is pending or its
// thread has not resumed yet: read the events, let that thread run, and
// start over from the updated layout, for as long as it takes — giving up
// would lose the data. ENOENT means the destination is not mapped although
// no event says so: after maxApplyAttempts the pages are dropped, since
// nothing can use them.
func (s *space) apply(cstart uint64, data []byte) (uint64, error) {
	var total uint64
	missing := 0
	for again := 0; ; again++ {
		var st copyState
		err := s.lay.pendingRuns(cstart, cstart+uint64(len(data)), func(addr, orig, length uint64) error {
			return s.copyRun(&st, addr, data[orig-cstart:orig-cstart+length])
		})
		total += st.copied
		if err != nil || (!st.again && !st.missing) {
			return total, err
		}
		if st.missing && !st.again {
			if missing++; missing == maxApplyAttempts {
				s.h.log.Warn("dropping pages the process does not map", "image_addr", cstart, "bytes", len(data))
				s.lay.resolveOrig(cstart, cstart+uint64(len(data)))
				return total, nil
			}
		}
		if err := s.drain(); err != nil {
			return total, err
		}
		if again >= spinAttempts {
			time.Sleep(backoff)
		}
	}
}

// copyState collects what copyRun met.
type copyState struct {
	copied  uint64
	again   bool // EAGAIN: events pending
	missing bool // ENOENT: destination not mapped
}

// copyRun copies src to the pending run at addr, skipping pages already
// present (EEXIST: a fork copied them, or our own fault path raced).
func (s *space) copyRun(st *copyState, addr uint64, src []byte) error {
	for len(src) > 0 {
		n, err := linux.UffdCopy(s.uffd, addr, src, 0)
		s.lay.resolve(addr, addr+uint64(n))
		st.copied += uint64(n)
		addr, src = addr+uint64(n), src[n:]
		switch {
		case err == nil:
		case errors.Is(err, linux.EEXIST):
			s.lay.resolve(addr, addr+pageSize)
			addr, src = addr+pageSize, src[pageSize:]
		case errors.Is(err, linux.EAGAIN):
			st.again = true
			return nil
		case errors.Is(err, linux.ENOENT):
			st.missing = true
			return nil
		case errors.Is(err, linux.ESRCH):
			return errGone
		default:
			return fmt.Errorf("copy %d bytes to %#x: %w", len(src), addr, err)
		}
	}
	return nil
}
