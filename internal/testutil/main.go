package testutil

import (
	"fmt"
	"os"
	"testing"

	"github.com/crlazy/crlazy/internal/linux"
)

// BecomeSubreaper makes the calling process a child subreaper: orphaned
// descendants (a restored process whose restorer exited) are reparented to
// it instead of PID 1, so that Adopt can reap them at once. The attribute
// belongs to the whole process and lasts until it exits.
func BecomeSubreaper() error { return linux.SetChildSubreaper() }

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
