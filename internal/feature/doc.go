// Package feature finds out which kernel features crlazy needs are usable
// on this machine, for `crlazy check` and for commands that want to fail
// early with a clear reason.
//
// # Probes
//
// Each Probe does the real thing on a small scale instead of reading
// config files: the ptrace probe seizes a stub process and injects a
// system call, the clone3 probe makes a stub fork a child with a chosen
// pid, the userfaultfd probe registers a page of this process, and so on.
// A probe runs at most once per process (sync.OnceValue); its Result is
// cached, like cilium/ebpf's feature tests.
//
// # Error handling
//
// A probe that fails gives a Result with OK false and the reason in
// Detail; Probe.Err turns it into a *MissingError, which matches
// ErrMissing with errors.Is and unwraps to the underlying error (an errno
// usually). Probes never panic and leave nothing behind: every stub and
// child they start is killed and reaped, every descriptor and mapping
// they make is released before they return.
//
// # Uses
//
// Every probe names the crlazy operations that need it (UseDump,
// UseRestore, UseLazyPages, ...). A Report groups the results by use;
// dump and restore are the operations crlazy cannot do without, the
// others are optional. A probe needed by nothing (soft-dirty) is shown
// for information.
package feature
