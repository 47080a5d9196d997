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
	}{
		{"/tmp/log", true},
		{"/dev/null", true},
		{"socket:[123]", false},
		{"pipe:[9]", false},
		{"anon_inode:[eventfd]", false},
		{"/memfd:x (deleted)", false},
		{"/tmp/gone (deleted)", false},
		{"net:[4026531840]", false},
	} {
		err := classifyLink(c.link, "fd 3")
		var ue *UnsupportedError
		if c.ok != (err == nil) || (err != nil && !errors.As(err, &ue)) {
			t.Errorf("classifyLink(%q) = %v, want ok=%v", c.link, err, c.ok)
		}
	}
}

func TestClassifyMode(t *testing.T) {
	dev := func(maj, min uint64) uint64 { return maj<<8 | min }
	for _, c := range []struct {
		name string
		st   linux.StatInfo
		ok   bool
	}{
		{"regular", linux.StatInfo{Mode: linux.SIfreg}, true},
		{"dir", linux.StatInfo{Mode: linux.SIfdir}, true},
		{"/dev/null", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(1, 3)}, true},
		{"/dev/tty", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(5, 0)}, false},
		{"pts", linux.StatInfo{Mode: linux.SIfchr, Rdev: dev(136, 2)}, false},
		{"fifo", linux.StatInfo{Mode: linux.SIfifo}, false},
		{"block", linux.StatInfo{Mode: linux.SIfblk}, false},
	} {
		if err := classifyMode(c.st, "fd"); c.ok != (err == nil) {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
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
		{pagesAll, 0, true},
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
