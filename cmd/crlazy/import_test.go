package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestImportRestore dumps memcount, copies the criu/ view out of the
// mount, imports it into a new store and restores from that: the
// counter goes on and the memory checksum is the one memcount expects.
func TestImportRestore(t *testing.T) {
	testutil.RequirePriv(t)
	mib := "64"
	if testing.Short() {
		mib = "16"
	}
	bin := testutil.BuildVictim(t, "memcount")
	v := testutil.StartVictim(t, bin, mib)
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := v.WaitLine(t, tickRe, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	mnt, _ := mountStore(t, dir)
	criuDir := copyDir(t, filepath.Join(mnt, "criu"))
	mustCrlazy(t, "umount", mnt)
	imported := filepath.Join(t.TempDir(), "imported")
	mustCrlazy(t, "import", "--from-criu", criuDir, "-D", imported)
	if pid := restore(t, imported); pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	after := v.WaitLine(t, tickRe, lineTimeout)
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("counter went from %s to %s", before[1], after[1])
	}
	if want := mustExpect(t, bin, after[1], mib); after[2] != want {
		t.Errorf("checksum at counter %s = %s, want %s", after[1], after[2], want)
	}
}

// TestMountImportBadInput checks usage errors and refusals that need no
// privilege: nothing is mounted or unmounted that is not crlazy's.
func TestMountImportBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import", "-D", t.TempDir()}, 2, "--from-criu"},
		{[]string{"import", "--from-criu", t.TempDir(), "-D", filepath.Join(t.TempDir(), "s")}, 1, "not a CRIU image directory"},
		{[]string{"mount", "-D", t.TempDir()}, 2, "MOUNTPOINT"},
		{[]string{"mount", "-D", t.TempDir(), "a", "b"}, 2, "MOUNTPOINT"},
		{[]string{"umount"}, 2, "MOUNTPOINT"},
		{[]string{"umount", "/"}, 1, "no crlazy mount there"},
		{[]string{"mount", "--foreground", "-D", t.TempDir(), t.TempDir()}, 1, "not a crlazy store"},
	} {
		out, code := crlazy(t, c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("crlazy %s: exit %d, output %q; want exit %d and %q", strings.Join(c.args, " "), code, out, c.code, c.want)
		}
	}
}
