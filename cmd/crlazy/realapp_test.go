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
	"time"

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

// TestPythonMultiprocessing restores a Python multiprocessing pool: three
// processes joined by pipes (multiprocessing.Queue, with its feeder
// threads), a counter in shared memory and the semaphores that guard it,
// both in files of /dev/shm that Python deleted after mapping them (and
// opened O_NOFOLLOW). The workers must go on serving the parent, and the
// shared counter must still count every item the workers handled.
func TestPythonMultiprocessing(t *testing.T) {
	testutil.RequirePriv(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	script := filepath.Join(t.TempDir(), "pool.py")
	src := `import multiprocessing as mp, time
def worker(q, r, v):
    while True:
        x = q.get()
        with v.get_lock():
            v.value += 1
        r.put(x * 2)
if __name__ == "__main__":
    q, r, v = mp.Queue(), mp.Queue(), mp.Value("i", 0)
    for _ in range(2):
        mp.Process(target=worker, args=(q, r, v), daemon=True).start()
    i = 0
    while True:
        q.put(i)
        ok = r.get() == 2 * i
        i += 1
        if i % 20 == 0:
            with v.get_lock():
                print("items", i, "counted", v.value, "ok" if ok else "FAIL", flush=True)
        time.sleep(0.005)
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, py, script)
		line := regexp.MustCompile(`^items (\d+) counted (\d+) (ok|FAIL)$`)
		before := v.WaitLine(t, line, lineTimeout)
		checkpoint(t, v)
		for range 3 {
			m := v.WaitLine(t, line, lineTimeout)
			if m[1] != m[2] || m[3] != "ok" || atoi(t, m[1]) <= atoi(t, before[1]) {
				t.Fatalf("after restore: %q (before: %q)", m[0], before[0])
			}
		}
	})
}

// TestRestoreWaitsForZombies: right after a dump, the killed tree's
// children may still be zombies that their new parent (init, or here the
// test binary, a subreaper) has not reaped yet. A restore started then
// waits for them instead of failing on their pids.
func TestRestoreWaitsForZombies(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, "/bin/sh", "-c", "sleep 1000 & echo started $!; wait")
	m := v.WaitLine(t, regexp.MustCompile(`^started (\d+)$`), lineTimeout)
	child := atoi(t, m[1])
	dir := filepath.Join(t.TempDir(), "img")
	if out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, out)
	}
	v.Reap(t)
	reaped := make(chan error, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(child, &ws, 0, nil)
		reaped <- err
	}()
	if pid := restore(t, dir); pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	if err := <-reaped; err != nil {
		t.Fatalf("reap the dumped child %d: %v", child, err)
	}
	testutil.CheckRunning(t, child)
}

// TestManyMappings restores a process with 20000 mappings and 1000
// descriptors, eagerly and lazily (whose userfaultfd registration once ran
// out of scratch memory past ~1900 areas).
func TestManyMappings(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "manymaps"), "20000", "1000")
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		tick := regexp.MustCompile(`^tick (\d+) (\d+)$`)
		before := v.WaitLine(t, tick, lineTimeout)
		checkpoint(t, v)
		after := v.WaitLine(t, tick, lineTimeout)
		if atoi(t, after[1]) <= atoi(t, before[1]) || after[2] != "10000" {
			t.Fatalf("after restore %q, before %q", after[0], before[0])
		}
	})
}

// TestDeletedExecutable restores a process whose executable was deleted
// while it ran (as an upgrade replaces a daemon's binary): the file comes
// back as a ghost, the process's exe link and text mappings point to it
// ("name (deleted)"), and it runs on.
func TestDeletedExecutable(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		exe := filepath.Join(t.TempDir(), "memcount-copy")
		b, err := os.ReadFile(testutil.BuildVictim(t, "memcount"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe, b, 0o755); err != nil {
			t.Fatal(err)
		}
		v := testutil.StartVictim(t, exe, "16")
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		if err := os.Remove(exe); err != nil {
			t.Fatal(err)
		}
		before := v.WaitLine(t, tickRe, lineTimeout)
		checkpoint(t, v)
		after := v.WaitLine(t, tickRe, lineTimeout)
		if atoi(t, after[1]) <= atoi(t, before[1]) {
			t.Fatalf("counter went from %s to %s", before[1], after[1])
		}
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", v.Pid))
		if err != nil || link != exe+" (deleted)" {
			t.Fatalf("restored exe link %q (%v), want %q", link, err, exe+" (deleted)")
		}
	})
}

// TestRestoreGroupLeaderGone: the dumped process is in a process group
// (and session) whose leader exited while another process outside the
// dump still belongs to it, so that its pid is in use but no process has
// it. The restore cannot recreate the group; it warns and restores the
// process in crlazy's own group instead of failing.
func TestRestoreGroupLeaderGone(t *testing.T) {
	testutil.RequirePriv(t)
	script := "sleep 1000 & echo other $!; " + testutil.BuildVictim(t, "memcount") + " 16 & echo dumped $!"
	v := testutil.StartVictim(t, "/bin/sh", "-c", script)
	other := atoi(t, v.WaitLine(t, regexp.MustCompile(`^other (\d+)$`), lineTimeout)[1])
	pid := atoi(t, v.WaitLine(t, regexp.MustCompile(`^dumped (\d+)$`), lineTimeout)[1])
	testutil.Adopt(t, other)
	v.Reap(t) // the group leader is gone; sleep keeps its pid in use
	before := v.WaitLine(t, tickRe, lineTimeout)
	dir := filepath.Join(t.TempDir(), "img")
	mustCrlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", dir)
	testutil.ReapGone(t, pid)
	if got := restore(t, dir); got != pid {
		t.Fatalf("restored pid %d, dumped %d", got, pid)
	}
	if after := v.WaitLine(t, tickRe, lineTimeout); atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("counter went from %s to %s", before[1], after[1])
	}
}

// TestLinkRemap: a file open in the tree was unlinked from the path it was
// opened by but is still linked elsewhere. The dump refuses it unless
// --link-remap, which links it again beside its old name; the restore
// opens it there and removes that link, and the process goes on writing
// into the same file (seen through its other link).
func TestLinkRemap(t *testing.T) {
	testutil.RequirePriv(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `import os, sys, time
d = sys.argv[1]
a, b = os.path.join(d, "a"), os.path.join(d, "sub", "b")
f = open(a, "w+")
os.link(a, b)
os.unlink(a)
n = 0
while True:
    n += 1
    f.seek(0)
    f.write("count %08d\n" % n)
    f.flush()
    print("wrote", n, flush=True)
    time.sleep(0.05)
`
	v := testutil.StartVictim(t, py, "-c", src, dir)
	wrote := regexp.MustCompile(`^wrote (\d+)$`)
	v.WaitLine(t, wrote, lineTimeout)
	img := filepath.Join(t.TempDir(), "img")
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", img)
	wantFailure(t, out, code, `unlinked from this path but has other links; dump with --link-remap`)
	testutil.CheckRunning(t, v.Pid)

	img = dump(t, v, "--link-remap")
	links, _ := filepath.Glob(filepath.Join(dir, ".crlazy-link-remap.*"))
	if len(links) != 1 {
		t.Fatalf("after the dump: links %q, want one beside the old name", links)
	}
	v.Reap(t)
	before := atoi(t, strings.Fields(readFile(t, filepath.Join(dir, "sub", "b")))[1])
	if pid := restore(t, img); pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	if _, err := os.Stat(links[0]); err == nil {
		t.Errorf("the link %s is still there after the restore", links[0])
	}
	v.WaitLine(t, wrote, lineTimeout)
	v.WaitLine(t, wrote, lineTimeout)
	if after := atoi(t, strings.Fields(readFile(t, filepath.Join(dir, "sub", "b")))[1]); after <= before {
		t.Fatalf("the file holds count %d after restore, %d before", after, before)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDeletedCwd: a process whose working directory was removed comes back
// in a directory made again and removed at once: /proc shows the same
// "name (deleted)" and nothing is left at the old path.
func TestDeletedCwd(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		gone := filepath.Join(t.TempDir(), "gone")
		if err := os.Mkdir(gone, 0o750); err != nil {
			t.Fatal(err)
		}
		v := testutil.StartVictim(t, "/bin/sh", "-c", `cd "$1" && rmdir "$1" && exec "$2" 16`, "sh", gone,
			testutil.BuildVictim(t, "memcount"))
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		before := v.WaitLine(t, tickRe, lineTimeout)
		checkpoint(t, v)
		if after := v.WaitLine(t, tickRe, lineTimeout); atoi(t, after[1]) <= atoi(t, before[1]) {
			t.Fatalf("counter went from %s to %s", before[1], after[1])
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", v.Pid)); err != nil || link != gone+" (deleted)" {
			t.Errorf("restored cwd %q (%v), want %q", link, err, gone+" (deleted)")
		}
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s exists after the restore", gone)
		}
	})
}

// TestOomScoreAdj: the OOM killer adjustment of a process (raised here, as
// a service manager does for workers it would sacrifice first) is set
// again after restore.
func TestOomScoreAdj(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "memcount"), "16")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	path := fmt.Sprintf("/proc/%d/oom_score_adj", v.Pid)
	if err := os.WriteFile(path, []byte("321"), 0); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, v)
	if got := strings.TrimSpace(readFile(t, path)); got != "321" {
		t.Fatalf("oom_score_adj %s after restore, want 321", got)
	}
}

// TestDumpForkStorm dumps, again and again, a shell that runs short-lived
// commands without pause: the dump often finds a child that exits while
// it freezes the tree (ptrace then refuses it with EPERM, or it is gone),
// which must be saved as the zombie it becomes, never fail the dump.
func TestDumpForkStorm(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, "/bin/sh", "-c", "echo started; while :; do /bin/true; done")
	v.WaitLine(t, regexp.MustCompile(`^started$`), lineTimeout)
	for i := range 15 {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("img%d", i))
		if out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir, "--leave-running"); code != 0 {
			t.Fatalf("dump %d: exit %d: %s", i, code, out)
		}
	}
	testutil.CheckRunning(t, v.Pid)
}
