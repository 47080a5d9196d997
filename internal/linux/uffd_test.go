package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"github.com/crlazy/crlazy/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestUffdIoctlNumbers pins the computed request numbers to the values
// measured on x86_64 (KERNEL-FACTS §1).
func TestUffdIoctlNumbers(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"UFFDIO_API", uffdioAPIReq, 0xC018AA3F},
		{"UFFDIO_REGISTER", uffdioRegisterReq, 0xC020AA00},
		{"UFFDIO_UNREGISTER", uffdioUnregisterReq, 0x8010AA01},
		{"UFFDIO_WAKE", uffdioWakeReq, 0x8010AA02},
		{"UFFDIO_COPY", uffdioCopyReq, 0xC028AA03},
		{"UFFDIO_ZEROPAGE", uffdioZeropageReq, 0xC020AA04},
		{"UFFDIO_MOVE", uffdioMoveReq, 0xC028AA05},
		{"UFFDIO_WRITEPROTECT", uffdioWriteprotectReq, 0xC018AA06},
		{"UFFDIO_CONTINUE", uffdioContinueReq, 0xC020AA07},
		{"UFFDIO_POISON", uffdioPoisonReq, 0xC020AA08},
		{"USERFAULTFD_IOC_NEW", uffdIocNewReq, 0xAA00},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

func TestUffdStructSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"uffdio_api", unsafe.Sizeof(uffdioAPI{}), 24},
		{"uffdio_range", unsafe.Sizeof(uffdioRange{}), 16},
		{"uffdio_register", unsafe.Sizeof(uffdioRegister{}), 32},
		{"uffdio_copy", unsafe.Sizeof(uffdioCopy{}), 40},
		{"uffdio_zeropage", unsafe.Sizeof(uffdioZeropage{}), 32},
		{"uffdio_writeprotect", unsafe.Sizeof(uffdioWriteprotect{}), 24},
		{"uffdio_move", unsafe.Sizeof(uffdioMove{}), 40},
		{"uffdio_continue", unsafe.Sizeof(uffdioContinue{}), 32},
		{"uffdio_poison", unsafe.Sizeof(uffdioPoison{}), 32},
		{"uffd_msg", unsafe.Sizeof(UffdMsg{}), 32},
	} {
		if c.got != c.want {
			t.Errorf("sizeof(struct %s) = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestUffdMsgAccessors decodes hand-built messages at the kernel's
// offsets: event at 0, the union from 8.
func TestUffdMsgAccessors(t *testing.T) {
	var m UffdMsg
	le := binary.LittleEndian
	m[0] = UffdEventPagefault
	le.PutUint64(m[8:], UffdPagefaultFlagWrite|UffdPagefaultFlagWP)
	le.PutUint64(m[16:], 0x7f0000001000)
	le.PutUint32(m[24:], 4242)
	if m.Event() != UffdEventPagefault || m.PagefaultFlags() != 3 || m.PagefaultAddress() != 0x7f0000001000 || m.PagefaultPtid() != 4242 {
		t.Errorf("pagefault: event %#x flags %#x addr %#x ptid %d", m.Event(), m.PagefaultFlags(), m.PagefaultAddress(), m.PagefaultPtid())
	}
	if m.ForkUffd() != 3 {
		t.Errorf("fork ufd = %d, want the low half of the first union word", m.ForkUffd())
	}
	le.PutUint64(m[8:], 0x1000)
	le.PutUint64(m[16:], 0x5000)
	le.PutUint64(m[24:], 0x3000)
	if m.RemapFrom() != 0x1000 || m.RemapTo() != 0x5000 || m.RemapLen() != 0x3000 {
		t.Errorf("remap %#x -> %#x len %#x", m.RemapFrom(), m.RemapTo(), m.RemapLen())
	}
	if m.RemoveStart() != 0x1000 || m.RemoveEnd() != 0x5000 {
		t.Errorf("remove %#x-%#x", m.RemoveStart(), m.RemoveEnd())
	}
}

// faultSink receives the bytes the faulting goroutine loads, so that the
// compiler keeps the loads.
var faultSink byte

// touchFromThread reads b[off] from a goroutine on its own OS thread and
// sends the value read once the fault is resolved.
func touchFromThread(b []byte, off int) <-chan byte {
	got := make(chan byte, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		faultSink = b[off]
		got <- faultSink
	}()
	return got
}

// newUffd opens a non-blocking userfaultfd and does the handshake.
func newUffd(t *testing.T, features uint64) *os.File {
	t.Helper()
	f, err := UserfaultfdOpen(ONonblock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, _, err := UffdAPI(f, features); err != nil {
		t.Fatal(err)
	}
	return f
}

// mapPages maps n private anonymous pages, unmapped at the end of the test.
func mapPages(t *testing.T, n int) ([]byte, uint64) {
	t.Helper()
	b, err := unix.Mmap(-1, 0, n*PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(b) })
	if err := unix.Madvise(b, unix.MADV_NOHUGEPAGE); err != nil {
		t.Fatal(err)
	}
	return b, uint64(uintptr(unsafe.Pointer(&b[0])))
}

// readFault waits for the non-blocking uffd f to become readable and
// reads messages until a pagefault arrives.
func readFault(t *testing.T, f *os.File) UffdMsg {
	t.Helper()
	msgs := make([]UffdMsg, 4)
	for {
		pfd := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		n, err := UffdReadMsgs(f, msgs)
		if errors.Is(err, EAGAIN) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs[:n] {
			if m.Event() == UffdEventPagefault {
				return m
			}
			t.Errorf("unexpected event %#x", m.Event())
		}
	}
}

// TestUffdServeFault registers a region of this process, faults on it
// from another thread and resolves the fault with UFFDIO_COPY.
func TestUffdServeFault(t *testing.T) {
	testutil.RequirePriv(t)
	mem, base := mapPages(t, 4)
	f := newUffd(t, 0) // closed first at cleanup, while mem is mapped
	ioctls, err := UffdRegister(f, base, uint64(len(mem)), UffdRegisterModeMissing)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(UffdIoctlWake | UffdIoctlCopy | UffdIoctlZeropage); ioctls&want != want {
		t.Fatalf("register ioctls %#x lack %#x", ioctls, want)
	}
	got := touchFromThread(mem, PageSize+100)
	m := readFault(t, f)
	if m.PagefaultAddress() != base+PageSize || m.PagefaultFlags()&UffdPagefaultFlagWrite != 0 {
		t.Fatalf("fault at %#x flags %#x, want a read at %#x", m.PagefaultAddress(), m.PagefaultFlags(), base+PageSize)
	}
	page := bytes.Repeat([]byte{0x5a}, PageSize)
	page[100] = 0xc3
	if n, err := UffdCopy(f, base+PageSize, page, 0); err != nil || n != PageSize {
		t.Fatalf("copy: %d, %v", n, err)
	}
	if v := <-got; v != 0xc3 {
		t.Errorf("faulting thread read %#x, want 0xc3", v)
	}
	if !bytes.Equal(mem[PageSize:2*PageSize], page) {
		t.Errorf("page content differs from the copied data")
	}
	checkCopyErrors(t, f, mem, base)
	if err := UffdUnregister(f, base, uint64(len(mem))); err != nil {
		t.Fatal(err)
	}
}

// checkCopyErrors checks EEXIST on a present page, and the count of a
// copy that stops at one, then UFFDIO_ZEROPAGE.
func checkCopyErrors(t *testing.T, f *os.File, mem []byte, base uint64) {
	t.Helper()
	page := make([]byte, PageSize)
	n, err := UffdCopy(f, base+PageSize, page, UffdCopyModeDontwake)
	if !errors.Is(err, EEXIST) || n != 0 {
		t.Errorf("copy onto a present page: %d, %v; want 0, EEXIST", n, err)
	}
	two := bytes.Repeat([]byte{7}, 2*PageSize)
	n, err = UffdCopy(f, base, two, UffdCopyModeDontwake)
	if !errors.Is(err, EEXIST) || n != PageSize {
		t.Errorf("copy over pages 0-1 (1 present): %d, %v; want %d, EEXIST", n, err, PageSize)
	}
	if mem[0] != 7 {
		t.Errorf("page 0 holds %d after the partial copy, want 7", mem[0])
	}
	z, err := UffdZeropage(f, base+2*PageSize, 2*PageSize, 0)
	if err != nil || z != 2*PageSize {
		t.Errorf("zeropage: %d, %v", z, err)
	}
	if mem[3*PageSize+1] != 0 {
		t.Errorf("zero page reads %d", mem[3*PageSize+1])
	}
}

// TestUffdFromDevice opens a userfaultfd through /dev/userfaultfd, the
// fallback of UserfaultfdOpen.
func TestUffdFromDevice(t *testing.T) {
	testutil.RequirePriv(t)
	if _, err := os.Stat(devUserfaultfd); err != nil {
		testutil.RequireFeature(t, devUserfaultfd, err)
	}
	fd, err := userfaultfdFromDev(unix.O_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(fd, "userfaultfd")
	defer f.Close()
	features, ioctls, err := UffdAPI(f, UffdFeatureEventFork)
	if err != nil {
		t.Fatal(err)
	}
	if features&UffdFeatureEventFork == 0 || ioctls&UffdIoctlRegister == 0 {
		t.Errorf("features %#x ioctls %#x", features, ioctls)
	}
	if _, _, err := UffdAPI(f, 0); !errors.Is(err, EINVAL) {
		t.Errorf("second handshake: %v, want EINVAL", err)
	}
}

// TestUffdReadEmpty checks that reading an empty non-blocking uffd gives
// EAGAIN rather than waiting.
func TestUffdReadEmpty(t *testing.T) {
	testutil.RequirePriv(t)
	f := newUffd(t, 0)
	n, err := UffdReadMsgs(f, make([]UffdMsg, 1))
	if n != 0 || !errors.Is(err, EAGAIN) {
		t.Errorf("read of an empty uffd: %d, %v; want 0, EAGAIN", n, err)
	}
}
