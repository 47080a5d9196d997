package tcprepair

import (
	"fmt"

	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"google.golang.org/protobuf/proto"
)

// Entry returns the part of s that CRIU's tcp_stream_entry holds:
// everything but the addresses and state (in the socket's inet_sk_entry)
// and the queued bytes (stored beside it). Sequence numbers do not count
// the FINs (see State).
func (s *State) Entry() *tcpstream.TcpStreamEntry {
	return &tcpstream.TcpStreamEntry{
		InqLen:    proto.Uint32(uint32(len(s.RecvQueue))),
		InqSeq:    proto.Uint32(s.RecvSeq),
		OutqLen:   proto.Uint32(uint32(len(s.SendQueue))),
		OutqSeq:   proto.Uint32(s.SendSeq),
		UnsqLen:   proto.Uint32(s.Unsent),
		OptMask:   proto.Uint32(uint32(s.Options)),
		SndWscale: proto.Uint32(uint32(s.SndWscale)),
		RcvWscale: proto.Uint32(uint32(s.RcvWscale)),
		MssClamp:  proto.Uint32(s.MSSClamp),
		Timestamp: proto.Uint32(s.Timestamp),
		SndWl1:    proto.Uint32(s.Window.SndWl1),
		SndWnd:    proto.Uint32(s.Window.SndWnd),
		MaxWindow: proto.Uint32(s.Window.MaxWindow),
		RcvWnd:    proto.Uint32(s.Window.RcvWnd),
		RcvWup:    proto.Uint32(s.Window.RcvWup),
	}
}

// QueueLens returns the queue lengths e announces, checked against
// QueueMax, so that a reader can bound what it loads before it loads it.
func QueueLens(e *tcpstream.TcpStreamEntry) (recv, send int, err error) {
	if e.GetInqLen() > QueueMax || e.GetOutqLen() > QueueMax {
		return 0, 0, fmt.Errorf("%w: queues of %d and %d bytes, at most %d", ErrBadState, e.GetInqLen(), e.GetOutqLen(), QueueMax)
	}
	return int(e.GetInqLen()), int(e.GetOutqLen()), nil
}

// FromEntry fills the sequence numbers, options and windows of s from e.
// s already holds the addresses, state and queued bytes, which must
// agree with e; the result is validated.
func (s *State) FromEntry(e *tcpstream.TcpStreamEntry) error {
	recv, send, err := QueueLens(e)
	if err != nil {
		return err
	}
	if recv != len(s.RecvQueue) || send != len(s.SendQueue) {
		return fmt.Errorf("%w: queues of %d and %d bytes stored, %d and %d recorded", ErrBadState,
			len(s.RecvQueue), len(s.SendQueue), recv, send)
	}
	if e.GetOptMask() > 0xff || e.GetSndWscale() > WscaleMax || e.GetRcvWscale() > WscaleMax {
		return fmt.Errorf("%w: options %#x, window scales %d and %d", ErrBadState, e.GetOptMask(), e.GetSndWscale(), e.GetRcvWscale())
	}
	s.RecvSeq, s.SendSeq, s.Unsent = e.GetInqSeq(), e.GetOutqSeq(), e.GetUnsqLen()
	s.Options, s.SndWscale, s.RcvWscale = uint8(e.GetOptMask()), uint8(e.GetSndWscale()), uint8(e.GetRcvWscale())
	s.MSSClamp, s.Timestamp = e.GetMssClamp(), e.GetTimestamp()
	s.Window = Window{SndWl1: e.GetSndWl1(), SndWnd: e.GetSndWnd(), MaxWindow: e.GetMaxWindow(),
		RcvWnd: e.GetRcvWnd(), RcvWup: e.GetRcvWup()}
	return s.Validate()
}
