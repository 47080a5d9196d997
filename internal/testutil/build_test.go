package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	for _, p := range []string{"go.mod", victimsDir + "/victim.h"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("repo root %s: %v", root, err)
		}
	}
}

func TestBuildVictimOnce(t *testing.T) {
	p1 := BuildVictim(t, "memcount")
	fi, err := os.Stat(p1)
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("victim binary %s: %v, mode %v", p1, err, fi.Mode())
	}
	if p2 := BuildVictim(t, "memcount"); p2 != p1 {
		t.Fatalf("second BuildVictim = %s, want the cached %s", p2, p1)
	}
	if after, _ := os.Stat(p1); !after.ModTime().Equal(fi.ModTime()) {
		t.Fatal("second BuildVictim rebuilt the victim")
	}
}

func TestBuildVictimRejectsPaths(t *testing.T) {
	for _, name := range []string{"../x", "a/b", ".hidden", ""} {
		if f := runFake(func(tb testing.TB) { BuildVictim(tb, name) }); !f.failed {
			t.Errorf("BuildVictim(%q) did not fail", name)
		}
	}
}

// TestVictimsCompileCleanly keeps the victims free of warnings, even the
// ones -Wall leaves out, so that real problems stand out in build output.
func TestVictimsCompileCleanly(t *testing.T) {
	cc := CC(t)
	srcs, err := filepath.Glob(filepath.Join(RepoRoot(t), victimsDir, "*.c"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no victims found: %v", err)
	}
	for _, src := range srcs {
		cmd := exec.Command(cc, "-fsyntax-only", "-O2", "-Wall", "-Wextra", "-Werror", src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", filepath.Base(src), err, out)
		}
	}
}

func TestBuildCrlazy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the crlazy binary; skipped with -short")
	}
	if gos, _ := filepath.Glob(filepath.Join(RepoRoot(t), "cmd", "crlazy", "*.go")); len(gos) == 0 {
		t.Skip("cmd/crlazy has no Go files yet")
	}
	p := BuildCrlazy(t)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("crlazy binary %s: %v", p, err)
	}
}

func TestCacheOwner(t *testing.T) {
	for name, want := range map[string]int{
		"crlazy-testutil-123-456789": 123,
		"crlazy-testutil-x-1":        0,
		"crlazy-testutil-123":        0,
		"other-123-4":                0,
	} {
		if pid, ok := cacheOwner(name); pid != want || ok != (want != 0) {
			t.Errorf("cacheOwner(%q) = %d, %v; want %d", name, pid, ok, want)
		}
	}
}

func TestSweepStaleCaches(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-2 * staleCacheAge)
	mk := func(pid int, mtime time.Time) string {
		d := filepath.Join(tmp, cachePrefix+strconv.Itoa(pid)+"-1")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(d, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return d
	}
	const deadPid = 1 << 30 // above the kernel's PID_MAX_LIMIT
	deadOld, deadNew, liveOld := mk(deadPid, old), mk(deadPid+1, time.Now()), mk(os.Getpid(), old)
	sweepStaleCaches(time.Now())
	for d, keep := range map[string]bool{deadOld: false, deadNew: true, liveOld: true} {
		if _, err := os.Stat(d); (err == nil) != keep {
			t.Errorf("%s: kept=%v, want %v", filepath.Base(d), err == nil, keep)
		}
	}
}
