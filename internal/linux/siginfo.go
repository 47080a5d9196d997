package linux

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// SiginfoSize is sizeof(siginfo_t).
const SiginfoSize = 128

// Siginfo is a raw siginfo_t; the signal number is its first int.
type Siginfo [SiginfoSize]byte

// Signo returns si_signo.
func (s *Siginfo) Signo() int { return int(*(*int32)(unsafe.Pointer(&s[0]))) }

// peekSiginfoArgs mirrors struct ptrace_peeksiginfo_args
// (include/uapi/linux/ptrace.h).
type peekSiginfoArgs struct {
	Off   uint64
	Flags uint32
	Nr    int32
}

// peekBatch is how many siginfos one PTRACE_PEEKSIGINFO call reads.
const peekBatch = 32

// PtracePeekSiginfo returns the signals pending for a stopped task without
// dequeuing them: its own queue, or the process-wide one if shared.
func PtracePeekSiginfo(tid int, shared bool) ([]Siginfo, error) {
	var out []Siginfo
	var buf [peekBatch]Siginfo
	args := peekSiginfoArgs{Nr: peekBatch}
	if shared {
		args.Flags = unix.PTRACE_PEEKSIGINFO_SHARED
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKSIGINFO, uintptr(tid),
			uintptr(unsafe.Pointer(&args)), uintptr(unsafe.Pointer(&buf[0])), 0, 0)
		if e != 0 {
			return nil, ptraceErr("ptrace peeksiginfo", tid, e)
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
		args.Off += uint64(n)
	}
}
