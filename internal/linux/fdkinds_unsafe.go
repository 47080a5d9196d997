package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kcmpEpollTfd is KCMP_EPOLL_TFD (include/uapi/linux/kcmp.h).
const kcmpEpollTfd = 7

// kcmpEpollSlot mirrors struct kcmp_epoll_slot (include/uapi/linux/kcmp.h).
type kcmpEpollSlot struct {
	Efd  uint32
	Tfd  uint32
	Toff uint32
}

// tfdIocSetTicks is TFD_IOC_SET_TICKS, _IOW('T', 0, __u64)
// (include/uapi/linux/timerfd.h).
var tfdIocSetTicks = ioc(iocWrite, 'T', 0, sizeOf[uint64]())

// KcmpEpollTarget reports whether descriptor fd of pid is the file
// registered in the epoll instance at descriptor efd of pid under target
// number tfd (the toff-th registration with that number, counting from 0,
// in the order /proc/PID/fdinfo lists them).
func KcmpEpollTarget(pid, efd, tfd, toff, fd int) (bool, error) {
	slot := kcmpEpollSlot{Efd: uint32(efd), Tfd: uint32(tfd), Toff: uint32(toff)}
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpEpollTfd,
		uintptr(fd), uintptr(unsafe.Pointer(&slot)), 0)
	if e != 0 {
		return false, os.NewSyscallError("kcmp KCMP_EPOLL_TFD", e)
	}
	return r == 0, nil
}

// TimerfdSetTicks sets the number of expirations a timerfd reports as
// not yet read (TFD_IOC_SET_TICKS; a later timerfd_settime resets it).
func TimerfdSetTicks(f *os.File, ticks uint64) error {
	return ioctlPtr(f, "ioctl TFD_IOC_SET_TICKS", tfdIocSetTicks, &ticks)
}
