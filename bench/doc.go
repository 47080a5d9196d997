// Bench measures crlazy against the limits of the machine it runs on and
// prints a report (as root, from the repository):
//
//	go run ./bench [--sizes 256M,1G,4G] [--runs 3] [--quick] [--out DIR] [--criu PATH]
//
// It prints one Markdown table to stdout (and a progress line to stderr);
// with --out it also writes report.md, results.json and three SVG charts
// (restore time against memory size, the fault latency distribution,
// each stage's throughput against its limit). It never judges a number:
// it reports. The Go benchmarks beside it (BenchmarkEager, BenchmarkLazy,
// BenchmarkMountRead, BenchmarkPageServer) measure single paths with
// `go test -bench`.
//
// # Workloads
//
// Every workload runs testdata/victims/bench_touch.c: a tree of processes
// (1, or 16) of threads (1, or 8) whose memory holds random words with 50%
// zero pages, re-reading 10% of it (its working set) forever and checking
// every word. The sizes of --sizes run as one process with one thread;
// then 8 threads, and 16 processes, share 256 MiB. A restored victim
// proves it continued: its first pass after the restore reads and checks
// every page of its working set, and it prints how long each first read
// took (a read that waited 2 µs or more waited for its page).
//
// # A cycle
//
// One cycle of a workload, repeated --runs times after one warm-up cycle
// (figures are the median with min and max):
//
//  1. start the victim; process_vm_readv its memory (the dump's limit);
//  2. dump with --leave-running into a local store; dump again to a
//     `crlazy page-server` on loopback (which kills the victim);
//  3. read the store's files back (the FUSE read's limit), and
//     process_vm_writev the dumped bytes into fresh memory of a stub
//     (the eager restore's limit);
//  4. `crlazy mount` the store and read the root's memory file;
//  5. restore: eagerly; lazily and eagerly from the page server; lazily
//     from the store, which records a working set; lazily again with it.
//     Each restore runs detached; a lazy one is over when its handler logs
//     "all pages in" (the log also gives fault counts and service times).
//
// # Limits
//
// Measured in the same run, so that every figure is also shown as a
// fraction of its limit: memcpy; process_vm_readv and process_vm_writev;
// UFFDIO_COPY in 4 KiB, 128 KiB and 2 MiB copies; the round trip of a
// userfaultfd fault served by a goroutine of this process (the fastest a
// fault can be served here); loopback TCP throughput and round trip; the
// restore of a 1 MiB process (the fixed cost, which a lazy restore's time
// to running can only approach). A fraction is value/limit for a rate and
// limit/value for a time, so 1.00 is at the limit either way.
//
// # Cleaning up
//
// The benchmark is a child subreaper: restored processes and crlazy's
// background helpers end up its children, and it reaps them. It kills
// what it started by PID (a victim only if /proc/PID/exe is still its
// binary), unmounts its mounts and removes its work directory, also on
// SIGINT and SIGTERM. A run that was killed outright leaves a work
// directory whose owner file names a dead process; the next run removes
// it, killing the processes that run binaries from it.
//
// # Tests
//
// TestQuick runs the command with --quick (about 10-60 s) and checks the
// report's structure, never a time; $BENCH_CRLAZY names a crlazy binary to
// use instead of building ./cmd/crlazy. bench/latest holds the charts of
// the run the README shows.
//
// # This VM
//
// Memory freed and allocated again is slow to touch (the host reclaims
// freed guest pages), and absolute numbers swing by 2x from run to run: the
// warm-up cycle pays for the first, and the fractions of limits measured
// in the same run, cycle by cycle where they depend on the memory, make
// the second readable.
package main
