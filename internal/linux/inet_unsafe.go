package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// getsockoptBytes reads option opt of socket fd into b and returns how
// many bytes the kernel wrote.
func getsockoptBytes(fd uintptr, level, opt int, b []byte) (int, error) {
	n := uint32(len(b))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// setsockoptBytes sets option opt of socket fd to b.
func setsockoptBytes(fd uintptr, level, opt int, b []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, fd, uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// GetsockoptBytes reads a binary option of at most max bytes.
func GetsockoptBytes(f *os.File, level, opt, max int) ([]byte, error) {
	b := make([]byte, max)
	var n int
	err := control(f, func(fd uintptr) error {
		var err error
		n, err = getsockoptBytes(fd, level, opt, b)
		return err
	})
	if err != nil {
		return nil, os.NewSyscallError("get"+optName(level, opt), err)
	}
	return b[:n], nil
}

// SetsockoptBytes sets a binary option.
func SetsockoptBytes(f *os.File, level, opt int, b []byte) error {
	err := control(f, func(fd uintptr) error { return setsockoptBytes(fd, level, opt, b) })
	return os.NewSyscallError("set"+optName(level, opt), err)
}

// asBytes views a struct of the TCP repair ABI as its bytes.
func asBytes[T TCPRepairWindow | TCPRepairOpt](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// SocketFilterLen returns how many instructions the classic BPF filter
// attached to socket f has (SO_ATTACH_FILTER), 0 for none: the kernel
// returns the count when asked with a zero length.
func SocketFilterLen(f *os.File) (int, error) {
	var n int
	err := control(f, func(fd uintptr) error {
		var optlen uint32
		r, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_GET_FILTER,
			0, uintptr(unsafe.Pointer(&optlen)), 0)
		if e != 0 {
			return e
		}
		n = int(r)
		return nil
	})
	return n, os.NewSyscallError("getsockopt SO_GET_FILTER", err)
}
