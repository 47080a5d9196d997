package proc

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestFdinfoEventfd(t *testing.T) {
	e, err := parseFdinfoFixture(t, "fdinfo-eventfd.txt").Eventfd()
	if err != nil || e != (Eventfd{Count: 5}) {
		t.Errorf("Eventfd = %+v, %v", e, err)
	}
	fi := &Fdinfo{Extra: []string{"eventfd-count:               1a", "eventfd-semaphore: 1"}}
	if e, err := fi.Eventfd(); err != nil || e != (Eventfd{Count: 26, Semaphore: true}) {
		t.Errorf("Eventfd = %+v, %v", e, err)
	}
}

func TestFdinfoEpoll(t *testing.T) {
	got, err := parseFdinfoFixture(t, "fdinfo-epoll.txt").EpollTargets()
	want := []EpollTarget{
		{Fd: 4, Events: 0x80000019, Data: 0xdeadbeef, Ino: 0x40e, Sdev: 0x10},
		{Fd: 7, Events: 0x1c, Data: 7, Ino: 0x255f, Sdev: 0xf},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("EpollTargets = %+v, %v", got, err)
	}
}

func TestFdinfoSignalfd(t *testing.T) {
	if m, err := parseFdinfoFixture(t, "fdinfo-signalfd.txt").SignalfdMask(); err != nil || m != 0x4200 {
		t.Errorf("SignalfdMask = %#x, %v", m, err)
	}
}

func TestFdinfoTimerfd(t *testing.T) {
	got, err := parseFdinfoFixture(t, "fdinfo-timerfd.txt").Timerfd()
	want := Timerfd{Clock: 1, Value: Timespec{999, 999996594}, Interval: Timespec{2, 500}}
	if err != nil || got != want {
		t.Errorf("Timerfd = %+v, %v", got, err)
	}
}

