package tcprepair

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"github.com/crlazy/crlazy/internal/linux"
)

// TCP header fields of the forged FIN (RFC 9293 §3.1).
const (
	tcpHeaderLen = 20
	tcpDataOff   = (tcpHeaderLen / 4) << 4
	tcpFlagFin   = 0x01
	tcpFlagAck   = 0x10
	ipProtoTCP   = 6
)

// injectFIN gives a restored connection the FIN its peer had sent: the
// repair interface has no way to queue one, so a segment from the peer's
// address is forged on a raw socket (bound to that address, with
// IP_FREEBIND when it is not ours) and sent to ours. It carries
// seq = RecvSeq and acknowledges the first unacknowledged byte, so the
// socket takes it in order and moves to CLOSE_WAIT (or CLOSING).
func injectFIN(s *State, mark uint32) error {
	raw, err := linux.NewSocket(s.Family, linux.SockRawType, linux.IpprotoTCP)
	if err != nil {
		return fmt.Errorf("forge FIN: %w", err)
	}
	defer raw.Close()
	if err := freebind(raw, s.Family); err != nil {
		return fmt.Errorf("forge FIN: %w", err)
	}
	if mark != 0 {
		if err := linux.SetsockoptInt(raw, linux.SolSocket, linux.SoMark, int(mark)); err != nil {
			return fmt.Errorf("forge FIN: %w", err)
		}
	}
	if err := linux.Bind(raw, s.Family, netip.AddrPortFrom(s.Remote.Addr(), 0)); err != nil {
		return fmt.Errorf("forge FIN: %w", err)
	}
	seg := finSegment(s)
	if err := linux.SendTo(raw, s.Family, seg, netip.AddrPortFrom(s.Local.Addr(), 0)); err != nil {
		return fmt.Errorf("forge FIN: %w", err)
	}
	return nil
}

func freebind(raw *os.File, family int) error {
	if family == linux.AfInet6 {
		return linux.SetsockoptInt(raw, linux.SolIPv6, linux.IPv6Freebind, 1)
	}
	return linux.SetsockoptInt(raw, linux.SolIP, linux.IPFreebind, 1)
}

// finSegment builds the TCP header of the peer's FIN, checksum included.
func finSegment(s *State) []byte {
	b := make([]byte, tcpHeaderLen)
	binary.BigEndian.PutUint16(b[0:], s.Remote.Port())
	binary.BigEndian.PutUint16(b[2:], s.Local.Port())
	binary.BigEndian.PutUint32(b[4:], s.RecvSeq)
	binary.BigEndian.PutUint32(b[8:], s.SendSeq-uint32(len(s.SendQueue)))
	b[12] = tcpDataOff
	b[13] = tcpFlagFin | tcpFlagAck
	win := s.Window.SndWnd >> s.SndWscale
	if win > 0xffff {
		win = 0xffff
	}
	binary.BigEndian.PutUint16(b[14:], uint16(win))
	binary.BigEndian.PutUint16(b[16:], tcpChecksum(s.Remote.Addr(), s.Local.Addr(), b))
	return b
}

// tcpChecksum is the Internet checksum of a TCP segment with its IPv4 or
// IPv6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
func tcpChecksum(src, dst netip.Addr, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += ipProtoTCP + uint32(len(seg))
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
