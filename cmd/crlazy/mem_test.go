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

	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

// Tests of the memory part of issue 5: shared anonymous memory, memfds,
// shared file mappings and deleted files. Each victim checks its own
// state on every tick (contents, seals, sharing between its processes)
// and prints FAIL otherwise; the tests check that it carries on.

var (
	memReady = regexp.MustCompile(`^ready (\d+) (\d+)$`)
	memTick  = regexp.MustCompile(`^tick (\d+) (\d+) (\d+)`)
	memChild = regexp.MustCompile(`^child (\d+) (\d+) (\d+)$`)
)

// memSharingGoesOn waits until, after a restore, each of the two
// processes has printed a line past its last one before the dump (lastP,
// lastC) and seen the other's counter move twice since: the memory they
// share is one object again (mem_shared, mem_memfd and mem_filemap print
// "tick n mine theirs" and "child n mine theirs").
func memSharingGoesOn(t *testing.T, v *testutil.Victim, lastP, lastC []string) {
	t.Helper()
	seenByP := atoi(t, waitProgress(t, v, memTick, 1, lastP)[3])
	for range 2 {
		seenByP = atoi(t, waitProgressOf(t, v, memTick, 3, seenByP)[3])
	}
	seenByC := atoi(t, waitProgress(t, v, memChild, 1, lastC)[3])
	for range 2 {
		seenByC = atoi(t, waitProgressOf(t, v, memChild, 3, seenByC)[3])
	}
}

// waitProgressOf waits for a line matching re whose field is above n.
func waitProgressOf(t *testing.T, v *testutil.Victim, re *regexp.Regexp, field, n int) []string {
	t.Helper()
	for {
		if m := v.WaitLine(t, re, lineTimeout); atoi(t, m[field]) > n {
			return m
		}
	}
}

// lastLine returns the submatches of the last line of v's output that
// matches re (the victim must have printed one).
func lastLine(t *testing.T, v *testutil.Victim, re *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(v.Out)
	if err != nil {
		t.Fatal(err)
	}
	var last []string
	for _, line := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			last = m
		}
	}
	if last == nil {
		t.Fatalf("no line matching %q in the victim's output", re)
	}
	return last
}

// memModes runs test with an eager and with a lazy restore. The test
// dumps itself (so that it can read the original's last lines before
// the restore) and calls restore, which checks the pid came back.
func memModes(t *testing.T, test func(t *testing.T, restore func(*testing.T, *testutil.Victim, string))) {
	t.Run("eager", func(t *testing.T) {
		test(t, func(t *testing.T, v *testutil.Victim, dir string) {
			if pid := restore(t, dir); pid != v.Pid {
				t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
			}
		})
	})
	t.Run("lazy", func(t *testing.T) { test(t, memLazyRestore) })
}

// memLazyRestore is the restore half of lazyCheckpoint.
func memLazyRestore(t *testing.T, v *testutil.Victim, dir string) {
	t.Helper()
	pid, log := lazyRestore(t, dir)
	if pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		waitLog(t, log, allInRe, lineTimeout)
		for _, p := range append([]int{pid}, testutil.Descendants(pid)...) {
			guardGone(t, p)
		}
	})
}

// memCheckpoint dumps the two-process victim v (which kills it), reads
// the last lines of parent and child, and restores it.
func memCheckpoint(t *testing.T, v *testutil.Victim, restore func(*testing.T, *testutil.Victim, string)) (lastP, lastC []string) {
	t.Helper()
	dir := dump(t, v)
	v.Reap(t)
	lastP, lastC = lastLine(t, v, memTick), lastLine(t, v, memChild)
	restore(t, v, dir)
	return lastP, lastC
}

// TestMemSharedAnon: a parent and its child count in anonymous memory
// they share (MAP_SHARED|MAP_ANONYMOUS before the fork; the child's
// mapping of a second area starts at an offset into the object), and the
// parent has a shared page of its own. After restore each sees the
// other's increments and every pattern page is intact.
func TestMemSharedAnon(t *testing.T) {
	testutil.RequirePriv(t)
	memModes(t, func(t *testing.T, restore func(*testing.T, *testutil.Victim, string)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_shared"), "256")
		v.WaitLine(t, memReady, lineTimeout)
		v.WaitLine(t, memChild, lineTimeout)
		lastP, lastC := memCheckpoint(t, v, restore)
		memSharingGoesOn(t, v, lastP, lastC)
		if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		v.WaitLine(t, regexp.MustCompile(`^verified [PC]$`), lineTimeout)
		v.WaitLine(t, regexp.MustCompile(`^verified [PC]$`), lineTimeout)
	})
}

