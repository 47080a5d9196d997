package linux

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Regs is the x86_64 general register set (struct user_regs_struct).
type Regs = unix.PtraceRegs

// ptrace options crlazy uses.
const (
	PtraceOExitKill   = unix.PTRACE_O_EXITKILL
	PtraceOTraceClone = unix.PTRACE_O_TRACECLONE
	PtraceOTraceFork  = unix.PTRACE_O_TRACEFORK
	PtraceOTraceVfork = unix.PTRACE_O_TRACEVFORK
	PtraceOTraceExit  = unix.PTRACE_O_TRACEEXIT
	PtraceOTraceExec  = unix.PTRACE_O_TRACEEXEC
	// PtraceOSuspendSeccomp lets the tracee's system calls (ours,
	// injected) pass its seccomp filters while it is traced.
	PtraceOSuspendSeccomp = unix.PTRACE_O_SUSPEND_SECCOMP
)

// ptrace event codes, as found in (wait status >> 16).
const (
	PtraceEventFork  = unix.PTRACE_EVENT_FORK
	PtraceEventVfork = unix.PTRACE_EVENT_VFORK
	PtraceEventClone = unix.PTRACE_EVENT_CLONE
	PtraceEventExec  = unix.PTRACE_EVENT_EXEC
	PtraceEventExit  = unix.PTRACE_EVENT_EXIT
	PtraceEventStop  = unix.PTRACE_EVENT_STOP
)

// Register set notes for PTRACE_GETREGSET (include/uapi/linux/elf.h).
const (
	NTPrstatus  = unix.NT_PRSTATUS
	NTX86Xstate = unix.NT_X86_XSTATE
)

func ptrace(req int, pid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func ptraceErr(name string, pid int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %d: %w", name, pid, os.NewSyscallError("ptrace", err))
}

// PtraceSeize attaches to tid without stopping it (PTRACE_SEIZE).
func PtraceSeize(tid int, options int) error {
	return ptraceErr("ptrace seize", tid, ptrace(unix.PTRACE_SEIZE, tid, 0, uintptr(options)))
}

// PtraceInterrupt asks a seized task to stop (PTRACE_INTERRUPT).
func PtraceInterrupt(tid int) error {
	return ptraceErr("ptrace interrupt", tid, ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0))
}

// PtraceSetOptions sets the ptrace options of a traced task.
func PtraceSetOptions(tid int, options int) error {
	return ptraceErr("ptrace setoptions", tid, ptrace(unix.PTRACE_SETOPTIONS, tid, 0, uintptr(options)))
}

// PtraceDetach detaches from tid, delivering sig (0 for none).
func PtraceDetach(tid int, sig int) error {
	return ptraceErr("ptrace detach", tid, ptrace(unix.PTRACE_DETACH, tid, 0, uintptr(sig)))
}

// PtraceCont resumes tid, delivering sig (0 for none).
func PtraceCont(tid int, sig int) error {
	return ptraceErr("ptrace cont", tid, ptrace(unix.PTRACE_CONT, tid, 0, uintptr(sig)))
}

// PtraceSingleStep resumes tid for one instruction.
func PtraceSingleStep(tid int, sig int) error {
	return ptraceErr("ptrace singlestep", tid, ptrace(unix.PTRACE_SINGLESTEP, tid, 0, uintptr(sig)))
}

// PtraceGetRegs reads the general registers of a stopped task.
func PtraceGetRegs(tid int, r *Regs) error {
	return ptraceErr("ptrace getregs", tid, ptrace(unix.PTRACE_GETREGS, tid, 0, uintptr(unsafe.Pointer(r))))
}

// PtraceSetRegs writes the general registers of a stopped task.
func PtraceSetRegs(tid int, r *Regs) error {
	return ptraceErr("ptrace setregs", tid, ptrace(unix.PTRACE_SETREGS, tid, 0, uintptr(unsafe.Pointer(r))))
}

// PtraceGetRegset reads register set note into buf and returns the number
// of bytes the kernel filled.
func PtraceGetRegset(tid int, note int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, fmt.Errorf("ptrace getregset %d: empty buffer: %w", tid, unix.EINVAL)
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	err := ptrace(unix.PTRACE_GETREGSET, tid, uintptr(note), uintptr(unsafe.Pointer(&iov)))
	if err != nil {
		return 0, ptraceErr("ptrace getregset", tid, err)
	}
	return int(iov.Len), nil
}

