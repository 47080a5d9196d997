package linux

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxIovecs is the largest iovec count one process_vm_* call accepts
// (UIO_MAXIOV).
const MaxIovecs = 1024

// RemoteRange is a range [Addr, Addr+Len) in a target process.
type RemoteRange struct {
	Addr Addr
	Len  uint64
}

// ProcessVMReadv copies from ranges of pid into local. It returns the number
// of bytes copied; a short count means a remote range ended in unmapped or
// unreadable memory.
func ProcessVMReadv(pid int, local []byte, remote []RemoteRange) (int, error) {
	return processVM(unix.SYS_PROCESS_VM_READV, "process_vm_readv", pid, local, remote)
}

// ProcessVMWritev copies local into ranges of pid.
func ProcessVMWritev(pid int, local []byte, remote []RemoteRange) (int, error) {
	return processVM(unix.SYS_PROCESS_VM_WRITEV, "process_vm_writev", pid, local, remote)
}

func processVM(nr uintptr, name string, pid int, local []byte, remote []RemoteRange) (int, error) {
	if len(remote) > MaxIovecs {
		return 0, fmt.Errorf("%s: %d remote ranges exceed %d: %w", name, len(remote), MaxIovecs, unix.EINVAL)
	}
	if len(local) == 0 || len(remote) == 0 {
		return 0, nil
	}
	liov := [1]unix.Iovec{{Base: &local[0]}}
	liov[0].SetLen(len(local))
	var riov [MaxIovecs]unix.RemoteIovec
	for i, r := range remote {
		riov[i] = unix.RemoteIovec{Base: uintptr(r.Addr), Len: int(r.Len)}
	}
	for {
		n, _, e := unix.Syscall6(nr, uintptr(pid), uintptr(unsafe.Pointer(&liov[0])), 1,
			uintptr(unsafe.Pointer(&riov[0])), uintptr(len(remote)), 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, os.NewSyscallError(name, e)
		}
		return int(n), nil
	}
}

// ReadRemote reads len(buf) bytes at addr of pid, through
// process_vm_readv, falling back to /proc/PID/mem for memory the target
// cannot read itself (PROT_NONE) — the kernel forces access there.
func ReadRemote(pid int, addr Addr, buf []byte) error {
	n, err := ProcessVMReadv(pid, buf, []RemoteRange{{addr, uint64(len(buf))}})
	if err == nil && n == len(buf) {
		return nil
	}
	return procMemIO(pid, addr, buf, false)
}

// WriteRemote writes buf at addr of pid, falling back to /proc/PID/mem,
// which can write to read-only mappings.
func WriteRemote(pid int, addr Addr, buf []byte) error {
	n, err := ProcessVMWritev(pid, buf, []RemoteRange{{addr, uint64(len(buf))}})
	if err == nil && n == len(buf) {
		return nil
	}
	return procMemIO(pid, addr, buf, true)
}

func procMemIO(pid int, addr Addr, buf []byte, write bool) error {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), flag, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if write {
		_, err = f.WriteAt(buf, int64(addr))
	} else {
		_, err = f.ReadAt(buf, int64(addr))
	}
	if err != nil {
		return fmt.Errorf("/proc/%d/mem at %v (%d bytes): %w", pid, addr, len(buf), err)
	}
	return nil
}
