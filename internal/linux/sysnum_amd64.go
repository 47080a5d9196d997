package linux

import "golang.org/x/sys/unix"

// Syscall numbers crlazy injects into targets (x86_64).
const (
	SysRead              = unix.SYS_READ
	SysWrite             = unix.SYS_WRITE
	SysClose             = unix.SYS_CLOSE
	SysLseek             = unix.SYS_LSEEK
	SysMmap              = unix.SYS_MMAP
	SysMprotect          = unix.SYS_MPROTECT
	SysMunmap            = unix.SYS_MUNMAP
	SysRtSigaction       = unix.SYS_RT_SIGACTION
	SysRtSigprocmask     = unix.SYS_RT_SIGPROCMASK
	SysIoctl             = unix.SYS_IOCTL
	SysMremap            = unix.SYS_MREMAP
	SysMadvise           = unix.SYS_MADVISE
	SysDup               = unix.SYS_DUP
	SysGetpid            = unix.SYS_GETPID
	SysExit              = unix.SYS_EXIT
	SysKill              = unix.SYS_KILL
	SysFcntl             = unix.SYS_FCNTL
	SysChdir             = unix.SYS_CHDIR
	SysFchdir            = unix.SYS_FCHDIR
	SysUmask             = unix.SYS_UMASK
	SysGetitimer         = unix.SYS_GETITIMER
	SysSetitimer         = unix.SYS_SETITIMER
	SysSetpgid           = unix.SYS_SETPGID
	SysSetsid            = unix.SYS_SETSID
	SysSetgroups         = unix.SYS_SETGROUPS
	SysSetresuid         = unix.SYS_SETRESUID
	SysSetresgid         = unix.SYS_SETRESGID
	SysSetfsuid          = unix.SYS_SETFSUID
	SysSetfsgid          = unix.SYS_SETFSGID
	SysCapget            = unix.SYS_CAPGET
	SysCapset            = unix.SYS_CAPSET
	SysSigaltstack       = unix.SYS_SIGALTSTACK
	SysPersonality       = unix.SYS_PERSONALITY
	SysPrctl             = unix.SYS_PRCTL
	SysArchPrctl         = unix.SYS_ARCH_PRCTL
	SysChroot            = unix.SYS_CHROOT
	SysMlock             = unix.SYS_MLOCK
	SysMlock2            = unix.SYS_MLOCK2
	SysSetTidAddress     = unix.SYS_SET_TID_ADDRESS
	SysExitGroup         = unix.SYS_EXIT_GROUP
	SysOpenat            = unix.SYS_OPENAT
	SysSetRobustList     = unix.SYS_SET_ROBUST_LIST
	SysDup3              = unix.SYS_DUP3
	SysPrlimit64         = unix.SYS_PRLIMIT64
	SysUserfaultfd       = unix.SYS_USERFAULTFD
	SysRseq              = unix.SYS_RSEQ
	SysPidfdOpen         = unix.SYS_PIDFD_OPEN
	SysClone3            = unix.SYS_CLONE3
	SysCloseRange        = unix.SYS_CLOSE_RANGE
	SysPidfdGetfd        = unix.SYS_PIDFD_GETFD
	SysNanosleep         = unix.SYS_NANOSLEEP
	SysClockNanosleep    = unix.SYS_CLOCK_NANOSLEEP
	SysPoll              = unix.SYS_POLL
	SysFutex             = unix.SYS_FUTEX
	SysRestartSyscall    = unix.SYS_RESTART_SYSCALL
	SysPause             = unix.SYS_PAUSE
	SysBrk               = unix.SYS_BRK
	SysSetpriority       = unix.SYS_SETPRIORITY
	SysRtSigqueueinfo    = unix.SYS_RT_SIGQUEUEINFO
	SysRtSigtimedwait    = unix.SYS_RT_SIGTIMEDWAIT
	SysWait4             = unix.SYS_WAIT4
	SysSchedSetscheduler = unix.SYS_SCHED_SETSCHEDULER
	SysTimerCreate       = unix.SYS_TIMER_CREATE
	SysTimerSettime      = unix.SYS_TIMER_SETTIME
	SysTimerGettime      = unix.SYS_TIMER_GETTIME
	SysTimerGetoverrun   = unix.SYS_TIMER_GETOVERRUN
	SysSeccomp           = unix.SYS_SECCOMP
	SysRtTgsigqueueinfo  = unix.SYS_RT_TGSIGQUEUEINFO
)

