package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

// Tests of --file-locks with testdata/victims/lock_hold.c: the locks are
// checked from this process (another owner, other descriptions) and by
// the victim itself, which can drop and take them again.

var (
	lockReadyRe = regexp.MustCompile(`^ready (\d+)(?: (\d+))?$`)
	lockTickRe  = regexp.MustCompile(`^tick (\d+)$`)
)

// startLocks starts lock_hold in mode with a directory of its own for the
// locked files, and waits until it holds its locks.
func startLocks(t *testing.T, mode string) (v *testutil.Victim, dir string, child int) {
	t.Helper()
	dir = t.TempDir()
	v = testutil.StartVictim(t, testutil.BuildVictim(t, "lock_hold"), mode, dir)
	m := v.WaitLine(t, lockReadyRe, lineTimeout)
	if m[2] != "" {
		child = atoi(t, m[2])
	}
	v.WaitLine(t, lockTickRe, lineTimeout)
	return v, dir, child
}

// restoreLocks restores dir with --file-locks, eagerly or lazily, and
// checks the pid came back; a lazy restore must bring every page in by
// the end of the test.
func restoreLocks(t *testing.T, dir string, v *testutil.Victim, lazy bool) {
	t.Helper()
	var pid int
	if lazy {
		var log string
		pid, log = lazyRestore(t, dir, "--file-locks")
		t.Cleanup(func() {
			if !t.Failed() {
				waitLog(t, log, allInRe, lineTimeout)
			}
		})
	} else {
		pidfile := filepath.Join(t.TempDir(), "pid")
		out := mustCrlazy(t, "restore", "-D", dir, "-d", "--file-locks", "--pidfile", pidfile, "-v", "4", "-o", dir+".restore.log")
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatalf("%v; restore said %s", err, out)
		}
		pid = atoi(t, strings.TrimSpace(string(b)))
		testutil.Adopt(t, pid)
	}
	if pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
}

// TestFileLocks dumps a process holding a flock, a POSIX write lock on
// bytes 0-99, a POSIX read lock from byte 200 on and an OFD write lock,
// and restores it: each lock is held again, the POSIX ones by the
// restored pid, and the process can drop and take them again.
func TestFileLocks(t *testing.T) {
	testutil.RequirePriv(t)
	for _, lazy := range []bool{false, true} {
		t.Run(map[bool]string{false: "eager", true: "lazy"}[lazy], func(t *testing.T) {
			v, locks, _ := startLocks(t, "single")
			checkLocksHeld(t, locks, v.Pid) // the checks see the original's locks
			img := dump(t, v, "--file-locks")
			v.Reap(t)
			if n := lockRecords(t, img); n != 4 {
				t.Errorf("the store holds %d file locks, want 4", n)
			}
			checkLocksFree(t, locks) // the dump killed the original
			restoreLocks(t, img, v, lazy)
			checkLocksHeld(t, locks, v.Pid)
			before := v.WaitLine(t, lockTickRe, lineTimeout)
			waitProgress(t, v, lockTickRe, 1, before) // its own checks pass
			sendSignal(t, v.Pid, syscall.SIGUSR1)
			v.WaitLine(t, regexp.MustCompile(`^unlocked$`), lineTimeout)
			checkLocksFree(t, locks)
			sendSignal(t, v.Pid, syscall.SIGUSR2)
			v.WaitLine(t, regexp.MustCompile(`^relocked$`), lineTimeout)
			checkLocksHeld(t, locks, v.Pid)
		})
	}
}

