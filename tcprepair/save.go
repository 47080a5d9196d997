package tcprepair

import (
	"fmt"
	"os"

	"github.com/crlazy/crlazy/internal/linux"
)

// Pause puts the connection of socket f into repair mode: from now on it
// sends nothing of its own (no data, ACK, FIN or RST, not even when
// closed) until Resume. It needs CAP_NET_ADMIN.
func Pause(f *os.File) error {
	return linux.SetTCPRepair(f, linux.TCPRepairOn)
}

// Resume takes the connection out of repair mode; it sends a window
// probe, which makes the peer acknowledge what it has.
func Resume(f *os.File) error {
	return linux.SetTCPRepair(f, linux.TCPRepairOff)
}

// Save reads the state of the paused connection f, queues included,
// without consuming anything: the connection can be resumed as it was.
func Save(f *os.File) (*State, error) {
	s := &State{}
	steps := []func(*os.File) error{s.saveInfo, s.saveAddrs, s.saveSeqs, s.saveQueues, s.saveWindow}
	for _, step := range steps {
		if err := step(f); err != nil {
			return nil, fmt.Errorf("save TCP connection %s -> %s: %w", s.Local, s.Remote, err)
		}
	}
	return s, nil
}

func (s *State) saveInfo(f *os.File) error {
	info, err := linux.TCPInfo(f)
	if err != nil {
		return err
	}
	s.TCPState, s.Options = info.State, info.Options&optAll
	if !saveable(s.TCPState) {
		return fmt.Errorf("%w: %s", ErrUnsupportedState, StateName(s.TCPState))
	}
	if s.Options&OptWscale != 0 {
		s.SndWscale, s.RcvWscale = info.SndWscale, info.RcvWscale
	}
	// In repair mode TCP_MAXSEG reads the MSS clamp the peer announced.
	mss, err := linux.GetsockoptInt(f, linux.IPProtoTCP, linux.TCPMaxseg)
	s.MSSClamp = uint32(mss)
	return err
}

func (s *State) saveAddrs(f *os.File) error {
	var err error
	if s.Family, _, _, err = linux.SocketInfo(f); err != nil {
		return err
	}
	if s.Local, err = linux.SockName(f); err != nil {
		return err
	}
	s.Remote, err = linux.PeerName(f)
	return err
}

// saveSeqs reads the sequence numbers and the timestamp clock. The FINs
// that were sent or received take a sequence number each, which State
// does not count.
func (s *State) saveSeqs(f *os.File) error {
	var err error
	if s.RecvSeq, err = linux.TCPQueueSeq(f, linux.TCPRecvQueue); err != nil {
		return err
	}
	if s.SendSeq, err = linux.TCPQueueSeq(f, linux.TCPSendQueue); err != nil {
		return err
	}
	if s.FinReceived() {
		s.RecvSeq--
	}
	if s.FinSent() {
		s.SendSeq--
	}
	if s.Options&OptTimestamps != 0 {
		s.Timestamp, err = linux.TCPTimestamp(f)
	}
	return err
}

// saveQueues copies both queues. SIOCOUTQ and SIOCOUTQNSD count a FIN
// not yet acknowledged (resp. not yet sent) as one byte.
func (s *State) saveQueues(f *os.File) error {
	inq, err := linux.SockIoctl(f, linux.SiocInq)
	if err != nil {
		return err
	}
	outq, err := linux.SockIoctl(f, linux.SiocOutq)
	if err != nil {
		return err
	}
	unsent, err := linux.SockIoctl(f, linux.SiocOutqNSD)
	if err != nil {
		return err
	}
	if s.FinSent() && outq > 0 {
		outq--
		if unsent > 0 {
			unsent--
		}
	}
	if inq > QueueMax || outq > QueueMax || unsent > outq {
		return fmt.Errorf("queues of %d and %d bytes (%d unsent), at most %d", inq, outq, unsent, QueueMax)
	}
	s.Unsent = uint32(unsent)
	if s.RecvQueue, err = peekQueue(f, linux.TCPRecvQueue, inq); err != nil {
		return fmt.Errorf("receive queue: %w", err)
	}
	if s.SendQueue, err = peekQueue(f, linux.TCPSendQueue, outq); err != nil {
		return fmt.Errorf("send queue: %w", err)
	}
	return nil
}

// peekQueue copies the n bytes of a queue of a socket in repair mode.
func peekQueue(f *os.File, queue, n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if err := linux.SetTCPRepairQueue(f, queue); err != nil {
		return nil, err
	}
	b, err := linux.RecvPeek(f, n)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("read %d bytes of %d", len(b), n)
	}
	return b, nil
}

func (s *State) saveWindow(f *os.File) error {
	w, err := linux.GetTCPRepairWindow(f)
	s.Window = Window(w)
	return err
}
