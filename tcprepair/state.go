package tcprepair

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/crlazy/crlazy/internal/linux"
)

// Limits on a saved connection.
const (
	// QueueMax bounds each saved queue. A queue holds at most the
	// socket's buffer, which net.core.[rw]mem_max and tcp_[rw]mem bound
	// far below this.
	QueueMax = 64 << 20
	// WscaleMax is the largest window scale TCP allows (RFC 7323).
	WscaleMax = 14
)

// Option bits of State.Options (the kernel's TCPI_OPT_* bits).
const (
	OptTimestamps = linux.TCPIOptTimestamps
	OptSack       = linux.TCPIOptSack
	OptWscale     = linux.TCPIOptWscale
	optAll        = OptTimestamps | OptSack | OptWscale
)

// ErrBadState is returned for a State that cannot describe a connection
// (a corrupt or forged image).
var ErrBadState = errors.New("bad TCP connection state")

// ErrUnsupportedState is returned by Save for a socket in a state it
// cannot save (listening, closed, connecting).
var ErrUnsupportedState = errors.New("TCP state cannot be saved")

// Window is the window state of a connection (struct tcp_repair_window).
type Window struct {
	SndWl1    uint32 // sequence number of the segment that last updated SndWnd
	SndWnd    uint32 // the peer's receive window
	MaxWindow uint32 // the largest window the peer offered
	RcvWnd    uint32 // the window we offer
	RcvWup    uint32 // rcv_nxt when RcvWnd was last advertised
}

// State is everything needed to bring a TCP connection back. It is plain
// data: Save fills it from a socket, Restore builds a socket from it.
type State struct {
	Family        int            // linux.AfInet or linux.AfInet6
	Local, Remote netip.AddrPort // the connection's addresses
	TCPState      uint8          // linux.TCPEstablished, TCPFinWait1, ...
	// RecvSeq is the sequence number after the last byte received (not
	// counting the peer's FIN); SendSeq the one after the last byte
	// written (not counting our FIN).
	RecvSeq, SendSeq uint32
	// RecvQueue holds the bytes received and not yet read; SendQueue the
	// bytes written and not yet acknowledged, of which the last Unsent
	// were never sent.
	RecvQueue, SendQueue []byte
	Unsent               uint32
	Options              uint8 // Opt* bits negotiated at connect
	SndWscale, RcvWscale uint8
	MSSClamp             uint32
	Timestamp            uint32 // the socket's timestamp clock (OptTimestamps)
	Window               Window
}

// FinSent reports whether we had shut down writing (our FIN is queued,
// sent or acknowledged).
func (s *State) FinSent() bool {
	switch s.TCPState {
	case linux.TCPFinWait1, linux.TCPFinWait2, linux.TCPClosing, linux.TCPLastAck:
		return true
	}
	return false
}

// FinReceived reports whether the peer had shut down writing.
func (s *State) FinReceived() bool {
	switch s.TCPState {
	case linux.TCPCloseWait, linux.TCPClosing, linux.TCPLastAck:
		return true
	}
	return false
}

// Validate checks that s can describe a connection; Restore calls it.
func (s *State) Validate() error {
	switch {
	case s.Family != linux.AfInet && s.Family != linux.AfInet6:
		return fmt.Errorf("%w: family %d", ErrBadState, s.Family)
	case !saveable(s.TCPState):
		return fmt.Errorf("%w: TCP state %d", ErrBadState, s.TCPState)
	case !s.Local.IsValid() || !s.Remote.IsValid() || s.Local.Port() == 0 || s.Remote.Port() == 0:
		return fmt.Errorf("%w: addresses %s -> %s", ErrBadState, s.Local, s.Remote)
	case s.Family == linux.AfInet && !(s.Local.Addr().Is4() && s.Remote.Addr().Is4()):
		return fmt.Errorf("%w: IPv4 connection between %s and %s", ErrBadState, s.Local, s.Remote)
	case s.Family == linux.AfInet6 && !(s.Local.Addr().Is6() && s.Remote.Addr().Is6()):
		return fmt.Errorf("%w: IPv6 connection between %s and %s", ErrBadState, s.Local, s.Remote)
	case len(s.RecvQueue) > QueueMax || len(s.SendQueue) > QueueMax:
		return fmt.Errorf("%w: queues of %d and %d bytes, at most %d", ErrBadState, len(s.RecvQueue), len(s.SendQueue), QueueMax)
	case int64(s.Unsent) > int64(len(s.SendQueue)):
		return fmt.Errorf("%w: %d bytes unsent of a send queue of %d", ErrBadState, s.Unsent, len(s.SendQueue))
	case s.Options&^optAll != 0:
		return fmt.Errorf("%w: options %#x", ErrBadState, s.Options)
	case s.SndWscale > WscaleMax || s.RcvWscale > WscaleMax:
		return fmt.Errorf("%w: window scales %d and %d, at most %d", ErrBadState, s.SndWscale, s.RcvWscale, WscaleMax)
	case s.MSSClamp == 0 || s.MSSClamp > 0xffff:
		return fmt.Errorf("%w: MSS %d", ErrBadState, s.MSSClamp)
	}
	return nil
}

// saveable reports whether connections in TCP state st are saved.
func saveable(st uint8) bool {
	switch st {
	case linux.TCPEstablished, linux.TCPFinWait1, linux.TCPFinWait2,
		linux.TCPCloseWait, linux.TCPClosing, linux.TCPLastAck:
		return true
	}
	return false
}

// StateName names a TCP state ("ESTABLISHED", ...).
func StateName(st uint8) string {
	if int(st) < len(stateNames) && stateNames[st] != "" {
		return stateNames[st]
	}
	return fmt.Sprintf("state %d", st)
}

var stateNames = [...]string{
	linux.TCPEstablished: "ESTABLISHED", linux.TCPSynSent: "SYN_SENT", linux.TCPSynRecv: "SYN_RECV",
	linux.TCPFinWait1: "FIN_WAIT1", linux.TCPFinWait2: "FIN_WAIT2", linux.TCPTimeWait: "TIME_WAIT",
	linux.TCPClose: "CLOSE", linux.TCPCloseWait: "CLOSE_WAIT", linux.TCPLastAck: "LAST_ACK",
	linux.TCPListen: "LISTEN", linux.TCPClosing: "CLOSING",
}
