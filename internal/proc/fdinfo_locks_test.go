package proc

import (
	"bytes"
	"reflect"
	"testing"
)

func TestFdinfoLocks(t *testing.T) {
	got, err := parseFdinfoFixture(t, "fdinfo-locks.txt").Locks()
	want := []FileLock{
		{Kind: LockPosix, Mode: LockAdvisory, Type: LockWrite, Pid: 17867, Dev: "fe:00", Ino: 9994740, Start: 0, End: 99},
		{Kind: LockPosix, Mode: LockAdvisory, Type: LockRead, Pid: 17867, Dev: "fe:00", Ino: 9994740, Start: 200, End: LockToEOF},
		{Kind: LockOFD, Mode: LockAdvisory, Type: LockWrite, Pid: -1, Dev: "fe:00", Ino: 9994740, Start: 300, End: 314},
		{Kind: LockLease, Mode: "ACTIVE", Type: LockRead, Pid: 18043, Dev: "fe:00", Ino: 9994740, Start: 0, End: LockToEOF},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Locks = %+v, %v", got, err)
	}
	flock, err := parseFdinfoFixture(t, "fdinfo-flock.txt").Locks()
	if err != nil || len(flock) != 1 || flock[0].Kind != LockFlock || flock[0].Type != LockRead || flock[0].Pid != 5425 {
		t.Errorf("flock fixture: Locks = %+v, %v", flock, err)
	}
	if l, err := parseFdinfoFixture(t, "fdinfo-regular.txt").Locks(); err != nil || l != nil {
		t.Errorf("no lock lines: Locks = %+v, %v", l, err)
	}
}

func TestFdinfoLocksMalformed(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"1: POSIX  ADVISORY  WRITE 1 fe:00:5 0", "8 words"},
		{"x: POSIX  ADVISORY  WRITE 1 fe:00:5 0 9", "lock number"},
		{"1: POSIX  ADVISORY  BOTH 1 fe:00:5 0 9", "lock type"},
		{"1: POSIX  ADVISORY  READ -2 fe:00:5 0 9", "pid"},
		{"1: POSIX  ADVISORY  READ 1 5 0 9", "inode"},
		{"1: POSIX  ADVISORY  READ 1 fe:00:x 0 9", "inode"},
		{"1: POSIX  ADVISORY  READ 1 fe:00:5 -1 9", "lock start"},
		{"1: POSIX  ADVISORY  READ 1 fe:00:5 10 9", "lock end"},
	} {
		fi := &Fdinfo{Extra: []string{"lock:\t" + c.line}}
		_, err := fi.Locks()
		wantMalformed(t, err, c.want)
	}
}

// FuzzFdinfoLocks runs Locks on any fdinfo text.
func FuzzFdinfoLocks(f *testing.F) {
	f.Add([]byte("pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t1\nlock:\t1: POSIX  ADVISORY  WRITE 5 fe:00:1 0 EOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fi, err := ParseFdinfo(bytes.NewReader(b))
		if err != nil {
			return
		}
		locks, err := fi.Locks()
		checkParseErr(t, err)
		for _, l := range locks {
			if l.Start < 0 || (l.End != LockToEOF && l.End < l.Start) || l.Pid < -1 {
				t.Fatalf("bad lock %+v", l)
			}
		}
	})
}
