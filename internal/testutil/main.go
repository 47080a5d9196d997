package testutil

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from include/uapi/linux/prctl.h.
const prSetChildSubreaper = 36

// BecomeSubreaper makes the calling process a child subreaper: orphaned
// descendants (a restored process whose restorer exited) are reparented to
// it instead of PID 1, so that Adopt can reap them at once. The attribute
// belongs to the whole process and lasts until it exits.
//
// It uses the syscall package directly: testutil may not import
// golang.org/x/sys/unix (only internal/linux may), and importing
// internal/linux would make a cycle with that package's own tests.
func BecomeSubreaper() error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return os.NewSyscallError("prctl PR_SET_CHILD_SUBREAPER", errno)
	}
	return nil
}

// Main runs the tests of a package that uses this one, from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
//
// It makes the test binary a child subreaper, runs m, removes the build
// directory of BuildVictim and BuildCrlazy, and returns m.Run's exit code.
func Main(m *testing.M) int {
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintf(os.Stderr, "testutil: %v (orphaned restored processes go to PID 1)\n", err)
	}
	code := m.Run()
	if err := RemoveBuildCache(); err != nil {
		fmt.Fprintf(os.Stderr, "testutil: %v\n", err)
	}
	return code
}
