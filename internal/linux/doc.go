// Package linux is crlazy's only door to the kernel: thin wrappers over
// golang.org/x/sys/unix and raw syscalls, and the hand-declared ABI structs
// that x/sys lacks (clone_args, prctl_mm_map, the kernel's sigaction,
// rseq configuration, ...).
//
// # Rules
//
//   - No other package imports golang.org/x/sys/unix. Feature packages call
//     the functions here and get errors that wrap unix.Errno, so that
//     errors.Is(err, unix.ESRCH)-style checks work through the exported
//     Errno constants of this package.
//   - Every ABI struct is declared with the kernel's field names, explicit
//     padding and the uapi header it mirrors, and has a size test.
//   - Wrappers retry EINTR where the kernel may return it and wrap errors
//     with os.NewSyscallError so that the syscall name is in the message.
//   - Remote (target) addresses are Addr, never bare uintptr; arithmetic on
//     them is overflow-checked.
//
// # Threads
//
// ptrace requests are only valid from the thread that attached. This
// package does not enforce that; package inject funnels every request
// through one locked OS thread.
package linux