// PtraceSetRegset writes register set note from buf.
func PtraceSetRegset(tid int, note int, buf []byte) error {
	if len(buf) == 0 {
		return fmt.Errorf("ptrace setregset %d: empty buffer: %w", tid, unix.EINVAL)
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	return ptraceErr("ptrace setregset", tid, ptrace(unix.PTRACE_SETREGSET, tid, uintptr(note), uintptr(unsafe.Pointer(&iov))))
}

// PtraceGetSigmask returns the blocked signal mask of a stopped task.
func PtraceGetSigmask(tid int) (uint64, error) {
	var m uint64
	err := ptrace(unix.PTRACE_GETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m)))
	return m, ptraceErr("ptrace getsigmask", tid, err)
}

// PtraceSetSigmask sets the blocked signal mask of a stopped task.
func PtraceSetSigmask(tid int, m uint64) error {
	return ptraceErr("ptrace setsigmask", tid, ptrace(unix.PTRACE_SETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m))))
}

// PtraceGetEventMsg returns the message of the last ptrace event (for
// example the new pid after PTRACE_EVENT_FORK).
func PtraceGetEventMsg(tid int) (uint64, error) {
	var m uint64
	err := ptrace(unix.PTRACE_GETEVENTMSG, tid, 0, uintptr(unsafe.Pointer(&m)))
	return m, ptraceErr("ptrace geteventmsg", tid, err)
}

// PtraceGetRseqConfig reads the rseq registration of a stopped task.
func PtraceGetRseqConfig(tid int) (RseqConfig, error) {
	var c RseqConfig
	err := ptrace(unix.PTRACE_GET_RSEQ_CONFIGURATION, tid, unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)))
	return c, ptraceErr("ptrace get_rseq_configuration", tid, err)
}

// Tgkill sends sig to thread tid of thread group tgid.
func Tgkill(tgid, tid int, sig int) error {
	return os.NewSyscallError("tgkill", unix.Tgkill(tgid, tid, unix.Signal(sig)))
}

// Kill sends sig to process pid.
func Kill(pid int, sig int) error {
	return os.NewSyscallError("kill", unix.Kill(pid, unix.Signal(sig)))
}

// sockFilterSize is sizeof(struct sock_filter), one classic BPF instruction.
const sockFilterSize = 8

// PtraceSeccompFilter returns the classic BPF program of seccomp filter
// index of a stopped task (0 is the newest), as struct sock_filter
// instructions. Past the oldest filter it fails with ENOENT.
func PtraceSeccompFilter(tid, index int) ([]byte, error) {
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), uintptr(index), 0, 0, 0)
	if e != 0 {
		return nil, ptraceErr("ptrace seccomp_get_filter", tid, e)
	}
	if n == 0 || n > bpfMaxInsns {
		return nil, fmt.Errorf("ptrace seccomp_get_filter %d: filter %d has %d instructions", tid, index, n)
	}
	buf := make([]byte, n*sockFilterSize)
	got, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), uintptr(index), uintptr(unsafe.Pointer(&buf[0])), 0, 0)
	if e != 0 {
		return nil, ptraceErr("ptrace seccomp_get_filter", tid, e)
	}
	if got != n {
		return nil, fmt.Errorf("ptrace seccomp_get_filter %d: filter %d changed size (%d, then %d)", tid, index, n, got)
	}
	return buf, nil
}

// bpfMaxInsns is BPF_MAXINSNS, the longest classic BPF program.
const bpfMaxInsns = 4096

// PtraceSeccompFlags returns the flags seccomp filter index of a stopped
// task was installed with that the kernel reports (SECCOMP_FILTER_FLAG_LOG).
func PtraceSeccompFlags(tid, index int) (uint64, error) {
	md := struct{ FilterOff, Flags uint64 }{FilterOff: uint64(index)}
	err := ptrace(unix.PTRACE_SECCOMP_GET_METADATA, tid, unsafe.Sizeof(md), uintptr(unsafe.Pointer(&md)))
	return md.Flags, ptraceErr("ptrace seccomp_get_metadata", tid, err)
}
