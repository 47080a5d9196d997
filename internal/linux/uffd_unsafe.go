package linux

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl request encoding (include/uapi/asm-generic/ioctl.h), shared by the
// userfaultfd and PAGEMAP_SCAN requests.
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2

	iocNrShift   = 0
	iocTypeShift = 8
	iocSizeShift = 16
	iocDirShift  = 30
)

// ioc encodes an ioctl request number like the kernel's _IOC macro.
func ioc(dir, typ, nr, size uintptr) uintptr {
	return dir<<iocDirShift | size<<iocSizeShift | typ<<iocTypeShift | nr<<iocNrShift
}

// ior is _IOR: the kernel reads the argument (the macro names the user's
// view: "read" is dir 2, as in the uapi headers).
func ior(typ, nr, size uintptr) uintptr { return ioc(iocRead, typ, nr, size) }

// iowr is _IOWR.
func iowr(typ, nr, size uintptr) uintptr { return ioc(iocRead|iocWrite, typ, nr, size) }

// sizeOf is unsafe.Sizeof of a T, for computing ioctl numbers.
func sizeOf[T any]() uintptr {
	var v T
	return unsafe.Sizeof(v)
}

// errnoErr turns a zero Errno into a nil error.
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// control runs fn with f's descriptor, without switching f to blocking
// mode as f.Fd() would.
func control(f *os.File, fn func(fd uintptr) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return err
	}
	return ferr
}

// ioctlPtr issues request req on f with a pointer to arg, retrying EINTR.
func ioctlPtr[T any](f *os.File, name string, req uintptr, arg *T) error {
	_, err := ioctlPtrRet(f, name, req, arg)
	return err
}

// ioctlPtrRet is ioctlPtr that also returns the ioctl's result.
func ioctlPtrRet[T any](f *os.File, name string, req uintptr, arg *T) (uintptr, error) {
	var r uintptr
	err := control(f, func(fd uintptr) error {
		for {
			var e unix.Errno
			r, _, e = unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(arg)))
			if e != unix.EINTR {
				return errnoErr(e)
			}
		}
	})
	return r, os.NewSyscallError(name, err)
}

// ioctlInt issues request req on f with an integer argument and stores
// the result in ret.
func ioctlInt(f *os.File, name string, req, arg uintptr, ret *uintptr) error {
	err := control(f, func(fd uintptr) error {
		for {
			r, _, e := unix.Syscall(unix.SYS_IOCTL, fd, req, arg)
			if e != unix.EINTR {
				*ret = r
				return errnoErr(e)
			}
		}
	})
	return os.NewSyscallError(name, err)
}

// pinnedAddr pins the backing array of s (so that its address stays valid
// while the kernel uses it from inside a struct) and returns the address
// of its first element. The caller unpins p after the system call.
func pinnedAddr[T any](p *runtime.Pinner, s []T) uint64 {
	if len(s) == 0 {
		return 0
	}
	p.Pin(&s[0])
	return uint64(uintptr(unsafe.Pointer(&s[0])))
}

// sliceAddr returns the address of b's first byte, for memory that does
// not move (mmap'd).
func sliceAddr(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// devUserfaultfd hands out userfaultfds to whoever may open it, when the
// syscall is refused (vm.unprivileged_userfaultfd=0 for non-root).
const devUserfaultfd = "/dev/userfaultfd"

// UserfaultfdOpen creates a userfaultfd owned by the caller. flags combine
// ONonblock and UffdUserModeOnly; O_CLOEXEC is always added. It tries the
// userfaultfd syscall, then /dev/userfaultfd.
//
// The file stays out of Go's poller: a userfaultfd polls as EPOLLERR
// until the UFFDIO_API handshake, and the poller would keep that error.
// So with ONonblock, UffdReadMsgs fails with EAGAIN when no message is
// queued, and the caller waits for readiness itself (poll(2) on the fd);
// without it, UffdReadMsgs blocks in the kernel.
func UserfaultfdOpen(flags int) (*os.File, error) {
	nonblock := flags&unix.O_NONBLOCK != 0
	flags = flags&^unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := syscallRetry(unix.SYS_USERFAULTFD, uintptr(flags))
	if err != nil {
		var devErr error
		if fd, devErr = userfaultfdFromDev(flags); devErr != nil {
			return nil, fmt.Errorf("%w; fallback: %w", os.NewSyscallError("userfaultfd", err), devErr)
		}
	}
	f := os.NewFile(fd, "userfaultfd")
	if nonblock {
		if err := unix.SetNonblock(int(fd), true); err != nil {
			f.Close()
			return nil, os.NewSyscallError("fcntl O_NONBLOCK", err)
		}
	}
	return f, nil
}

// syscallRetry runs system call nr(a1), retrying EINTR.
func syscallRetry(nr, a1 uintptr) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(nr, a1, 0, 0)
		if e != unix.EINTR {
			return r, errnoErr(e)
		}
	}
}

