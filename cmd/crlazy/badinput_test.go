package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
)

// goneProcess returns the pid of a process that existed and is reaped.
func goneProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitGone(t, cmd.Process.Pid, lineTimeout)
	return cmd.Process.Pid
}

// checkNoStubs fails if a restore left a stub process behind: one that
// crlazy started and that, crlazy gone, was reparented to this test binary
// (a subreaper). Stubs of other test binaries running alongside are not
// ours to judge.
func checkNoStubs(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || !strings.Contains(exe, "crlazy-stub") {
			continue
		}
		if st, err := proc.ReadStat(pid); err == nil && st.PPid == os.Getpid() {
			t.Errorf("stub process %d left behind", pid)
		}
	}
}

// wantFailure checks a crlazy run failed with a message matching re.
func wantFailure(t *testing.T, out string, code int, re string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("crlazy succeeded; want failure matching %q; output:\n%s", re, out)
	}
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("crlazy failed with %q; want a message matching %q", out, re)
	}
}

func TestDumpMissingPid(t *testing.T) {
	testutil.RequirePriv(t)
	pid := goneProcess(t)
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", filepath.Join(t.TempDir(), "img"))
	wantFailure(t, out, code, `dump pid \d+: no such process`)
}

func TestDumpUsage(t *testing.T) {
	out, code := crlazy(t, "dump", "-D", t.TempDir())
	if code != 2 || !strings.Contains(out, "-t PID") {
		t.Errorf("dump without -t: exit %d, %q", code, out)
	}
	out, code = crlazy(t, "dump", "-t", "1", "-D", t.TempDir(), "--track-mem")
	wantFailure(t, out, code, `--track-mem is not supported yet`)
}

func TestRestoreBadDirs(t *testing.T) {
	testutil.RequirePriv(t)
	empty := t.TempDir()
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	criu := t.TempDir()
	if err := os.WriteFile(filepath.Join(criu, "core-42.img"), []byte{0x54, 0x4e, 0x15, 0x55}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, dir, want string }{
		{"missing", filepath.Join(empty, "nope"), `no such file or directory`},
		{"empty", empty, `not a crlazy store`},
		{"junk", junk, `not a crlazy store`},
		{"criu", criu, `CRIU`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code := crlazy(t, "restore", "-D", c.dir)
			wantFailure(t, out, code, c.want)
		})
	}
	checkNoStubs(t)
}

// damagedStore dumps a small memcount and returns the victim (dead now)
// and the store.
func damagedStore(t *testing.T) (*testutil.Victim, string) {
	t.Helper()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "memcount"), "4")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	v.WaitLine(t, tickRe, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	return v, dir
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "img")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestRestoreDamagedStore truncates or flips bytes in each file of a store.
// Restore must either fail with a message and leave nothing behind, or, if
// the damage hit bytes badger never reads, restore a process whose memory
// is intact.
func TestRestoreDamagedStore(t *testing.T) {
	testutil.RequirePriv(t)
	v, good := damagedStore(t)
	files, err := os.ReadDir(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		size := info.Size()
		damages := map[string]func(string) error{
			"truncated": func(p string) error { return os.Truncate(p, size/2) },
			"empty":     func(p string) error { return os.Truncate(p, 0) },
		}
		for _, frac := range []int64{0, 1, 3, 7} {
			off := size * frac / 8
			damages[fmt.Sprintf("flip@%d", off)] = func(p string) error { return flipByte(p, off) }
		}
		for name, damage := range damages {
			t.Run(f.Name()+"/"+name, func(t *testing.T) {
				dir := copyDir(t, good)
				if err := damage(filepath.Join(dir, f.Name())); err != nil {
					t.Fatal(err)
				}
				restoreDamaged(t, dir, v)
			})
		}
	}
}

func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0x5a
	_, err = f.WriteAt(b, off)
	return err
}

func restoreDamaged(t *testing.T, dir string, v *testutil.Victim) {
	t.Helper()
	out, code := crlazy(t, "restore", "-D", dir, "-d")
	if code != 0 {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.HasPrefix(lines[len(lines)-1], "crlazy restore: restore from ") || len(lines) > 1 {
			t.Errorf("restore of a damaged store failed with %q", out)
		}
		testutil.CheckNoLeftovers(t, v.Pid)
		checkNoStubs(t)
		return
	}
	// Restored: the damage must have hit bytes badger does not use. The
	// victim checks all of its memory on SIGUSR1 (WaitLine fails on FAIL).
	testutil.Adopt(t, v.Pid)
	t.Logf("damage was harmless; checking the restored memory")
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^full \d+ [0-9a-f]{16} \d+$`), lineTimeout)
}
