// Package inject drives a stopped process from the outside: a
// parasite-free counterpart of CRIU's libcompel. Nothing of ours ever runs
// inside the target; every action is a system call the target executes on
// our behalf, one instruction at a time, under ptrace.
//
// # Protocol
//
// A Tracer owns one locked OS thread that issues every ptrace request and
// every wait4, because the kernel only accepts ptrace requests from the
// thread that attached. Seize attaches with PTRACE_SEIZE, stops the task
// with PTRACE_INTERRUPT, saves its registers and signal mask and blocks
// every signal so that no handler runs while we work (signals that arrive
// stay pending and are delivered after Detach).
//
// Syscall runs one system call inside the task: registers are set so that
// rip points at a `syscall` instruction, rax holds the number, rdi, rsi,
// rdx, r10, r8, r9 the arguments and orig_rax is -1 (so the kernel applies
// no restart fix-up to the injected call), then PTRACE_SINGLESTEP executes
// exactly that instruction and rax is read back. The instruction comes
// from the interrupted syscall site (rip-2), the vDSO, or a scratch page
// we map and fill with `syscall; int3`.
//
// Arguments that are structs or strings go through scratch memory mapped
// inside the target (MapScratch), written with process_vm_writev.
//
// # Error handling
//
// Every method returns errors naming the task and the system call. A task
// that dies under us gives ErrTargetGone. Restore puts back the registers
// and mask saved at Seize; Detach lets the task go; Kill ends it while
// still stopped, so it never runs past the point we saw.
//
// # Costs
//
// One injected system call costs about 25-60 µs here (two context
// switches and a single-step trap); callers batch work into few calls.
package inject
