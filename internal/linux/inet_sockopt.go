package linux

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Socket options read and set on inet sockets (dump and restore of their
// options), by level and number.
const (
	SoReuseaddr     = unix.SO_REUSEADDR
	SoReuseport     = unix.SO_REUSEPORT
	SoKeepalive     = unix.SO_KEEPALIVE
	SoBroadcast     = unix.SO_BROADCAST
	SoDontroute     = unix.SO_DONTROUTE
	SoOobinline     = unix.SO_OOBINLINE
	SoNoCheck       = unix.SO_NO_CHECK
	SoPriority      = unix.SO_PRIORITY
	SoRcvlowat      = unix.SO_RCVLOWAT
	SoMark          = unix.SO_MARK
	SoPasscred      = unix.SO_PASSCRED
	SoPasssec       = unix.SO_PASSSEC
	SoSndbuf        = unix.SO_SNDBUF
	SoRcvbuf        = unix.SO_RCVBUF
	SoSndbufForce   = unix.SO_SNDBUFFORCE
	SoRcvbufForce   = unix.SO_RCVBUFFORCE
	SoBufLock       = unix.SO_BUF_LOCK
	SoAcceptconn    = unix.SO_ACCEPTCONN
	SoError         = unix.SO_ERROR
	SoBindtodevice  = unix.SO_BINDTODEVICE
	SoSndtimeo      = unix.SO_SNDTIMEO_OLD
	SoRcvtimeo      = unix.SO_RCVTIMEO_OLD
	SoLinger        = unix.SO_LINGER
	SoGetFilter     = unix.SO_GET_FILTER
	SoNetnsCookie   = unix.SO_NETNS_COOKIE
	TCPNodelay      = unix.TCP_NODELAY
	TCPCork         = unix.TCP_CORK
	TCPKeepcnt      = unix.TCP_KEEPCNT
	TCPKeepidle     = unix.TCP_KEEPIDLE
	TCPKeepintvl    = unix.TCP_KEEPINTVL
	TCPMaxseg       = unix.TCP_MAXSEG
	IPTos           = unix.IP_TOS
	IPTTL           = unix.IP_TTL
	IPFreebind      = unix.IP_FREEBIND
	IPPktinfo       = unix.IP_PKTINFO
	IPv6V6only      = unix.IPV6_V6ONLY
	IPv6Freebind    = unix.IPV6_FREEBIND
	IPv6Tclass      = unix.IPV6_TCLASS
	IPv6Hoplimit    = unix.IPV6_UNICAST_HOPS
	IPv6Recvpktinfo = unix.IPV6_RECVPKTINFO
)

func optName(level, opt int) string {
	return "sockopt " + strconv.Itoa(level) + "/" + strconv.Itoa(opt)
}

// GetsockoptInt reads an int option of socket f.
func GetsockoptInt(f *os.File, level, opt int) (int, error) {
	var v int
	err := control(f, func(fd uintptr) error {
		var err error
		v, err = unix.GetsockoptInt(int(fd), level, opt)
		return err
	})
	return v, os.NewSyscallError("get"+optName(level, opt), err)
}

// SetsockoptInt sets an int option of socket f.
func SetsockoptInt(f *os.File, level, opt, v int) error {
	err := control(f, func(fd uintptr) error { return unix.SetsockoptInt(int(fd), level, opt, v) })
	return os.NewSyscallError("set"+optName(level, opt)+"="+strconv.Itoa(v), err)
}

// GetsockoptUint64 reads a 64-bit option (SoNetnsCookie).
func GetsockoptUint64(f *os.File, level, opt int) (uint64, error) {
	var v uint64
	err := control(f, func(fd uintptr) error {
		var err error
		v, err = unix.GetsockoptUint64(int(fd), level, opt)
		return err
	})
	return v, os.NewSyscallError("get"+optName(level, opt), err)
}

// BoundDevice returns the device a socket is bound to (SO_BINDTODEVICE),
// "" for none.
func BoundDevice(f *os.File) (string, error) {
	var s string
	err := control(f, func(fd uintptr) error {
		var err error
		s, err = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		return err
	})
	return s, os.NewSyscallError("getsockopt SO_BINDTODEVICE", err)
}

// BindToDevice binds a socket to a network device (SO_BINDTODEVICE).
func BindToDevice(f *os.File, dev string) error {
	err := control(f, func(fd uintptr) error { return unix.BindToDevice(int(fd), dev) })
	return os.NewSyscallError("setsockopt SO_BINDTODEVICE "+dev, err)
}

// GetsockoptTimeout reads SoSndtimeo or SoRcvtimeo (0: none).
func GetsockoptTimeout(f *os.File, opt int) (time.Duration, error) {
	var tv *unix.Timeval
	err := control(f, func(fd uintptr) error {
		var err error
		tv, err = unix.GetsockoptTimeval(int(fd), unix.SOL_SOCKET, opt)
		return err
	})
	if err != nil {
		return 0, os.NewSyscallError("get"+optName(unix.SOL_SOCKET, opt), err)
	}
	return time.Duration(tv.Nano()), nil
}

// SetsockoptTimeout sets SoSndtimeo or SoRcvtimeo (0: none).
func SetsockoptTimeout(f *os.File, opt int, d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	err := control(f, func(fd uintptr) error { return unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, opt, &tv) })
	return os.NewSyscallError("set"+optName(unix.SOL_SOCKET, opt), err)
}

// Linger reads SO_LINGER: whether it is on and its timeout in seconds.
func Linger(f *os.File) (on bool, secs int, err error) {
	var l *unix.Linger
	err = control(f, func(fd uintptr) error {
		var err error
		l, err = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER)
		return err
	})
	if err != nil {
		return false, 0, os.NewSyscallError("getsockopt SO_LINGER", err)
	}
	return l.Onoff != 0, int(l.Linger), nil
}

// SetLinger sets SO_LINGER on with a timeout of secs seconds.
func SetLinger(f *os.File, secs int) error {
	l := unix.Linger{Onoff: 1, Linger: int32(secs)}
	err := control(f, func(fd uintptr) error { return unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &l) })
	return os.NewSyscallError("setsockopt SO_LINGER", err)
}
