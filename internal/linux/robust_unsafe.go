package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GetRobustList returns the robust futex list head and length of tid.
func GetRobustList(tid int) (head uint64, length uint64, err error) {
	var h, l uint64
	_, _, e := unix.Syscall(unix.SYS_GET_ROBUST_LIST, uintptr(tid), uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return 0, 0, os.NewSyscallError("get_robust_list", e)
	}
	return h, l, nil
}

// CurrentCPU returns the CPU the calling thread runs on.
func CurrentCPU() (int, error) {
	var cpu, node uint32
	_, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	if e != 0 {
		return 0, os.NewSyscallError("getcpu", e)
	}
	return int(cpu), nil
}
