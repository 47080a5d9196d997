package dumper

import (
	"errors"
	"testing"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

func TestClassifyLink(t *testing.T) {
	for _, c := range []struct {
		link string
		ok   bool
		kind fdKind
	}{
		{"/tmp/log", true, kindReg},
		{"/dev/null", true, kindReg},
		{"pipe:[9]", true, kindPipe},
		{"anon_inode:[eventfd]", true, kindEventfd},
		{"anon_inode:[eventpoll]", true, kindEpoll},
		{"anon_inode:[signalfd]", true, kindSignalfd},
		{"anon_inode:[timerfd]", true, kindTimerfd},
		{"anon_inode:inotify", true, kindInotify},
		{"anon_inode:[pidfd]", true, kindPidfd},
		{"socket:[123]", true, kindSocket},
		{"anon_inode:[io_uring]", false, kindReg},
		{"anon_inode:bpf-map", false, kindReg},
		{"anon_inode:[userfaultfd]", false, kindReg},
		{"anon_inode:[something-new]", false, kindReg},
		{"/memfd:x (deleted)", true, kindMemfd},
		{"/tmp/gone (deleted)", true, kindGhost},
		{"net:[4026531840]", false, kindReg},
	} {
		kind, err := classifyLink(c.link, "fd 3")
		var ue *UnsupportedError
		if c.ok != (err == nil) || (err != nil && !errors.As(err, &ue)) || kind != c.kind {
			t.Errorf("classifyLink(%q) = %v, %v; want ok=%v kind %v", c.link, kind, err, c.ok, c.kind)
		}
	}
}

func TestClassifyMode(t *testing.T) {
	dev := func(maj, min uint64) uint64 { return maj<<8 | min }
	for _, c := range []struct {
		name string
		st   linux.StatInfo
		ok   bool
		kind fdKind
	}{
		{"regular", linux.StatInfo{Mode: linux.SIfreg}, true, kindReg},
		{"dir", linux.StatInfo{Mode: linux.SIfdir}, true, kindReg},
		{"/dev/null", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(1, 3)}, true, kindReg},
		{"/dev/tty", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(5, 0)}, true, kindTTY},
		{"pts", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(136, 2)}, true, kindTTY},
		{"/dev/ptmx", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(5, 2)}, true, kindTTY},
		{"fifo", linux.StatInfo{Mode: linux.SIfifo}, true, kindFifo},
		{"block", linux.StatInfo{Mode: linux.SIfblk}, false, kindReg},
	} {
		if kind, err := classifyMode(c.st, "fd"); c.ok != (err == nil) || kind != c.kind {
			t.Errorf("%s: %v, %v; want ok=%v kind %v", c.name, kind, err, c.ok, c.kind)
		}
	}
}

func TestSocketName(t *testing.T) {
	for _, c := range []struct {
		domain, typ, proto int
		want               string
	}{
		{linux.AfUnix, linux.SockStream, 0, "UNIX stream"},
		{linux.AfUnix, linux.SockSeqpacket, 0, "UNIX seqpacket"},
		{linux.AfInet, linux.SockStream, linux.IpprotoTCP, "IPv4 TCP"},
		{linux.AfInet6, linux.SockStream, linux.IpprotoMPTCP, "IPv6 MPTCP"},
		{linux.AfInet, linux.SockRaw, 1, "IPv4 raw"},
		{linux.AfNetlink, linux.SockRaw, 0, "netlink, protocol 0"},
		{linux.AfPacket, linux.SockRaw, 768, "packet raw"},
		{99, 42, 0, "family 99 type 42"},
	} {
		if got := socketName(c.domain, c.typ, c.proto); got != c.want {
			t.Errorf("socketName(%d, %d, %d) = %q, want %q", c.domain, c.typ, c.proto, got, c.want)
		}
	}
}

func TestWanted(t *testing.T) {
	const present, swapped, file = 1 << 63, 1 << 62, 1 << 61
	for _, c := range []struct {
		mode pageMode
		e    proc.PagemapEntry
		want bool
	}{
		{pagesAnon, present, true},
		{pagesAnon, swapped, true},
		{pagesAnon, 0, false},
		{pagesFilePrivate, present | file, false}, // still the file's page
		{pagesFilePrivate, present, true},         // copied on write
		{pagesFilePrivate, swapped, true},
		{pagesShared, present, false}, // planned by ranges, not the pagemap
		{pagesNone, present, false},
	} {
		if got := wanted(c.mode, c.e); got != c.want {
			t.Errorf("wanted(%d, %#x) = %v, want %v", c.mode, uint64(c.e), got, c.want)
		}
	}
}

func TestMadvBits(t *testing.T) {
	got := madvBits(proc.VmHugePage | proc.VmDontCopy | proc.VmRead)
	want := uint64(1<<linux.MadvHugepage | 1<<linux.MadvDontfork)
	if got != want {
		t.Errorf("madvBits = %#x, want %#x", got, want)
	}
}
