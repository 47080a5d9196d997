// Package dumper checkpoints a running process into an image store.
//
// # Sequence
//
//  1. Look at the process from /proc without touching it: it must exist,
//     be a process (not a thread), and be of a shape this version handles.
//  2. Seize and interrupt it (package inject). From here it does not run.
//  3. Inspect its descriptors and memory areas; anything unsupported is
//     refused with an UnsupportedError naming it, and the process is
//     released untouched.
//  4. Collect state: registers and xstate by ptrace; creds, limits, fds,
//     mappings from /proc; signal actions, the alternate signal stack,
//     itimers, brk and prctl values by injected system calls run from a
//     scratch mapping that is removed again before memory is read.
//  5. Write records (CRIU's image schema) and pages (chunks of non-zero
//     pages; zero runs are recorded in the pagemap only) into a new store.
//  6. Commit the store, then kill the process (still stopped, so it never
//     runs past the checkpoint) or, with LeaveRunning, let it go.
//
// # Error handling
//
// Any failure before the commit releases the process as it was and
// removes the partial store. Errors name the pid and what was being
// saved: "dump pid 4242: fd 3 (socket:[123]): sockets are not supported yet".
//
// # Pages
//
// Pages are read with process_vm_readv in batches of up to readBatchBytes
// from up to 1024 ranges, checked for zero page by page, cut into chunks of
// at most images.ChunkMaxBytes of contiguous non-zero pages, and handed to
// the store writer, which owns them from then on. Reading and writing
// overlap: a reader goroutine fills batches while the writer stores the
// previous one.
package dumper
