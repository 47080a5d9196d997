package proc

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func parseFdinfoFixture(t *testing.T, name string) *Fdinfo {
	t.Helper()
	fi, err := ParseFdinfo(fixtureReader(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestParseFdinfoCommon(t *testing.T) {
	tests := []struct {
		name  string
		pos   uint64
		flags uint32
		mnt   int
		ino   uint64
		extra int
	}{
		{"fdinfo-regular.txt", 17, syscall.O_CLOEXEC | 0o100000, 27, 9978192, 0}, // O_LARGEFILE is 0o100000 on x86_64
		{"fdinfo-append.txt", 5, syscall.O_WRONLY | syscall.O_APPEND | 0o100000, 27, 9978212, 0},
		{"fdinfo-pipe.txt", 0, syscall.O_WRONLY | syscall.O_NONBLOCK, 16, 9572, 0},
		{"fdinfo-memfd.txt", 0, syscall.O_RDWR | syscall.O_CLOEXEC | 0o100000, 0, 3, 0},
		{"fdinfo-eventfd.txt", 0, syscall.O_RDWR | syscall.O_NONBLOCK | syscall.O_CLOEXEC, 17, 1038, 3},
		{"fdinfo-epoll.txt", 0, syscall.O_RDWR, 17, 1038, 2},
		{"fdinfo-inotify.txt", 0, syscall.O_NONBLOCK, 17, 1038, 2},
		{"fdinfo-timerfd.txt", 0, syscall.O_RDWR, 17, 1038, 5},
		{"fdinfo-flock.txt", 17, syscall.O_CLOEXEC | 0o100000, 27, 9978192, 1},
	}
	for _, tt := range tests {
		fi := parseFdinfoFixture(t, tt.name)
		if fi.Pos != tt.pos || fi.Flags != tt.flags || fi.MntID != tt.mnt || fi.Ino != tt.ino || len(fi.Extra) != tt.extra {
			t.Errorf("%s: got %+v, want pos %d flags %#o mnt %d ino %d extra %d",
				tt.name, fi, tt.pos, tt.flags, tt.mnt, tt.ino, tt.extra)
		}
	}
}

func TestParseFdinfoExtra(t *testing.T) {
	field := func(name, key, want string) {
		t.Helper()
		if got, ok := parseFdinfoFixture(t, name).Field(key); !ok || got != want {
			t.Errorf("%s %s = %q, %v; want %q", name, key, got, ok, want)
		}
	}
	field("fdinfo-eventfd.txt", "eventfd-count", "5")
	field("fdinfo-eventfd.txt", "eventfd-semaphore", "0")
	field("fdinfo-signalfd.txt", "sigmask", "0000000000004200")
	field("fdinfo-timerfd.txt", "settime flags", "00")
	field("fdinfo-timerfd.txt", "it_interval", "(2, 500)")
	field("fdinfo-flock.txt", "lock", "1: FLOCK  ADVISORY  READ 5425 fe:00:9978192 0 EOF")

	tfds := parseFdinfoFixture(t, "fdinfo-epoll.txt").FieldsOf("tfd")
	if len(tfds) != 2 || !strings.HasPrefix(tfds[0], "4 events: 80000019 data:         deadbeef") {
		t.Errorf("tfd = %q", tfds)
	}
	wds := parseFdinfoFixture(t, "fdinfo-inotify.txt").FieldsOf("inotify wd")
	if len(wds) != 2 || !strings.HasPrefix(wds[1], "1 ino:3c4a3 ") {
		t.Errorf("inotify = %q", wds)
	}
	if _, ok := parseFdinfoFixture(t, "fdinfo-regular.txt").Field("lock"); ok {
		t.Error("regular file has a lock field")
	}
}

func TestParseFdinfoErrors(t *testing.T) {
	good := "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1\n"
	tests := []struct{ in, want string }{
		{"flags:\t02\nmnt_id:\t17\nino:\t1\n", "missing pos"},
		{strings.Replace(good, "ino:\t1\n", "", 1), "missing ino"},
		{strings.Replace(good, "02", "09", 1), "flags"},
		{strings.Replace(good, "pos:\t0", "pos:\t-1", 1), "pos"},
		{good + "pos:\t1\n", "line 5: malformed: duplicate pos"},
	}
	for _, tt := range tests {
		_, err := ParseFdinfo(strings.NewReader(tt.in))
		wantMalformed(t, err, tt.want)
	}
}

func TestFdsSelf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a file")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(123, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	pid, fd := os.Getpid(), int(f.Fd())
	fds, err := ListFds(pid)
	if err != nil || !slices.Contains(fds, fd) || !slices.Contains(fds, 2) || !slices.IsSorted(fds) {
		t.Fatalf("fds %v, %v", fds, err)
	}
	if link, err := ReadFdLink(pid, fd); err != nil || link != path {
		t.Errorf("link %q, %v; want %q", link, err, path)
	}
	fi, err := ReadFdinfo(pid, fd)
	if err != nil || fi.Pos != 123 || fi.Flags&syscall.O_ACCMODE != syscall.O_RDWR || fi.Flags&syscall.O_CLOEXEC == 0 {
		t.Errorf("fdinfo %+v, %v", fi, err)
	}
	f.Close()
	_, err = ReadFdLink(pid, fd)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoProcess) {
		t.Errorf("closed fd: %v; want not-exist but not ErrNoProcess", err)
	}
}