// TestMemSharedStoredOnce checks the store of mem_shared: one shmem
// record per object, and the child's pagemap holds none of the pages of
// the area it shares with its parent (the parent saved them).
func TestMemSharedStoredOnce(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_shared"), "64")
	m := v.WaitLine(t, memReady, lineTimeout)
	v.WaitLine(t, memTick, lineTimeout)
	dir := dump(t, v, "--leave-running")
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids, err := r.IDs(images.Shmem)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Errorf("%d shared memory objects stored, want 3", len(ids))
	}
	child := uint32(atoi(t, m[2]))
	var e mm.MmEntry
	if err := r.Record(images.Mm, child, &e); err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, vma := range e.GetVmas() {
		if vma.GetStatus()&images.VmaAnonShared == 0 {
			continue
		}
		shared++
		if n := dataPagesIn(t, r, child, vma.GetStart(), vma.GetEnd()); n != 0 {
			t.Errorf("the child saved %d pages of shared area %x-%x its parent saved", n, vma.GetStart(), vma.GetEnd())
		}
	}
	if shared != 2 {
		t.Errorf("the child has %d shared anonymous areas, want 2", shared)
	}
	// The original goes on, both processes sharing as before.
	memSharingGoesOn(t, v, lastLine(t, v, memTick), lastLine(t, v, memChild))
}

// dataPagesIn counts the pages with data that the pagemap of mm holds in
// [start, end).
func dataPagesIn(t *testing.T, r *store.Reader, mmID uint32, start, end uint64) int {
	t.Helper()
	n := 0
	err := r.SubRecords(images.Pagemap, mmID, func(sub uint64, raw []byte) error {
		var e pagemap.PagemapEntry
		if err := images.UnmarshalRecord(raw, &e); err != nil {
			return err
		}
		for p := range e.GetNrPages() {
			addr := e.GetVaddr() + p*images.PageSize
			if addr >= start && addr < end && e.GetFlags()&images.PagemapZero == 0 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMemMemfd: memfds sealed (write, shrink, grow, seal; future-write),
// shared by a parent and child through a mapping and a descriptor, open
// only, and mapped privately: after restore the victim finds each with
// its contents, name, mode, offset and seals, writes still refused where
// sealed, and the shared one still shared.
func TestMemMemfd(t *testing.T) {
	testutil.RequirePriv(t)
	memModes(t, func(t *testing.T, restore func(*testing.T, *testutil.Victim, string)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_memfd"))
		v.WaitLine(t, memReady, lineTimeout)
		v.WaitLine(t, memChild, lineTimeout)
		lastP, lastC := memCheckpoint(t, v, restore)
		memSharingGoesOn(t, v, lastP, lastC)
	})
}

// TestMemFileMap: a file mapped shared by a parent and its child (the
// inherited mapping and one of its own), both writing: after restore each
// finds its last write in the file and sees the other's.
func TestMemFileMap(t *testing.T) {
	testutil.RequirePriv(t)
	memModes(t, func(t *testing.T, restore func(*testing.T, *testutil.Victim, string)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_filemap"))
		v.WaitLine(t, memReady, lineTimeout)
		v.WaitLine(t, memChild, lineTimeout)
		lastP, lastC := memCheckpoint(t, v, restore)
		memSharingGoesOn(t, v, lastP, lastC)
	})
}

var ghostTick = regexp.MustCompile(`^tick (\d+) (\d+)$`)

// TestMemGhost: deleted files still open (read on from the same offset,
// appended to and read back through a second description), mapped shared
// with their descriptor open and without, mapped privately: after restore
// they are still deleted, under the same names, with the same contents.
func TestMemGhost(t *testing.T) {
	testutil.RequirePriv(t)
	memModes(t, func(t *testing.T, restore func(*testing.T, *testutil.Victim, string)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_ghost"))
		v.WaitLine(t, regexp.MustCompile(`^ready \d+$`), lineTimeout)
		v.WaitLine(t, ghostTick, lineTimeout)
		dir := dump(t, v)
		v.Reap(t)
		last := lastLine(t, v, ghostTick)
		restore(t, v, dir)
		for range 5 { // the restored process reads on, each record checked
			last = waitProgress(t, v, ghostTick, 1, last)
		}
		checkNoGhostLeft(t, filepath.Dir(v.Out))
	})
}

// checkNoGhostLeft checks that the restore left no file behind in the
// victim's directory (a ghost is unlinked at once).
func checkNoGhostLeft(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "mem_ghost.out" {
			t.Errorf("the restore left %s in %s", e.Name(), dir)
		}
	}
}

// TestMemGhostLimit: a deleted file larger than the ghost limit (1 MiB by
// default) makes the dump fail with a message that says so and leaves the
// victim running; with --ghost-limit raised it is saved and restored.
func TestMemGhostLimit(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_ghost"), "2000000")
	v.WaitLine(t, regexp.MustCompile(`^ready \d+$`), lineTimeout)
	dir := filepath.Join(t.TempDir(), "img")
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir)
	wantFailure(t, out, code, `ghost-big \(deleted\)\): the deleted file holds 2000000 bytes, more than the ghost limit of 1048576 \(raise it with --ghost-limit\)`)
	testutil.CheckRunning(t, v.Pid)
	v.WaitLine(t, ghostTick, lineTimeout)
	dir = dump(t, v, "--ghost-limit", "2M")
	v.Reap(t)
	last := lastLine(t, v, ghostTick)
	restore(t, dir)
	waitProgress(t, v, ghostTick, 1, last)
}

// TestMemSysV: System V shared memory, as PostgreSQL uses it. A keyed
// segment shared by a parent and its child, and a private one removed
// while attached (SHM_DEST), come back with their ids, key, mode,
// contents and attachments: the child goes on counting in the first, the
// parent finds its pattern in the second and IPC_STAT still answers for
// the first's id. The keyed segment outlives the dumped tree (the restore
// takes it over); the removed one is made again with its id.
func TestMemSysV(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		key := fmt.Sprintf("%#x", 0x5eed0000|os.Getpid()&0xffff)
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_sysv"), key)
		m := v.WaitLine(t, regexp.MustCompile(`^ready \d+ \d+ (\d+) (\d+)$`), lineTimeout)
		t.Cleanup(func() { _ = exec.Command("ipcrm", "-m", m[1]).Run() })
		tick := regexp.MustCompile(`^tick (\d+) child (\d+)$`)
		before := v.WaitLine(t, tick, lineTimeout)
		checkpoint(t, v)
		after := waitProgress(t, v, tick, 1, before)
		if atoi(t, after[2]) <= atoi(t, before[2]) {
			t.Fatalf("the child's count went from %s to %s", before[2], after[2])
		}
	})
}

