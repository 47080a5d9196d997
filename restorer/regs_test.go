package restorer

import (
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

func neg(n int64) uint64 { return uint64(-n) }

func TestRestartFixup(t *testing.T) {
	const rip = 0x401000
	for _, c := range []struct {
		name            string
		rax, orig       uint64
		wantRax, wantIP uint64
	}{
		{"not in a syscall", 7, ^uint64(0), 7, rip},
		{"ERESTARTSYS read", neg(errRestartSys), 0, 0, rip - 2},
		{"ERESTARTNOINTR", neg(errRestartNoIntr), 61, 61, rip - 2},
		{"ERESTARTNOHAND pause", neg(errRestartNoHand), 34, 34, rip - 2},
		{"restart block nanosleep", neg(errRestartRestartBlock), linux.SysNanosleep, linux.SysNanosleep, rip - 2},
		{"restart block clock_nanosleep", neg(errRestartRestartBlock), linux.SysClockNanosleep, linux.SysClockNanosleep, rip - 2},
		{"restart block poll", neg(errRestartRestartBlock), linux.SysPoll, linux.SysPoll, rip - 2},
		{"restart block futex", neg(errRestartRestartBlock), linux.SysFutex, linux.SysFutex, rip - 2},
		{"restart block other", neg(errRestartRestartBlock), 1000, neg(errIntr), rip},
		{"completed syscall", 3, 0, 3, rip},
	} {
		r := linux.Regs{Rax: c.rax, Orig_rax: c.orig, Rip: rip}
		restartFixup(&r)
		if r.Rax != c.wantRax || r.Rip != c.wantIP || r.Orig_rax != ^uint64(0) {
			t.Errorf("%s: rax %#x rip %#x orig %#x; want rax %#x rip %#x orig -1",
				c.name, r.Rax, r.Rip, r.Orig_rax, c.wantRax, c.wantIP)
		}
	}
}

func pm(addr, pages uint64, zero bool) *pagemap.PagemapEntry {
	f := uint32(images.PagemapPresent)
	if zero {
		f |= images.PagemapZero
	}
	return &pagemap.PagemapEntry{Vaddr: proto.Uint64(addr), NrPages: proto.Uint64(pages), Flags: proto.Uint32(f)}
}

func TestSplitData(t *testing.T) {
	entries := []*pagemap.PagemapEntry{
		pm(0x10000, 10, false),
		pm(0x20000, 100, true), // zero runs weigh nothing
		pm(0x100000, 10, false),
		pm(0x200000, 20, false),
	}
	got := splitData(entries, 2)
	if len(got) != 2 {
		t.Fatalf("%d ranges: %x", len(got), got)
	}
	if got[0] != [2]uint64{0, 0x100000 + 10*linux.PageSize} || got[1][0] != got[0][1] || got[1][1] != maxUserAddr {
		t.Errorf("ranges %x", got)
	}
	if one := splitData(entries, 1); len(one) != 1 || one[0] != [2]uint64{0, maxUserAddr} {
		t.Errorf("one worker: %x", one)
	}
	if none := splitData(nil, 4); len(none) != 1 {
		t.Errorf("no pages: %x", none)
	}
}

func TestChecksSize(t *testing.T) {
	for _, c := range []struct {
		flags uint32
		want  bool
	}{
		{linux.OWronly | linux.OAppend, false},
		{linux.ORdwr | linux.OAppend, true},
		{linux.OWronly, true},
		{linux.ORdonly, true},
	} {
		if got := checksSize(c.flags); got != c.want {
			t.Errorf("checksSize(%#o) = %v, want %v", c.flags, got, c.want)
		}
	}
}
