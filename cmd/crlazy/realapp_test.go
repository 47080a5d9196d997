package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestTailFollow restores coreutils `tail -f`, which sleeps in poll(2)
// with a timeout on its inotify descriptor and its output: the poll must
// go on after restore (tail stops on EINTR) and the inotify watch must
// still report what is appended to the file.
func TestTailFollow(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		path := filepath.Join(t.TempDir(), "followed")
		if err := os.WriteFile(path, []byte("line 0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		v := testutil.StartVictim(t, "tail", "-n", "+1", "-f", path)
		v.WaitLine(t, regexp.MustCompile(`^line 0$`), lineTimeout)
		checkpoint(t, v)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("line 1\n"); err != nil {
			t.Fatal(err)
		}
		if m := v.WaitLine(t, regexp.MustCompile(`^(line 1|.*error.*)$`), lineTimeout); m[0] != "line 1" {
			t.Fatalf("restored tail -f printed %q instead of the appended line", m[0])
		}
	})
}
