package linux

import (
	"encoding/binary"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Owner kinds of F_GETOWN_EX / F_SETOWN_EX (include/uapi/linux/fcntl.h)
// and the fcntl commands crlazy injects to set an owner again.
const (
	FOwnerTid  = 0
	FOwnerPid  = 1
	FOwnerPgrp = 2

	FSetsig   = unix.F_SETSIG
	FSetownEx = unix.F_SETOWN_EX
)

// fOwnerEx is struct f_owner_ex.
type fOwnerEx struct {
	Type int32
	Pid  int32
}

// fOwnerExSize is the size of struct f_owner_ex.
const fOwnerExSize = int(unsafe.Sizeof(fOwnerEx{}))

// FileOwner is the process (or thread, or group) an open file
// description sends its SIGIO/SIGURG to (F_GETOWN_EX; Pid 0: none), and
// the signal (F_GETSIG; 0 means SIGIO).
type FileOwner struct {
	Type, Pid, Signal int
}

// GetFileOwner reads the owner and signal of f's open file description.
func GetFileOwner(f *os.File) (FileOwner, error) {
	var o FileOwner
	err := control(f, func(fd uintptr) error {
		var ex fOwnerEx
		if _, _, e := unix.Syscall(unix.SYS_FCNTL, fd, unix.F_GETOWN_EX, uintptr(unsafe.Pointer(&ex))); e != 0 {
			return os.NewSyscallError("fcntl F_GETOWN_EX", e)
		}
		o.Type, o.Pid = int(ex.Type), int(ex.Pid)
		sig, err := unix.FcntlInt(fd, unix.F_GETSIG, 0)
		o.Signal = sig
		return os.NewSyscallError("fcntl F_GETSIG", err)
	})
	return o, err
}

// FOwnerExBytes is struct f_owner_ex, for an injected F_SETOWN_EX.
func FOwnerExBytes(typ, pid int) []byte {
	b := make([]byte, fOwnerExSize)
	binary.NativeEndian.PutUint32(b[0:], uint32(int32(typ)))
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(pid)))
	return b
}
