package linux

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/crlazy/crlazy/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestFdKindsABI(t *testing.T) {
	if got := unsafe.Sizeof(kcmpEpollSlot{}); got != 12 {
		t.Errorf("sizeof(kcmp_epoll_slot) = %d, want 12", got)
	}
	if tfdIocSetTicks != 0x40085400 {
		t.Errorf("TFD_IOC_SET_TICKS = %#x, want 0x40085400", tfdIocSetTicks)
	}
}

// fdinfoOf returns /proc/self/fdinfo of f.
func fdinfoOf(t *testing.T, f *os.File) string {
	t.Helper()
	fd, err := RawFd(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// TestTeeKeepsData: tee copies what a pipe holds without consuming it.
func TestTeeKeepsData(t *testing.T) {
	r, w, err := Pipe2()
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := Pipe2()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(r, w, r2, w2)
	if n, err := SetPipeSize(w, 1<<17); err != nil || n != 1<<17 {
		t.Fatalf("SetPipeSize = %d, %v", n, err)
	}
	if n, err := PipeSize(r); err != nil || n != 1<<17 {
		t.Fatalf("PipeSize = %d, %v", n, err)
	}
	data := bytes.Repeat([]byte("crlazy pipe "), 5000)
	if err := WriteFull(w, data); err != nil {
		t.Fatal(err)
	}
	if _, err := SetPipeSize(w2, 1<<17); err != nil {
		t.Fatal(err)
	}
	if n, err := Tee(r, w2, len(data)); err != nil || n != len(data) {
		t.Fatalf("Tee = %d, %v; want %d", n, err, len(data))
	}
	got := make([]byte, len(data))
	if err := ReadFull(r2, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("teed data differs (%v)", err)
	}
	if n, err := PipeQueued(r); err != nil || n != len(data) {
		t.Errorf("after tee the pipe holds %d bytes (%v), want %d", n, err, len(data))
	}
	if err := SetStatusFlags(r, unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	if fl, err := StatusFlags(r); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("StatusFlags = %#o, %v", fl, err)
	}
}

func TestEventfdCreate(t *testing.T) {
	for _, c := range []struct {
		counter   uint64
		semaphore bool
		read      uint64
	}{
		{0, false, 0},
		{5, true, 1},
		{1 << 40, false, 1 << 40},
	} {
		f, err := EventfdCreate(c.counter, c.semaphore)
		if err != nil {
			t.Fatal(err)
		}
		info := fdinfoOf(t, f)
		if !strings.Contains(info, fmt.Sprintf("eventfd-count: %16x", c.counter)) {
			t.Errorf("counter %d: fdinfo %q", c.counter, info)
		}
		if c.read != 0 {
			var b [8]byte
			if err := ReadFull(f, b[:]); err != nil || binary.NativeEndian.Uint64(b[:]) != c.read {
				t.Errorf("counter %d: read %d, %v; want %d", c.counter, binary.NativeEndian.Uint64(b[:]), err, c.read)
			}
		}
		f.Close()
	}
}

func TestSignalfdCreate(t *testing.T) {
	f, err := SignalfdCreate(1<<(unix.SIGUSR1-1) | 1<<(34+3-1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info := fdinfoOf(t, f); !strings.Contains(info, "sigmask:\t0000001000000200") {
		t.Errorf("fdinfo %q", info)
	}
}

func TestTimerfd(t *testing.T) {
	f, err := TimerfdCreate(unix.CLOCK_MONOTONIC)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := TimerfdSettime(f, 0, Itimerspec{ValueSec: 100, IntervalSec: 2, IntervalNsec: 500}); err != nil {
		t.Fatal(err)
	}
	if err := TimerfdSetTicks(f, 7); err != nil {
		t.Fatal(err)
	}
	info := fdinfoOf(t, f)
	for _, want := range []string{"ticks: 7", "it_interval: (2, 500)", "it_value: (99, "} {
		if !strings.Contains(info, want) {
			t.Errorf("fdinfo lacks %q:\n%s", want, info)
		}
	}
	var b [8]byte
	if err := ReadFull(f, b[:]); err != nil || binary.NativeEndian.Uint64(b[:]) != 7 {
		t.Errorf("read %d, %v; want 7 ticks", binary.NativeEndian.Uint64(b[:]), err)
	}
	if sec, _, err := ClockGettime(unix.CLOCK_MONOTONIC); err != nil || sec <= 0 {
		t.Errorf("ClockGettime = %d, %v", sec, err)
	}
}

func TestInotify(t *testing.T) {
	f, err := InotifyCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	wd, err := InotifyAddWatch(f, dir, unix.IN_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if err := InotifyRmWatch(f, wd); err != nil {
		t.Fatal(err)
	}
	// Watch descriptors are allocated cyclically: a new watch gets a new
	// number, which is how a restore reaches a dumped one.
	wd2, err := InotifyAddWatch(f, dir, unix.IN_DELETE)
	if err != nil || wd2 != wd+1 {
		t.Errorf("second watch %d, %v; want %d", wd2, err, wd+1)
	}
}

// TestOpenByHandle: the handle name_to_handle_at gives opens the file
// again (as root: CAP_DAC_READ_SEARCH).
func TestOpenByHandle(t *testing.T) {
	testutil.RequirePriv(t)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	mount, err := OpenFile(filepath.Dir(path), unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer mount.Close()
	f, err := OpenByHandle(mount, h.Type(), h.Bytes(), unix.O_PATH)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, _ := RawFd(f)
	if got, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil || got != path {
		t.Errorf("opened %q, %v; want %q", got, err, path)
	}
}

func TestKcmpEpollTarget(t *testing.T) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	e1, err := EventfdCreate(0, false)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := EventfdCreate(0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(e1, e2)
	fd1, _ := RawFd(e1)
	fd2, _ := RawFd(e2)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd1, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	if same, err := KcmpEpollTarget(pid, ep, fd1, 0, fd1); err != nil || !same {
		t.Errorf("registered target: same=%v, %v", same, err)
	}
	if same, err := KcmpEpollTarget(pid, ep, fd1, 0, fd2); err != nil || same {
		t.Errorf("other file: same=%v, %v", same, err)
	}
	if _, err := KcmpEpollTarget(pid, ep, fd2, 0, fd2); err == nil {
		t.Error("an fd that is not registered compared without error")
	}
}

func TestPidfdAndSocketInfo(t *testing.T) {
	p, err := PidfdOpenFlags(os.Getpid(), PidfdThread)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer closeAll(a, b)
	d, typ, _, err := SocketInfo(a)
	if err != nil || d != AfUnix || typ != SockSeqpacket {
		t.Errorf("SocketInfo = %d %d, %v", d, typ, err)
	}
}

func TestEpollEventBytes(t *testing.T) {
	want := []byte{0x19, 0, 0, 0x80, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}
	if got := EpollEventBytes(0x80000019, 0x1122334455667788); !bytes.Equal(got, want) {
		t.Errorf("EpollEventBytes = % x, want % x", got, want)
	}
}

func TestDrain(t *testing.T) {
	r, w, err := Pipe2()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(r, w)
	if err := WriteFull(w, make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	if err := SetStatusFlags(r, unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	if err := Drain(r); err != nil {
		t.Fatal(err)
	}
	if n, err := PipeQueued(r); err != nil || n != 0 {
		t.Errorf("after Drain %d bytes queued (%v)", n, err)
	}
}

// BenchmarkTeeCopy measures how a dump copies a full 1 MiB pipe without
// consuming it: tee into a pipe of the same capacity, then read.
func BenchmarkTeeCopy(b *testing.B) {
	const size = 1 << 20
	r, w, err := Pipe2()
	if err != nil {
		b.Fatal(err)
	}
	r2, w2, err := Pipe2()
	if err != nil {
		b.Fatal(err)
	}
	defer closeAll(r, w, r2, w2)
	for _, f := range []*os.File{w, w2} {
		if _, err := SetPipeSize(f, size); err != nil {
			b.Skipf("pipe of %d bytes: %v", size, err)
		}
	}
	if err := WriteFull(w, make([]byte, size)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, size)
	b.SetBytes(size)
	for b.Loop() {
		if n, err := Tee(r, w2, size); err != nil || n != size {
			b.Fatalf("tee %d, %v", n, err)
		}
		if err := ReadFull(r2, buf); err != nil {
			b.Fatal(err)
		}
	}
}
