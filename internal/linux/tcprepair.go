package linux

import (
	"encoding/binary"
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

// TCP_INFO: the bytes of struct tcp_info (include/uapi/linux/tcp.h) that
// repair needs. tcpi_options bits are TCPIOpt*.
const (
	tcpInfoMax        = 512 // more than sizeof(struct tcp_info) on any kernel
	tcpInfoState      = 0   // __u8 tcpi_state
	tcpInfoOptions    = 5   // __u8 tcpi_options
	tcpInfoWscale     = 6   // __u8 tcpi_snd_wscale:4, tcpi_rcv_wscale:4
	tcpInfoSndMSS     = 16  // __u32 tcpi_snd_mss
	tcpInfoMinLen     = 20
	TCPIOptTimestamps = 1
	TCPIOptSack       = 2
	TCPIOptWscale     = 4
)

// TCPConnInfo is what TCPInfo reads from struct tcp_info.
type TCPConnInfo struct {
	State     uint8 // TCPEstablished, ...
	Options   uint8 // TCPIOpt* bits
	SndWscale uint8
	RcvWscale uint8
	SndMSS    uint32
}

// TCPInfo reads the state, negotiated options and window scales of a TCP
// (or MPTCP) socket.
func TCPInfo(f *os.File) (TCPConnInfo, error) {
	b, err := GetsockoptBytes(f, unix.IPPROTO_TCP, unix.TCP_INFO, tcpInfoMax)
	if err != nil {
		return TCPConnInfo{}, err
	}
	return parseTCPInfo(b)
}

func parseTCPInfo(b []byte) (TCPConnInfo, error) {
	if len(b) < tcpInfoMinLen {
		return TCPConnInfo{}, fmt.Errorf("tcp_info of %d bytes: %w", len(b), unix.EINVAL)
	}
	return TCPConnInfo{State: b[tcpInfoState], Options: b[tcpInfoOptions],
		SndWscale: b[tcpInfoWscale] & 0xf, RcvWscale: b[tcpInfoWscale] >> 4,
		SndMSS: binary.NativeEndian.Uint32(b[tcpInfoSndMSS:])}, nil
}

// SetTCPRepair is TCPRepair on a file.
func SetTCPRepair(f *os.File, on int) error {
	return control(f, func(fd uintptr) error { return TCPRepair(int(fd), on) })
}

// TCPQueueSeq selects queue (TCPRecvQueue, TCPSendQueue) and returns its
// sequence number: rcv_nxt of the receive queue, write_seq of the send
// queue. The socket must be in repair mode.
func TCPQueueSeq(f *os.File, queue int) (uint32, error) {
	if err := SetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_REPAIR_QUEUE, queue); err != nil {
		return 0, err
	}
	v, err := GetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_QUEUE_SEQ)
	return uint32(v), err
}

// SetTCPQueueSeq sets the sequence number of queue on a closed socket in
// repair mode.
func SetTCPQueueSeq(f *os.File, queue int, seq uint32) error {
	if err := SetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_REPAIR_QUEUE, queue); err != nil {
		return err
	}
	return SetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_QUEUE_SEQ, int(int32(seq)))
}

// SetTCPRepairQueue selects the queue that writes in repair mode fill.
func SetTCPRepairQueue(f *os.File, queue int) error {
	return SetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_REPAIR_QUEUE, queue)
}

// SetTCPRepairOptions sets the options a connection negotiated, on a
// socket in repair mode after its repair-mode connect.
func SetTCPRepairOptions(f *os.File, opts []TCPRepairOpt) error {
	var b []byte
	for i := range opts {
		b = append(b, asBytes(&opts[i])...)
	}
	return SetsockoptBytes(f, unix.IPPROTO_TCP, unix.TCP_REPAIR_OPTIONS, b)
}

// GetTCPRepairWindow reads the window state of a socket in repair mode.
func GetTCPRepairWindow(f *os.File) (TCPRepairWindow, error) {
	var w TCPRepairWindow
	b, err := GetsockoptBytes(f, unix.IPPROTO_TCP, unix.TCP_REPAIR_WINDOW, len(asBytes(&w)))
	if err != nil {
		return w, err
	}
	copy(asBytes(&w), b)
	return w, nil
}

// SetTCPRepairWindow sets the window state of a socket in repair mode.
func SetTCPRepairWindow(f *os.File, w TCPRepairWindow) error {
	return SetsockoptBytes(f, unix.IPPROTO_TCP, unix.TCP_REPAIR_WINDOW, asBytes(&w))
}

// TCPTimestamp reads the socket's timestamp clock (TCP_TIMESTAMP).
func TCPTimestamp(f *os.File) (uint32, error) {
	v, err := GetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_TIMESTAMP)
	return uint32(v), err
}

// SetTCPTimestamp sets the offset of the socket's timestamp clock so that
// it reads ts now (TCP_TIMESTAMP, repair mode).
func SetTCPTimestamp(f *os.File, ts uint32) error {
	return SetsockoptInt(f, unix.IPPROTO_TCP, unix.TCP_TIMESTAMP, int(int32(ts)))
}
