package dumper

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/proc"
)

func lockFd(fd int, what string) openFd { return openFd{fd: fd, what: what} }

func TestLockEntry(t *testing.T) {
	o := lockFd(4, "fd 4 (/tmp/x)")
	for _, c := range []struct {
		l    proc.FileLock
		want string // FileLockName, or the refusal's reason
		len  int64
	}{
		{proc.FileLock{Kind: proc.LockPosix, Mode: proc.LockAdvisory, Type: proc.LockWrite, Start: 0, End: 99}, "posix lock 0-99 write", 100},
		{proc.FileLock{Kind: proc.LockPosix, Mode: proc.LockAdvisory, Type: proc.LockRead, Start: 200, End: proc.LockToEOF}, "posix lock 200-EOF read", 0},
		{proc.FileLock{Kind: proc.LockOFD, Mode: proc.LockAdvisory, Type: proc.LockWrite, Pid: -1, Start: 10, End: 19}, "ofd lock 10-19 write", 10},
		{proc.FileLock{Kind: proc.LockFlock, Mode: proc.LockAdvisory, Type: proc.LockRead, End: proc.LockToEOF}, "flock shared", 0},
		{proc.FileLock{Kind: proc.LockLease, Mode: "ACTIVE", Type: proc.LockRead, End: proc.LockToEOF}, "holds a file lease", 0},
		{proc.FileLock{Kind: proc.LockPosix, Mode: proc.LockMandatory, Type: proc.LockRead}, "MANDATORY", 0},
		{proc.FileLock{Kind: "ACCESS", Mode: proc.LockAdvisory, Type: proc.LockRead}, `kind "ACCESS"`, 0},
	} {
		e, err := lockEntry(c.l, o)
		var ue *UnsupportedError
		switch {
		case errors.As(err, &ue):
			if ue.What != o.what || !strings.Contains(ue.Reason, c.want) {
				t.Errorf("%+v: refused with %v, want %q", c.l, err, c.want)
			}
		case err != nil:
			t.Errorf("%+v: %v", c.l, err)
		case images.FileLockName(e) != c.want || e.GetLen() != c.len || e.GetFd() != 4:
			t.Errorf("%+v: %s len %d fd %d, want %s len %d", c.l, images.FileLockName(e), e.GetLen(), e.GetFd(), c.want, c.len)
		}
	}
}

// TestLockDumpShared: a flock seen through one description in a parent
// and its child is saved once, under the process that took it; a POSIX
// lock of a table shared by two processes is saved once, under its taker.
func TestLockDumpShared(t *testing.T) {
	parent := &process{pid: 10, filesID: 10}
	child := &process{pid: 11, filesID: 11}
	sharer := &process{pid: 12, filesID: 10} // CLONE_FILES with the parent
	ld := newLockDump(true, &tree{procs: []*process{parent, child, sharer}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	flock := proc.FileLock{Kind: proc.LockFlock, Mode: proc.LockAdvisory, Type: proc.LockWrite, Pid: 10, End: proc.LockToEOF}
	posix := proc.FileLock{Kind: proc.LockPosix, Mode: proc.LockAdvisory, Type: proc.LockWrite, Pid: 12, End: 9}
	steps := []struct {
		p  *process
		fd int
		id uint32
		l  proc.FileLock
	}{
		{child, 5, 1, flock},  // the child is met first here
		{parent, 3, 1, flock}, // the taker: the lock moves to it
		{parent, 4, 1, flock}, // a dup: nothing new
		{parent, 6, 2, posix},
		{parent, 7, 2, posix},
	}
	for _, s := range steps {
		if err := ld.add(s.p, lockFd(s.fd, "fd"), s.id, s.l); err != nil {
			t.Fatal(err)
		}
	}
	if len(ld.recs) != 2 {
		t.Fatalf("%d locks saved, want 2", len(ld.recs))
	}
	if r := ld.recs[0]; r.pid != 10 || r.e.GetFd() != 3 {
		t.Errorf("flock saved for pid %d fd %d, want pid 10 fd 3", r.pid, r.e.GetFd())
	}
	if r := ld.recs[1]; r.pid != 12 || r.e.GetFd() != 6 {
		t.Errorf("posix lock saved for pid %d fd %d, want pid 12 fd 6", r.pid, r.e.GetFd())
	}
	off := newLockDump(false, &tree{procs: []*process{parent}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := off.add(parent, lockFd(3, "fd 3 (/tmp/x)"), 1, flock)
	if err == nil || !strings.Contains(err.Error(), "fd 3 (/tmp/x): holds a flock exclusive; dump with --file-locks") {
		t.Errorf("without --file-locks: %v", err)
	}
}