func TestFdinfoInotify(t *testing.T) {
	got, err := parseFdinfoFixture(t, "fdinfo-inotify.txt").InotifyWatches()
	want := []InotifyWatch{
		{Wd: 2, Ino: 0x13, Sdev: 0xfe00000, Mask: 2, HandleType: 1, Handle: []byte{0x13, 0, 0, 0, 0, 0, 0, 0}},
		{Wd: 1, Ino: 0x3c4a3, Sdev: 0xfe00000, Mask: 0x300, HandleType: 1, Handle: []byte{0xa3, 0xc4, 3, 0, 0, 0, 0, 0}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("InotifyWatches = %+v, %v", got, err)
	}
	// A file system that cannot make handles shows none.
	fi := &Fdinfo{Extra: []string{"inotify wd:3 ino:5 sdev:7 mask:2 ignored_mask:0 "}}
	if w, err := fi.InotifyWatches(); err != nil || len(w) != 1 || w[0].Handle != nil {
		t.Errorf("watch without handle: %+v, %v", w, err)
	}
}

func TestFdinfoPidfd(t *testing.T) {
	if pid, err := parseFdinfoFixture(t, "fdinfo-pidfd.txt").PidfdPid(); err != nil || pid != 11171 {
		t.Errorf("PidfdPid = %d, %v", pid, err)
	}
	fi := &Fdinfo{Extra: []string{"Pid:\t-1"}}
	if pid, err := fi.PidfdPid(); err != nil || pid != -1 {
		t.Errorf("PidfdPid of a reaped process = %d, %v", pid, err)
	}
}

func TestFdinfoKindErrors(t *testing.T) {
	for _, c := range []struct {
		extra string
		fn    func(*Fdinfo) error
		want  string
	}{
		{"", func(fi *Fdinfo) error { _, err := fi.Eventfd(); return err }, "no eventfd-count"},
		{"eventfd-count: zz", func(fi *Fdinfo) error { _, err := fi.Eventfd(); return err }, "eventfd-count"},
		{"tfd: 4 events: 1", func(fi *Fdinfo) error { _, err := fi.EpollTargets(); return err }, "no data"},
		{"tfd: 4 events: 1 events: 2 data: 0 pos:0 ino:1 sdev:1", func(fi *Fdinfo) error { _, err := fi.EpollTargets(); return err }, "duplicate events"},
		{"tfd: -4 events: 1 data: 0 pos:0 ino:1 sdev:1", func(fi *Fdinfo) error { _, err := fi.EpollTargets(); return err }, "tfd"},
		{"sigmask: x", func(fi *Fdinfo) error { _, err := fi.SignalfdMask(); return err }, "sigmask"},
		{"clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (1, 1000000000)\nit_interval: (0, 0)",
			func(fi *Fdinfo) error { _, err := fi.Timerfd(); return err }, "it_value"},
		{"clockid: 1", func(fi *Fdinfo) error { _, err := fi.Timerfd(); return err }, "no ticks"},
		{"inotify wd:1 ino:1 sdev:1 mask:1 ignored_mask:0 fhandle-bytes:4 fhandle-type:1 f_handle:00",
			func(fi *Fdinfo) error { _, err := fi.InotifyWatches(); return err }, "f_handle of 4 bytes"},
		{"Pid: -2", func(fi *Fdinfo) error { _, err := fi.PidfdPid(); return err }, "Pid"},
	} {
		fi := &Fdinfo{}
		if c.extra != "" {
			fi.Extra = strings.Split(c.extra, "\n")
		}
		wantMalformed(t, c.fn(fi), c.want)
	}
}

// FuzzFdinfoKinds runs every type-specific accessor on any fdinfo text.
func FuzzFdinfoKinds(f *testing.F) {
	f.Add([]byte("pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t1\ntfd: 1 events: 19 data: 5 pos:0 ino:1 sdev:2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fi, err := ParseFdinfo(bytes.NewReader(b))
		if err != nil {
			return
		}
		_, err = fi.Eventfd()
		checkParseErr(t, err)
		tfds, err := fi.EpollTargets()
		checkParseErr(t, err)
		for _, tfd := range tfds {
			if tfd.Fd < 0 {
				t.Fatalf("negative target fd %+v", tfd)
			}
		}
		_, err = fi.SignalfdMask()
		checkParseErr(t, err)
		tf, err := fi.Timerfd()
		checkParseErr(t, err)
		if err == nil && (tf.Value.Nsec >= 1e9 || tf.Interval.Nsec >= 1e9 || tf.Value.Sec < 0) {
			t.Fatalf("bad timespec %+v", tf)
		}
		ws, err := fi.InotifyWatches()
		checkParseErr(t, err)
		for _, w := range ws {
			if len(w.Handle) > maxHandleBytes || w.Wd < 0 {
				t.Fatalf("bad watch %+v", w)
			}
		}
		_, err = fi.PidfdPid()
		checkParseErr(t, err)
	})
}

func TestParseMountinfo(t *testing.T) {
	ms, err := ParseMountinfo(fixtureReader(t, "mountinfo-self.txt"))
	if err != nil || len(ms) != 4 {
		t.Fatalf("ParseMountinfo = %+v, %v", ms, err)
	}
	if ms[0] != (Mount{ID: 22, Major: 0, Minor: 21, Root: "/", Point: "/proc"}) {
		t.Errorf("first mount %+v", ms[0])
	}
	if ms[3].Point != "/tmp/a b" {
		t.Errorf("escaped mount point %q", ms[3].Point)
	}
	if got := unescapeOctal(`a\1b\\\777\134`); got != `a\1b\\\777\` {
		t.Errorf("unescapeOctal = %q", got)
	}
	_, err = ParseMountinfo(strings.NewReader("1 2 3\n"))
	wantMalformed(t, err, "3 fields")
	_, err = ParseMountinfo(strings.NewReader("1 2 0-1 / /x\n"))
	wantMalformed(t, err, "device")
	if ms, err := ReadMountinfo(os.Getpid()); err != nil || len(ms) == 0 {
		t.Errorf("ReadMountinfo(self) = %d mounts, %v", len(ms), err)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("99 36 0:50 / /tmp/a\\040b rw,relatime shared:40 - tmpfs tmpfs rw\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMountinfo(bytes.NewReader(b))
		checkParseErr(t, err)
		for _, m := range ms {
			if len(m.Point) > len(b) || len(m.Root) > len(b) {
				t.Fatalf("paths longer than the input: %+v", m)
			}
		}
	})
}
