package dumper

import (
	"errors"
	"fmt"
	"os"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
)

// Bounds on the queued data of UNIX sockets held until the store is
// written.
const (
	unixPeekBuf       = 256 << 10 // first buffer of a peek; grown for a bigger datagram
	unixMaxMessages   = 1 << 16   // datagrams queued on one socket (net.unix.max_dgram_qlen is 512)
	maxTreeUnixBytes  = 256 << 20 // all sockets of a dump
	unixQueueMaxBytes = images.UnixQueueMax
)

// readQueue copies s's receive queue without consuming it: through
// crlazy's copy of the socket, it moves the socket's peek offset
// (SO_PEEK_OFF) over the queue and peeks at each piece, then turns the
// offset off again (unixOpts refused a socket that had it set). A stream
// gives runs of bytes, a datagram or seqpacket socket one message per
// peek with the sender's name. Descriptors in flight are refused.
func (u *unixDump) readQueue(s *unixSock, f *os.File) (err error) {
	defer func() {
		if rerr := linux.SetsockoptInt(f, linux.SolSocket, linux.SoPeekOff, -1); err == nil && rerr != nil {
			err = fmt.Errorf("%s: %w", s.what, rerr)
		}
	}()
	buf := make([]byte, unixPeekBuf)
	total := 0
	for len(s.queue) <= unixMaxMessages {
		p, err := linux.PeekAt(f, total, buf)
		switch {
		case errors.Is(err, linux.EAGAIN):
			return nil
		case err != nil:
			return fmt.Errorf("%s: read the queue at byte %d: %w", s.what, total, err)
		case p.Rights != 0:
			return unsupported("descriptors in flight (SCM_RIGHTS) in a UNIX socket's queue cannot be saved", "%s", s.what)
		case p.Full > len(buf) && s.d.Type != linux.SockStream:
			if p.Full > unixQueueMaxBytes {
				return unsupported(fmt.Sprintf("a queued datagram of %d bytes, more than %d", p.Full, unixQueueMaxBytes), "%s", s.what)
			}
			buf = make([]byte, p.Full)
			continue
		case len(p.Data) == 0 && s.d.Type == linux.SockStream:
			return nil // end of a stream whose peer shut down writing
		}
		if err := u.keep(s, p, total); err != nil {
			return err
		}
		total += len(p.Data)
	}
	return unsupported(fmt.Sprintf("more than %d datagrams queued", unixMaxMessages), "%s", s.what)
}

// keep adds one piece to s's queue, within the bounds.
func (u *unixDump) keep(s *unixSock, p linux.UnixPeek, total int) error {
	if total+len(p.Data) > unixQueueMaxBytes {
		return unsupported(fmt.Sprintf("a UNIX socket holding more than %d bytes", unixQueueMaxBytes), "%s", s.what)
	}
	if u.bytes+len(p.Data) > maxTreeUnixBytes {
		return unsupported(fmt.Sprintf("the UNIX sockets of the tree hold more than %d bytes", maxTreeUnixBytes), "%s", s.what)
	}
	u.bytes += len(p.Data)
	s.queue = append(s.queue, unixMsg{data: append([]byte(nil), p.Data...), from: p.From})
	return nil
}

// checkOOB refuses a stream socket with an out-of-band byte (MSG_OOB)
// waiting: a peek at the queue gives it as an ordinary byte, and the
// image has no place for the mark.
func (s *unixSock) checkOOB(f *os.File) error {
	if s.d.Type != linux.SockStream {
		return nil
	}
	oob, err := linux.OOBPending(f)
	if err != nil {
		return fmt.Errorf("%s: %w", s.what, err)
	}
	if oob {
		return unsupported("an out-of-band byte (MSG_OOB) queued in a UNIX stream socket cannot be saved", "%s", s.what)
	}
	return nil
}