// userfaultfdFromDev returns a new userfaultfd descriptor from
// /dev/userfaultfd (USERFAULTFD_IOC_NEW).
func userfaultfdFromDev(flags int) (uintptr, error) {
	dev, err := os.OpenFile(devUserfaultfd, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer dev.Close()
	var fd uintptr
	if err := ioctlInt(dev, "ioctl USERFAULTFD_IOC_NEW", uffdIocNewReq, uintptr(flags), &fd); err != nil {
		return 0, err
	}
	return fd, nil
}

// UffdAPI does the UFFDIO_API handshake, requesting features. It returns
// the features the kernel supports (all of them, not only those requested)
// and the ioctls the fd accepts. The handshake is done once per fd; an
// unknown feature gives EINVAL.
func UffdAPI(f *os.File, features uint64) (supported uint64, ioctls uint64, err error) {
	a := uffdioAPI{API: uffdAPIVersion, Features: features}
	if err := ioctlPtr(f, "ioctl UFFDIO_API", uffdioAPIReq, &a); err != nil {
		return a.Features, 0, err
	}
	return a.Features, a.Ioctls, nil
}

// UffdRegister registers [start, start+length) in mode (UffdRegisterMode*)
// and returns the ioctls (UffdIoctl* bits) allowed on the range.
func UffdRegister(f *os.File, start, length uint64, mode uint64) (ioctls uint64, err error) {
	r := uffdioRegister{Range: uffdioRange{Start: start, Len: length}, Mode: mode}
	if err := ioctlPtr(f, "ioctl UFFDIO_REGISTER", uffdioRegisterReq, &r); err != nil {
		return 0, err
	}
	return r.Ioctls, nil
}

// UffdUnregister unregisters [start, start+length).
func UffdUnregister(f *os.File, start, length uint64) error {
	r := uffdioRange{Start: start, Len: length}
	return ioctlPtr(f, "ioctl UFFDIO_UNREGISTER", uffdioUnregisterReq, &r)
}

// UffdWake wakes the threads waiting on faults in [start, start+length).
func UffdWake(f *os.File, start, length uint64) error {
	r := uffdioRange{Start: start, Len: length}
	return ioctlPtr(f, "ioctl UFFDIO_WAKE", uffdioWakeReq, &r)
}

// UffdWriteprotect sets (mode UffdWriteprotectModeWP) or clears (mode 0)
// write protection on [start, start+length).
func UffdWriteprotect(f *os.File, start, length uint64, mode uint64) error {
	w := uffdioWriteprotect{Range: uffdioRange{Start: start, Len: length}, Mode: mode}
	return ioctlPtr(f, "ioctl UFFDIO_WRITEPROTECT", uffdioWriteprotectReq, &w)
}

// UffdCopy copies src to dst in the registered range (UFFDIO_COPY) and
// wakes the faulting threads unless mode has UffdCopyModeDontwake. It
// returns the bytes copied. A page already present gives an error
// matching EEXIST; a pending non-cooperative event (fork, remap, unmap)
// gives EAGAIN: read the events, then copy the rest. When the kernel stops
// after copying part of src, UffdCopy goes on with the remainder, so an
// error always names the real cause and copied counts what was done.
func UffdCopy(f *os.File, dst uint64, src []byte, mode uint64) (copied int64, err error) {
	for copied < int64(len(src)) {
		n, err := uffdCopyOnce(f, dst+uint64(copied), src[copied:], mode)
		copied += n
		if n == 0 {
			return copied, err
		}
	}
	return copied, nil
}

func uffdCopyOnce(f *os.File, dst uint64, src []byte, mode uint64) (int64, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	c := uffdioCopy{Dst: dst, Src: pinnedAddr(&pin, src), Len: uint64(len(src)), Mode: mode}
	err := ioctlPtr(f, "ioctl UFFDIO_COPY", uffdioCopyReq, &c)
	return max(c.Copy, 0), err
}

// UffdZeropage maps zero pages over [start, start+length) (UFFDIO_ZEROPAGE)
// and returns the bytes zeroed; errors and partial progress are handled as
// in UffdCopy.
func UffdZeropage(f *os.File, start, length uint64, mode uint64) (zeroed int64, err error) {
	for uint64(zeroed) < length {
		z := uffdioZeropage{Range: uffdioRange{Start: start + uint64(zeroed), Len: length - uint64(zeroed)}, Mode: mode}
		err := ioctlPtr(f, "ioctl UFFDIO_ZEROPAGE", uffdioZeropageReq, &z)
		if z.Zeropage <= 0 {
			return zeroed, err
		}
		zeroed += z.Zeropage
	}
	return zeroed, nil
}

// UffdReadMsgs reads up to len(msgs) messages and returns how many it
// read. On a blocking fd it blocks in the kernel until one is queued; on
// an ONonblock fd it fails with an error matching EAGAIN instead.
func UffdReadMsgs(f *os.File, msgs []UffdMsg) (n int, err error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	got, err := f.Read(unsafe.Slice(&msgs[0][0], len(msgs)*UffdMsgSize))
	return got / UffdMsgSize, err
}

// syscallPtr3 runs system call nr(a1, a2, p), p pointing at Go memory
// the kernel reads or writes, retrying EINTR.
func syscallPtr3[T any](nr, a1, a2 uintptr, p *T) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(nr, a1, a2, uintptr(unsafe.Pointer(p)))
		if e != unix.EINTR {
			return r, errnoErr(e)
		}
	}
}
