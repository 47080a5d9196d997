// Package testutil is the shared kit of crlazy's privileged end-to-end tests:
// privilege and feature gates, the C victims under testdata/victims, the
// crlazy binary, and the bookkeeping of the processes a test creates.
//
// # Tiers
//
// A test that needs root, ptrace or PID control calls [RequirePriv] first; one
// that needs a kernel feature calls [RequireFeature] with the result of a
// probe. Both skip the test with the reason, unless the environment variable
// CRLAZY_REQUIRE_PRIV is "1" (as in .ci/run): then they fail it, so that CI
// cannot pass by skipping. A missing C compiler is treated the same way.
//
// # Victims
//
// [BuildVictim] compiles testdata/victims/NAME.c with the system's cc
// (-O2 -g -Wall) once per test binary; [BuildCrlazy] builds ./cmd/crlazy once.
// Both put their output in one directory under os.TempDir(), named after the
// test binary's PID, that [Main] removes when the tests end (a directory left
// by a dead binary is removed by a later one once it is old). Each victim
// prints one line per event, starting with a keyword, and prints a line
// starting with FAIL when it finds its own state corrupted; the formats are
// in the comment at the top of each .c file.
//
// [StartVictim] runs a victim as a child of the test, in its own process
// group, with stdin /dev/null and stdout and stderr appended to one file that
// [Victim.WaitLine] polls. A restored victim reopens that file and keeps
// appending to it, so WaitLine works the same before a dump and after a
// restore.
//
// # Process lifetimes
//
// The kernel's PID allocation shapes the order of a test: a killed process
// holds its PID until its parent reaps it, and a restore that needs the same
// PID fails until then. The test binary reaps its own victims as soon as they
// exit; [Victim.Reap] returns once the dumped victim's /proc entry is gone, so
// the restore can follow. A restored process is not a child started by exec:
// [Adopt] kills and reaps it at the end of the test. With [BecomeSubreaper]
// (called by [Main]), restored processes whose parent exits are reparented to
// the test binary, so they can be reaped at once rather than late by PID 1.
//
// Every wait here polls a condition against a deadline (every
// pollInterval); none sleeps a fixed time to wait for readiness.
//
// # Error handling
//
// Helpers that take a testing.TB report problems through it (Fatal from the
// test's goroutine, Error in cleanups) and never panic.
package testutil
