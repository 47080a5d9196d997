package linux

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The TCP repair ABI, declared by hand from include/uapi/linux/tcp.h and
// include/uapi/linux/sockios.h (x/sys/unix has the option numbers but not
// the structs).

// Socket options at level IPPROTO_TCP.
const (
	SockoptTCPRepair        = unix.TCP_REPAIR
	SockoptTCPRepairQueue   = unix.TCP_REPAIR_QUEUE
	SockoptTCPQueueSeq      = unix.TCP_QUEUE_SEQ
	SockoptTCPRepairOptions = unix.TCP_REPAIR_OPTIONS
	SockoptTCPTimestamp     = unix.TCP_TIMESTAMP
	SockoptTCPRepairWindow  = unix.TCP_REPAIR_WINDOW
	IPProtoTCP              = unix.IPPROTO_TCP
)

// Values of SockoptTCPRepair, for TCPRepair.
const (
	TCPRepairOff     = 0
	TCPRepairOn      = 1
	TCPRepairOffNoWP = -1 // leave repair mode without sending a window probe
)

// Values of SockoptTCPRepairQueue: the queue SockoptTCPQueueSeq and writes in repair
// mode apply to.
const (
	TCPNoQueue   = 0
	TCPRecvQueue = 1
	TCPSendQueue = 2
)

// Option codes of TCPRepairOpt (TCPOPT_*).
const (
	TCPOptMaxseg    = 2
	TCPOptWindow    = 3 // OptVal: snd_wscale | rcv_wscale<<16
	TCPOptSackPerm  = 4
	TCPOptTimestamp = 8
)

// Socket queue ioctls (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD).
const (
	SiocInq     = unix.SIOCINQ
	SiocOutq    = unix.SIOCOUTQ
	SiocOutqNSD = unix.SIOCOUTQNSD
)

// TCPRepairOpt mirrors struct tcp_repair_opt, one element of the array
// set with SockoptTCPRepairOptions (set-only: reading it gives ENOPROTOOPT).
type TCPRepairOpt struct {
	OptCode uint32
	OptVal  uint32
}

// TCPRepairWindow mirrors struct tcp_repair_window, read and written with
// SockoptTCPRepairWindow.
type TCPRepairWindow struct {
	SndWl1    uint32
	SndWnd    uint32
	MaxWindow uint32
	RcvWnd    uint32
	RcvWup    uint32
}

// TCPRepair puts socket fd into repair mode (TCPRepairOn) or takes it
// out (TCPRepairOff, TCPRepairOffNoWP). It needs CAP_NET_ADMIN. In repair
// mode close sends neither FIN nor RST, and connect sends no SYN.
func TCPRepair(fd int, on int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_REPAIR, on); err != nil {
		return fmt.Errorf("socket %d: tcp repair %d: %w", fd, on, os.NewSyscallError("setsockopt", err))
	}
	return nil
}
