package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// Small wrappers used by the feature probes of `crlazy check` (package
// internal/feature), which exercise kernel features on this process.

// PrctlMMMapSize returns the size of struct prctl_mm_map the kernel
// expects (prctl PR_SET_MM, PR_SET_MM_MAP_SIZE): 104 on x86_64. It fails
// without CONFIG_CHECKPOINT_RESTORE.
func PrctlMMMapSize() (uint32, error) {
	var size uint32
	_, err := syscallPtr3(unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP_SIZE, &size)
	return size, os.NewSyscallError("prctl PR_SET_MM_MAP_SIZE", err)
}

// MmapAnon maps length bytes of private anonymous read-write memory and
// returns it with its address. The caller releases it with Munmap.
func MmapAnon(length int) (mem []byte, addr Addr, err error) {
	b, err := unix.Mmap(-1, 0, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, 0, os.NewSyscallError("mmap", err)
	}
	return b, Addr(sliceAddr(b)), nil
}

// Munmap unmaps a whole slice returned by MmapAnon.
func Munmap(b []byte) error {
	return os.NewSyscallError("munmap", unix.Munmap(b))
}

// TCPSocket returns a new, unconnected IPv4 TCP socket owned by the caller.
func TCPSocket() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	return os.NewFile(uintptr(fd), "tcp socket"), nil
}

// DupFile returns a new descriptor for f's open file description, with
// FD_CLOEXEC, owned by the caller.
func DupFile(f *os.File) (*os.File, error) {
	var nfd int
	err := control(f, func(fd uintptr) error {
		var err error
		nfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// Madvise applies advice to a slice returned by MmapAnon (or part of it).
func Madvise(b []byte, advice int) error {
	return os.NewSyscallError("madvise", unix.Madvise(b, advice))
}

// MadvDontneed is MADV_DONTNEED.
const MadvDontneed = unix.MADV_DONTNEED