// TestFileLockTree: a parent took a flock and forked; the child shares
// the locked description. The store holds the lock once, the restore
// takes it once, and the child's descriptor is that description again
// (its LOCK_UN frees the lock).
func TestFileLockTree(t *testing.T) {
	testutil.RequirePriv(t)
	for _, lazy := range []bool{false, true} {
		t.Run(map[bool]string{false: "eager", true: "lazy"}[lazy], func(t *testing.T) {
			v, locks, child := startLocks(t, "tree")
			shared := filepath.Join(locks, "shared")
			img := dump(t, v, "--file-locks")
			v.Reap(t)
			if n := lockRecords(t, img); n != 1 {
				t.Errorf("the store holds %d file locks, want 1", n)
			}
			restoreLocks(t, img, v, lazy)
			testutil.CheckRunning(t, child)
			if got := procLocks(t, shared); len(got) != 1 || !strings.Contains(got[0], " FLOCK ") {
				t.Errorf("/proc/locks on %s after restore: %q, want one FLOCK", shared, got)
			}
			checkFlockHeld(t, shared)
			sendSignal(t, child, syscall.SIGUSR1)
			v.WaitLine(t, regexp.MustCompile(`^child unlocked$`), lineTimeout)
			checkFlockFree(t, shared)
		})
	}
}

// TestFileLockDumpRefused: without --file-locks a tree holding a lock is
// refused, named, and left running without a store; a lease is refused
// even with it.
func TestFileLockDumpRefused(t *testing.T) {
	testutil.RequirePriv(t)
	for _, c := range []struct {
		mode  string
		flags []string
		want  string
	}{
		{"single", nil, `dump pid %d: pid %[1]d: fd \d+ \(%s/flock\): holds a flock exclusive; dump with --file-locks`},
		{"lease", []string{"--file-locks"}, `dump pid %d: pid %[1]d: fd \d+ \(%s/lease\): holds a file lease`},
	} {
		t.Run(c.mode, func(t *testing.T) {
			v, locks, _ := startLocks(t, c.mode)
			img := filepath.Join(t.TempDir(), "img")
			args := append([]string{"dump", "-t", strconv.Itoa(v.Pid), "-D", img}, c.flags...)
			out, code := crlazy(t, args...)
			wantFailure(t, out, code, fmt.Sprintf(c.want, v.Pid, regexp.QuoteMeta(locks)))
			testutil.CheckRunning(t, v.Pid)
			before := v.WaitLine(t, lockTickRe, lineTimeout)
			waitProgress(t, v, lockTickRe, 1, before)
			if _, err := os.Stat(img); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused dump left %s behind (%v)", img, err)
			}
		})
	}
}

// TestFileLockRestoreRefused: a store with locks is refused without
// --file-locks, and with it while a process outside the tree holds a
// conflicting flock or POSIX lock; each time nothing of the tree is left
// running. Once the other lock is gone the restore succeeds.
func TestFileLockRestoreRefused(t *testing.T) {
	testutil.RequirePriv(t)
	v, locks, _ := startLocks(t, "single")
	img := dump(t, v, "--file-locks")
	v.Reap(t)
	out, code := crlazy(t, "restore", "-D", img, "-d")
	wantFailure(t, out, code, `the image holds file locks: restore with --file-locks`)
	testutil.CheckNoLeftovers(t, v.Pid)

	other := openLocked(t, filepath.Join(locks, "flock"), os.O_RDONLY)
	if err := linux.TryFlock(other, linux.LockSh); err != nil {
		t.Fatal(err)
	}
	out, code = crlazy(t, "restore", "-D", img, "-d", "--file-locks")
	wantFailure(t, out, code, `pid \d+: file locks: fd \d+ \(.*/flock\): flock exclusive: a process outside the restored tree holds a conflicting lock`)
	testutil.CheckNoLeftovers(t, v.Pid)
	other.Close()

	other = openLocked(t, filepath.Join(locks, "posix"), os.O_RDWR)
	if err := linux.SetLock(other, false, &linux.Flock{Type: linux.FRdlck, Start: 50, Len: 1}); err != nil {
		t.Fatal(err)
	}
	out, code = crlazy(t, "restore", "-D", img, "-d", "--file-locks")
	wantFailure(t, out, code, `fd \d+ \(.*/posix\): posix lock 0-99 write: a process outside the restored tree holds a conflicting lock`)
	testutil.CheckNoLeftovers(t, v.Pid)
	checkNoStubs(t)
	checkFlockFree(t, filepath.Join(locks, "flock")) // taken before the failure, dropped with the tree
	other.Close()                                    // drops this process's POSIX locks on the file

	restoreLocks(t, img, v, false)
	checkLocksHeld(t, locks, v.Pid)
}