// mmap, mprotect and madvise flags.
const (
	ProtNone  = unix.PROT_NONE
	ProtRead  = unix.PROT_READ
	ProtWrite = unix.PROT_WRITE
	ProtExec  = unix.PROT_EXEC

	MapShared         = unix.MAP_SHARED
	MapPrivate        = unix.MAP_PRIVATE
	MapFixed          = unix.MAP_FIXED
	MapAnonymous      = unix.MAP_ANONYMOUS
	MapGrowsdown      = unix.MAP_GROWSDOWN
	MapNoreserve      = unix.MAP_NORESERVE
	MapLocked         = unix.MAP_LOCKED
	MlockOnfault      = unix.MLOCK_ONFAULT
	MapFixedNoreplace = unix.MAP_FIXED_NOREPLACE

	MremapMaymove = unix.MREMAP_MAYMOVE
	MremapFixed   = unix.MREMAP_FIXED

	MadvDontfork   = unix.MADV_DONTFORK
	MadvDontdump   = unix.MADV_DONTDUMP
	MadvHugepage   = unix.MADV_HUGEPAGE
	MadvNohugepage = unix.MADV_NOHUGEPAGE
	MadvWipeonfork = unix.MADV_WIPEONFORK
	MadvMergeable  = unix.MADV_MERGEABLE
)

// open(2) flags and others used in targets.
const (
	OAccmode   = unix.O_ACCMODE
	ORdonly    = unix.O_RDONLY
	OWronly    = unix.O_WRONLY
	ORdwr      = unix.O_RDWR
	OCreat     = unix.O_CREAT
	OExcl      = unix.O_EXCL
	ONoctty    = unix.O_NOCTTY
	OTrunc     = unix.O_TRUNC
	OAppend    = unix.O_APPEND
	ONonblock  = unix.O_NONBLOCK
	ODirectory = unix.O_DIRECTORY
	OCloexec   = unix.O_CLOEXEC
	OPath      = unix.O_PATH
	OLargefile = 0x8000 // O_LARGEFILE on x86_64, shown in fdinfo flags
	ATFdcwd    = unix.AT_FDCWD
	SeekSet    = unix.SEEK_SET
	FSetfd     = unix.F_SETFD
	FdCloexec  = unix.FD_CLOEXEC
)

// prctl options injected into targets.
const (
	PrSetPdeathsig      = unix.PR_SET_PDEATHSIG
	PrGetPdeathsig      = unix.PR_GET_PDEATHSIG
	PrGetDumpable       = unix.PR_GET_DUMPABLE
	PrSetDumpable       = unix.PR_SET_DUMPABLE
	PrSetName           = unix.PR_SET_NAME
	PrGetNoNewPrivs     = unix.PR_GET_NO_NEW_PRIVS
	PrSetNoNewPrivs     = unix.PR_SET_NO_NEW_PRIVS
	PrGetThpDisable     = unix.PR_GET_THP_DISABLE
	PrSetThpDisable     = unix.PR_SET_THP_DISABLE
	PrGetTidAddress     = unix.PR_GET_TID_ADDRESS
	PrSetMM             = unix.PR_SET_MM
	PrSetMMMap          = unix.PR_SET_MM_MAP
	PrSetMMMapSize      = unix.PR_SET_MM_MAP_SIZE
	PrGetChildSubreaper = unix.PR_GET_CHILD_SUBREAPER
	PrSetChildSubreaper = unix.PR_SET_CHILD_SUBREAPER
	PrGetSecurebits     = unix.PR_GET_SECUREBITS
	PrSetSecurebits     = unix.PR_SET_SECUREBITS
	PrSetKeepcaps       = unix.PR_SET_KEEPCAPS
	PrSetSeccomp        = unix.PR_SET_SECCOMP
	// PR_TIMER_CREATE_RESTORE_IDS makes timer_create take the timer id
	// to create from *created_timer_id (EBUSY if taken), while on.
	PrTimerCreateRestoreIds    = unix.PR_TIMER_CREATE_RESTORE_IDS
	PrTimerCreateRestoreIdsOn  = unix.PR_TIMER_CREATE_RESTORE_IDS_ON
	PrTimerCreateRestoreIdsOff = unix.PR_TIMER_CREATE_RESTORE_IDS_OFF
	SeccompModeStrict          = unix.SECCOMP_MODE_STRICT
	SeccompModeFilter          = unix.SECCOMP_MODE_FILTER
	SeccompSetModeFilter       = unix.SECCOMP_SET_MODE_FILTER
	PrCapbsetDrop              = unix.PR_CAPBSET_DROP
	PrCapAmbient               = unix.PR_CAP_AMBIENT
	PrCapAmbientRaise          = unix.PR_CAP_AMBIENT_RAISE
	PrCapAmbientClear          = unix.PR_CAP_AMBIENT_CLEAR_ALL
	ArchMapVdso64              = 0x2003 // ARCH_MAP_VDSO_64, arch/x86/include/uapi/asm/prctl.h
)
