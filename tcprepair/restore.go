package tcprepair

import (
	"fmt"
	"os"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
)

// writeTimeout bounds each write of saved queue data at restore (a queue
// that fitted in the old socket's buffer fits in the new one's).
const writeTimeout = 10 * time.Second

// RestoreOptions tune Restore. The zero value restores the connection
// and lets it run.
type RestoreOptions struct {
	// Setup, if set, is called on the new socket, in repair mode, before
	// it is bound: the place for options that bind and connect depend on
	// (SO_BINDTODEVICE, IPV6_V6ONLY, SO_MARK, buffer sizes).
	Setup func(f *os.File) error
	// Mark, if not zero, is the SO_MARK of the packets Restore forges
	// (the peer's FIN of a half-closed connection), so that a firewall
	// that holds the connection's traffic can let them through.
	Mark uint32
}

// Restore creates a TCP socket that continues the connection s: same
// addresses, sequence numbers, options, windows and queued bytes, and
// leaves repair mode. The peer sees neither a SYN nor a FIN nor a reset.
// The returned socket is owned by the caller; on error nothing is left.
func Restore(s *State, opts RestoreOptions) (*os.File, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	f, err := linux.NewSocket(s.Family, linux.SockStream, linux.IpprotoTCP)
	if err != nil {
		return nil, fmt.Errorf("restore TCP connection %s -> %s: %w", s.Local, s.Remote, err)
	}
	if err := s.restore(f, opts); err != nil {
		f.Close() // still in repair mode: the peer sees nothing
		return nil, fmt.Errorf("restore TCP connection %s -> %s: %w", s.Local, s.Remote, err)
	}
	return f, nil
}

func (s *State) restore(f *os.File, opts RestoreOptions) error {
	if err := Pause(f); err != nil {
		return err
	}
	if opts.Setup != nil {
		if err := opts.Setup(f); err != nil {
			return err
		}
	}
	steps := []func(*os.File) error{s.restoreSeqs, s.restoreConnect, s.restoreOptions,
		s.restoreQueues, s.restoreWindow, Resume, s.restoreUnsent}
	for _, step := range steps {
		if err := step(f); err != nil {
			return err
		}
	}
	if s.FinReceived() {
		return injectFIN(s, opts.Mark)
	}
	return nil
}

// restoreSeqs sets where each queue starts: its end less what it holds.
func (s *State) restoreSeqs(f *os.File) error {
	if err := linux.SetTCPQueueSeq(f, linux.TCPSendQueue, s.SendSeq-uint32(len(s.SendQueue))); err != nil {
		return err
	}
	return linux.SetTCPQueueSeq(f, linux.TCPRecvQueue, s.RecvSeq-uint32(len(s.RecvQueue)))
}

// restoreConnect binds and connects; in repair mode the bind may share
// the port with other sockets and connect sends no SYN.
func (s *State) restoreConnect(f *os.File) error {
	if err := linux.Bind(f, s.Family, s.Local); err != nil {
		return err
	}
	return linux.Connect(f, s.Family, s.Remote)
}

func (s *State) restoreOptions(f *os.File) error {
	opts := []linux.TCPRepairOpt{{OptCode: linux.TCPOptMaxseg, OptVal: s.MSSClamp}}
	if s.Options&OptWscale != 0 {
		opts = append(opts, linux.TCPRepairOpt{OptCode: linux.TCPOptWindow,
			OptVal: uint32(s.SndWscale) | uint32(s.RcvWscale)<<16})
	}
	if s.Options&OptSack != 0 {
		opts = append(opts, linux.TCPRepairOpt{OptCode: linux.TCPOptSackPerm})
	}
	if s.Options&OptTimestamps != 0 {
		opts = append(opts, linux.TCPRepairOpt{OptCode: linux.TCPOptTimestamp})
	}
	if err := linux.SetTCPRepairOptions(f, opts); err != nil {
		return err
	}
	if s.Options&OptTimestamps != 0 {
		return linux.SetTCPTimestamp(f, s.Timestamp)
	}
	return nil
}

// restoreQueues refills the receive queue and the sent part of the send
// queue (repair-mode writes: nothing goes out; the sent part is
// retransmitted if the peer does not acknowledge it). If our FIN had been
// sent, it is queued the same way.
func (s *State) restoreQueues(f *os.File) error {
	if err := linux.SetsockoptTimeout(f, linux.SoSndtimeo, writeTimeout); err != nil {
		return err
	}
	sent := s.SendQueue[:len(s.SendQueue)-int(s.Unsent)]
	for _, q := range []struct {
		queue int
		data  []byte
	}{{linux.TCPRecvQueue, s.RecvQueue}, {linux.TCPSendQueue, sent}} {
		if len(q.data) == 0 {
			continue
		}
		if err := linux.SetTCPRepairQueue(f, q.queue); err != nil {
			return err
		}
		if err := linux.SendAll(f, q.data); err != nil {
			return fmt.Errorf("queue %d: %w", q.queue, err)
		}
	}
	if s.FinSent() && s.Unsent == 0 {
		if err := linux.SetTCPRepairQueue(f, linux.TCPSendQueue); err != nil {
			return err
		}
		return linux.Shutdown(f, linux.ShutWr)
	}
	return nil
}

// restoreWindow sets the window state. rcv_wup cannot be past rcv_nxt,
// which does not count the peer's FIN until it is received again.
func (s *State) restoreWindow(f *os.File) error {
	w := s.Window
	if int32(w.RcvWup-s.RecvSeq) > 0 {
		w.RcvWup = s.RecvSeq
	}
	if err := linux.SetTCPRepairQueue(f, linux.TCPNoQueue); err != nil {
		return err
	}
	return linux.SetTCPRepairWindow(f, linux.TCPRepairWindow(w))
}

// restoreUnsent writes the bytes that were never sent, as the process
// had, and shuts down writing after them if it had.
func (s *State) restoreUnsent(f *os.File) error {
	if s.Unsent > 0 {
		if err := linux.SendAll(f, s.SendQueue[len(s.SendQueue)-int(s.Unsent):]); err != nil {
			return fmt.Errorf("unsent data: %w", err)
		}
		if s.FinSent() {
			if err := linux.Shutdown(f, linux.ShutWr); err != nil {
				return err
			}
		}
	}
	return linux.SetsockoptTimeout(f, linux.SoSndtimeo, 0)
}
