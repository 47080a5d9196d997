package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// memfd_create(2) flags (include/uapi/linux/memfd.h).
const (
	MfdCloexec      = unix.MFD_CLOEXEC
	MfdAllowSealing = unix.MFD_ALLOW_SEALING
	MfdHugetlb      = unix.MFD_HUGETLB
	MfdNoexecSeal   = unix.MFD_NOEXEC_SEAL // kernel 6.3+
	MfdExec         = unix.MFD_EXEC        // kernel 6.3+
)

// MemfdNameMax is the longest memfd name: NAME_MAX less the "memfd:"
// prefix the kernel adds (mm/memfd.c, MFD_NAME_MAX_LEN).
const MemfdNameMax = 255 - len("memfd:")

// File seals (F_ADD_SEALS, F_GET_SEALS; include/uapi/linux/fcntl.h).
const (
	FSealSeal        = unix.F_SEAL_SEAL
	FSealShrink      = unix.F_SEAL_SHRINK
	FSealGrow        = unix.F_SEAL_GROW
	FSealWrite       = unix.F_SEAL_WRITE
	FSealFutureWrite = unix.F_SEAL_FUTURE_WRITE
	FSealExec        = unix.F_SEAL_EXEC // kernel 6.3+
	// FSealAll is every seal this package knows.
	FSealAll = FSealSeal | FSealShrink | FSealGrow | FSealWrite | FSealFutureWrite | FSealExec
)

// File system magic numbers (statfs f_type) of shared memory files.
const (
	TmpfsMagic     = unix.TMPFS_MAGIC
	HugetlbfsMagic = unix.HUGETLBFS_MAGIC
)

// MemfdCreateFlags creates a memory file named name with memfd_create
// flags (MfdAllowSealing, MfdExec, ...); FD_CLOEXEC is always set on the
// returned file, which the caller owns.
func MemfdCreateFlags(name string, flags int) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	return os.NewFile(uintptr(fd), "memfd:"+name), nil
}

// Seals returns the seals of the memory file f (F_GET_SEALS).
func Seals(f *os.File) (int, error) {
	return fcntl(f, "fcntl F_GET_SEALS", unix.F_GET_SEALS, 0)
}

// AddSeals adds seals to the memory file f (F_ADD_SEALS).
func AddSeals(f *os.File, seals int) error {
	_, err := fcntl(f, "fcntl F_ADD_SEALS", unix.F_ADD_SEALS, seals)
	return err
}
