package uffd

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
)

// longAgo is a read deadline that has passed: it pokes a waiting space.
var longAgo = time.Unix(1, 0)

// A space goroutine that has nothing to do waits for its userfaultfd in
// the Go poller, never in a blocking poll(2): a goroutine blocked in a
// system call keeps its P (GOMAXPROCS slot) until the runtime's monitor
// takes it back, up to 10 ms later, so with many spaces waiting the
// faults of the others and the page server's replies found no P to run
// on. Other goroutines wake a waiting space by setting its read deadline
// in the past (poke) after changing what it waits for; the space arms
// itself (clears the deadline) before it looks, so no poke is lost.

// poke wakes the space's goroutine if it waits. Any goroutine may call it.
func (s *space) poke() { _ = s.uffd.SetReadDeadline(longAgo) }

// arm clears a poke; call it before checking what a poke announces.
func (s *space) arm() error { return s.uffd.SetReadDeadline(time.Time{}) }

// wait handles the messages queued, or waits for one or a poke.
func (s *space) wait() error {
	n, err := linux.UffdReadMsgs(s.uffd, s.msgs[:])
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case err != nil:
		return fmt.Errorf("read userfaultfd: %w", err)
	}
	return s.handleBatch(n)
}

// step handles the queued messages, then waits for more (or a poke). The
// caller armed the space.
func (s *space) step() error {
	if s.h.stopped() {
		return errStop
	}
	if err := s.drain(); err != nil {
		return err
	}
	return s.wait()
}

// pollable returns f if the Go poller watches it, or else a new
// descriptor of its open file description that it does, closing f. The
// poller watches only files that were non-blocking when os.NewFile saw
// them, and a userfaultfd only past its UFFDIO_API handshake (before, it
// polls as an error the poller keeps; see linux.UserfaultfdOpen). On error
// f stays open.
func pollable(f *os.File) (*os.File, error) {
	if f.SetReadDeadline(time.Time{}) == nil {
		return f, nil
	}
	d, err := linux.DupFile(f)
	if err != nil {
		return nil, err
	}
	if err := d.SetReadDeadline(time.Time{}); err != nil {
		d.Close()
		return nil, fmt.Errorf("userfaultfd cannot be polled (is it non-blocking?): %w", err)
	}
	f.Close()
	return d, nil
}