func sendSignal(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
}

// openLocked opens a file of the victim's lock directory; the test closes
// it at the end at the latest.
func openLocked(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkLocksHeld checks, as another lock owner with descriptions of its
// own, every lock lock_hold single takes in dir, held by pid.
func checkLocksHeld(t *testing.T, dir string, pid int) {
	t.Helper()
	checkFlockHeld(t, filepath.Join(dir, "flock"))
	posix := openLocked(t, filepath.Join(dir, "posix"), os.O_RDWR)
	defer posix.Close()
	wantLock(t, posix, false, 0, linux.Flock{Type: linux.FWrlck, Start: 0, Len: 100, Pid: int32(pid)})
	wantLock(t, posix, false, 250, linux.Flock{Type: linux.FRdlck, Start: 200, Len: 0, Pid: int32(pid)})
	ofd := openLocked(t, filepath.Join(dir, "ofd"), os.O_RDWR)
	defer ofd.Close()
	wantLock(t, ofd, true, 15, linux.Flock{Type: linux.FWrlck, Start: 10, Len: 10, Pid: -1})
}

// checkLocksFree checks that none of those locks is held.
func checkLocksFree(t *testing.T, dir string) {
	t.Helper()
	checkFlockFree(t, filepath.Join(dir, "flock"))
	posix := openLocked(t, filepath.Join(dir, "posix"), os.O_RDWR)
	defer posix.Close()
	wantLock(t, posix, false, 0, linux.Flock{Type: linux.FUnlck})
	wantLock(t, posix, false, 250, linux.Flock{Type: linux.FUnlck})
	ofd := openLocked(t, filepath.Join(dir, "ofd"), os.O_RDWR)
	defer ofd.Close()
	wantLock(t, ofd, true, 15, linux.Flock{Type: linux.FUnlck})
}

// wantLock asks which lock stops a one-byte write lock at off and
// compares it with want (only the type when want is FUnlck).
func wantLock(t *testing.T, f *os.File, ofd bool, off int64, want linux.Flock) {
	t.Helper()
	lk := linux.Flock{Type: linux.FWrlck, Start: off, Len: 1}
	if err := linux.GetLock(f, ofd, &lk); err != nil {
		t.Fatal(err)
	}
	if want.Type == linux.FUnlck {
		lk = linux.Flock{Type: lk.Type}
	}
	lk.Whence = 0
	if lk != want {
		t.Errorf("%s: lock at byte %d (ofd %v): %+v, want %+v", f.Name(), off, ofd, lk, want)
	}
}

func checkFlockHeld(t *testing.T, path string) {
	t.Helper()
	f := openLocked(t, path, os.O_RDONLY)
	defer f.Close()
	if err := linux.TryFlock(f, linux.LockSh); !errors.Is(err, linux.EWOULDBLOCK) {
		t.Errorf("%s: flock(LOCK_SH|LOCK_NB) from another description: %v, want EWOULDBLOCK", path, err)
	}
}

func checkFlockFree(t *testing.T, path string) {
	t.Helper()
	f := openLocked(t, path, os.O_RDONLY)
	defer f.Close()
	if err := linux.TryFlock(f, linux.LockEx); err != nil {
		t.Errorf("%s: flock(LOCK_EX|LOCK_NB): %v, want the file free", path, err)
	}
}

// lockRecords counts the FileLock records of the store at dir.
func lockRecords(t *testing.T, dir string) int {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pids, err := r.IDs(images.FileLock)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, pid := range pids {
		err := r.SubRecords(images.FileLock, pid, func(uint64, []byte) error { n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// procLocks returns the lines of /proc/locks on the inode of path (shown
// as "major:minor:inode", the device numbers in hex).
func procLocks(t *testing.T, path string) []string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inode := fmt.Sprintf("%02x:%02x:%d", linux.Major(st.Dev), linux.Minor(st.Dev), st.Ino)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 5 && fields[1] != "->" && fields[5] == inode {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