// TestMemSourceSide: a source-side lazy dump (--lazy-pages) of memfds
// and shared memory: the frozen process serves the pages of its shared
// mappings, the memfd contents no mapping covers come with the records,
// and the tree restored elsewhere (another network and PID namespace)
// finds every memfd intact and still shared.
func TestMemSourceSide(t *testing.T) {
	testutil.RequirePriv(t)
	np := newNetPair(t)
	token := writeToken(t)
	auth := []string{"--auth-token-file", token}
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_memfd"))
	v.WaitLine(t, memReady, lineTimeout)
	v.WaitLine(t, memChild, lineTimeout)
	dir := filepath.Join(t.TempDir(), "live")
	dumpLog := dir + ".dump.log"
	dumpCmd := nsCmd(t, np.b, append([]string{"dump", "-t", strconv.Itoa(v.Pid), "-D", dir, "--lazy-pages",
		"--address", np.addrB, "--port", strconv.Itoa(psPort), "-v", "4", "-o", dumpLog}, auth...)...)
	dumpDone := startCmd(t, dumpCmd)
	waitLog(t, dumpLog, regexp.MustCompile(`serving the frozen process's pages`), lineTimeout)
	// The process is frozen and nothing is restored yet: its output is final.
	lastP, lastC := lastLine(t, v, memTick), lastLine(t, v, memChild)
	local := copyImages(t, dir)
	log := filepath.Join(t.TempDir(), "restore.log")
	restoreCmd := exec.Command("ip", append([]string{"netns", "exec", np.a, "unshare", "--pid", "--fork", "--kill-child",
		"--mount-proc", testutil.BuildCrlazy(t), "restore", "-D", local, "--checkpoint-name", "live", "--lazy-pages",
		"--page-server", "--address", np.addrB, "--port", strconv.Itoa(psPort), "-v", "4", "-o", log}, auth...)...)
	startCmd(t, restoreCmd)
	if err := <-dumpDone; err != nil {
		b, _ := os.ReadFile(dumpLog)
		t.Fatalf("dump: %v\nlog:\n%s", err, b)
	}
	v.Reap(t)
	waitLog(t, log, allInRe, lineTimeout)
	memSharingGoesOn(t, v, lastP, lastC)
}

// TestMemLocked: an area locked with mlock(2) is locked again after a
// restore (VmLck counts it), eagerly and lazily, with its contents.
func TestMemLocked(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "mem_lock"))
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		tick := regexp.MustCompile(`^tick (\d+)$`)
		before := v.WaitLine(t, tick, lineTimeout)
		checkpoint(t, v)
		waitProgress(t, v, tick, 1, before)
		if got := statusLine(t, v.Pid, "VmLck"); got != "1024 kB" {
			t.Errorf("VmLck %q after restore, want 1024 kB", got)
		}
	})
}
