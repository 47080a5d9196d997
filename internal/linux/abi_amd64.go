package linux

import "golang.org/x/sys/unix"

// RseqConfig mirrors struct ptrace_rseq_configuration
// (include/uapi/linux/ptrace.h).
type RseqConfig struct {
	RseqAbiPointer uint64
	RseqAbiSize    uint32
	Signature      uint32
	Flags          uint32
	Pad            uint32
}

// CloneArgs mirrors struct clone_args, CLONE_ARGS_SIZE_VER2
// (include/uapi/linux/sched.h).
type CloneArgs struct {
	Flags      uint64
	Pidfd      uint64
	ChildTid   uint64
	ParentTid  uint64
	ExitSignal uint64
	Stack      uint64
	StackSize  uint64
	TLS        uint64
	SetTid     uint64
	SetTidSize uint64
	Cgroup     uint64
}

// PrctlMMMap mirrors struct prctl_mm_map (include/uapi/linux/prctl.h),
// the argument of prctl(PR_SET_MM, PR_SET_MM_MAP).
type PrctlMMMap struct {
	StartCode  uint64
	EndCode    uint64
	StartData  uint64
	EndData    uint64
	StartBrk   uint64
	Brk        uint64
	StartStack uint64
	ArgStart   uint64
	ArgEnd     uint64
	EnvStart   uint64
	EnvEnd     uint64
	Auxv       uint64 // pointer in the target
	AuxvSize   uint32
	ExeFd      uint32
}

// KernelSigaction mirrors the kernel's struct sigaction for
// rt_sigaction(2) on x86_64 (arch/x86/include/uapi/asm/signal.h), which
// differs from glibc's.
type KernelSigaction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// StackT mirrors stack_t (include/uapi/asm-generic/signal.h) for
// sigaltstack(2).
type StackT struct {
	SP    uint64
	Flags int32
	_     int32
	Size  uint64
}

// Rlimit64 mirrors struct rlimit64 for prlimit64(2).
type Rlimit64 struct {
	Cur uint64
	Max uint64
}

// Itimerval mirrors struct itimerval (two struct timeval) for
// getitimer/setitimer.
type Itimerval struct {
	IntervalSec  int64
	IntervalUsec int64
	ValueSec     int64
	ValueUsec    int64
}

// Itimerspec mirrors struct itimerspec (two struct timespec) for
// timer_gettime/timer_settime.
type Itimerspec struct {
	IntervalSec  int64
	IntervalNsec int64
	ValueSec     int64
	ValueNsec    int64
}

// Sigevent mirrors struct sigevent as timer_create reads it: the value
// passed to the handler, the signal, how to notify, and for
// SIGEV_THREAD_ID the thread.
type Sigevent struct {
	Value  uint64
	Signo  int32
	Notify int32
	Tid    int32
	_      [44]byte
}

// sigev_notify values (asm-generic/siginfo.h).
const (
	SigevSignal   = 0
	SigevNone     = 1
	SigevThread   = 2
	SigevThreadID = 4
)

// SockFprog mirrors struct sock_fprog, a classic BPF program for
// seccomp(SECCOMP_SET_MODE_FILTER).
type SockFprog struct {
	Len    uint16
	_      [6]byte
	Filter uint64
}

// Signal handler special values and flags (asm-generic/signal-defs.h,
// arch/x86/include/uapi/asm/signal.h).
const (
	SigDfl       = 0
	SigIgn       = 1
	SaRestorer   = 0x04000000
	SsDisable    = 2
	SsOnstack    = 1
	SsAutodisarm = 1 << 31
	NSig         = 64
	SIGKILL      = 9
	SIGSTOP      = 19
	SIGTRAP      = 5
	SIGCHLD      = 17
	SIGCONT      = 18
)

// clone(2) flags crlazy uses.
const (
	CloneParent  = unix.CLONE_PARENT
	CloneVM      = unix.CLONE_VM
	CloneFS      = unix.CLONE_FS
	CloneFiles   = unix.CLONE_FILES
	CloneSighand = unix.CLONE_SIGHAND
	CloneThread  = unix.CLONE_THREAD
	CloneSysvsem = unix.CLONE_SYSVSEM
)

// CapUserHeader and CapUserData mirror struct __user_cap_header_struct and
// __user_cap_data_struct (include/uapi/linux/capability.h); capset takes a
// header and two data structs (version 3: 64 capability bits).
type CapUserHeader struct {
	Version uint32
	Pid     int32
}

// CapUserData is one 32-bit half of the three capability sets.
type CapUserData struct {
	Effective   uint32
	Permitted   uint32
	Inheritable uint32
}

// CapVersion3 is _LINUX_CAPABILITY_VERSION_3.
const CapVersion3 = 0x20080522

// SecbitKeepCaps is SECBIT_KEEP_CAPS (include/uapi/linux/securebits.h).
const SecbitKeepCaps = 1 << 4
