package proc

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseSmapsMatchesMaps(t *testing.T) {
	ss, err := ParseSmaps(fixtureReader(t, "smaps-victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ParseMaps(fixtureReader(t, "maps-victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != len(ms) {
		t.Fatalf("smaps has %d mappings, maps %d", len(ss), len(ms))
	}
	for i := range ms {
		s := ss[i]
		s.VmFlags, s.Rss, s.Swap, s.Anonymous = 0, 0, 0, 0
		if !reflect.DeepEqual(s, ms[i]) {
			t.Errorf("mapping %d: smaps %+v, maps %+v", i, s, ms[i])
		}
	}
}

// String must print the kernel's own line back, in the kernel's order.
func TestVmFlagsRoundTrip(t *testing.T) {
	for _, name := range []string{"smaps-victim.txt", "smaps-cat.txt"} {
		b := fixture(t, name)
		ss, err := ParseSmaps(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmFlags:"); ok {
				lines = append(lines, strings.TrimSpace(v))
			}
		}
		if len(lines) != len(ss) {
			t.Fatalf("%s: %d VmFlags lines, %d mappings", name, len(lines), len(ss))
		}
		for i, m := range ss {
			if m.VmFlags.String() != lines[i] || m.UnknownVmFlags != nil {
				t.Errorf("%s %#x: String() = %q, unknown %q, file has %q",
					name, m.Start, m.VmFlags, m.UnknownVmFlags, lines[i])
			}
		}
	}
}

func TestParseSmapsFlags(t *testing.T) {
	ss, err := ParseSmaps(fixtureReader(t, "smaps-victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		start      uint64
		has, hasnt VmFlags
	}{
		{0x7f1b931fe000, VmRead | VmSealed, VmWrite},                                       // mseal
		{0x7f1b931ff000, VmNoReserve | VmWipeOnFork | VmDontDump | VmDroppable, VmAccount}, // MAP_DROPPABLE
		{0x7f1b93200000, VmHugePage, VmNoHugePage},
		{0x7f1b93400000, VmNoHugePage, VmHugePage},
		{0x7f1b93684000, VmLocked | VmLockOnFault, 0},
		{0x7f1b93688000, VmLocked | VmAccount, VmLockOnFault},
		{0x7f1b9367a000, VmDontCopy, 0},
		{0x7f1b9367e000, VmSeqRead, VmRandRead},
		{0x7f1b93680000, VmRandRead, VmSeqRead},
		{0x7f1b93682000, VmMergeable, 0},
		{0x7f1b93677000, VmGrowsDown, 0},
		{0x7f1b9387b000, VmPFNMap | VmIO | VmDontExpand | VmDontDump, VmMayWrite}, // [vvar]
		{0x7f1b931fb000, VmShared | VmMayShare | VmExec, 0},
		{0xffffffffff600000, VmExec, VmRead | VmMayRead},
	}
	for _, tt := range tests {
		m := findMapping(t, ss, tt.start)
		if !m.VmFlags.Has(tt.has) || tt.hasnt != 0 && m.VmFlags&tt.hasnt != 0 {
			t.Errorf("%#x: flags %q, want %q and none of %q", tt.start, m.VmFlags, tt.has, tt.hasnt)
		}
	}
	heap := findMapping(t, ss, 0x558c9e401000)
	if heap.Rss != 8<<10 || heap.Anonymous != 8<<10 || heap.Swap != 0 {
		t.Errorf("[heap] rss %d anon %d swap %d", heap.Rss, heap.Anonymous, heap.Swap)
	}
	shm := findMapping(t, ss, 0x7f1b9368a000)
	if shm.Rss != 4<<10 || shm.Anonymous != 0 {
		t.Errorf("shared anon rss %d anon %d", shm.Rss, shm.Anonymous)
	}
}

func TestParseVmFlagsUnknown(t *testing.T) {
	f, unknown := ParseVmFlags(" rd zz wr ?? gu ")
	if f != VmRead|VmWrite|VmMaybeGuard || !reflect.DeepEqual(unknown, []string{"zz", "??"}) {
		t.Errorf("got %q, %q", f, unknown)
	}
	if VmFlags(0).String() != "" || (VmRead|1<<63).String() != "rd" {
		t.Error("String of empty or unnamed bits")
	}
	for i, n := range vmFlagNames {
		if len(n) != 2 || vmFlagByName[n] != 1<<i {
			t.Errorf("bit %d: bad name %q", i, n)
		}
	}
}

func TestParseSmapsErrors(t *testing.T) {
	hdr := "7f00-8000 rw-p 00000000 00:00 0 \n"
	tests := []struct{ in, want string }{
		{"Rss: 4 kB\n" + hdr, "before the first mapping"},
		{hdr + "Rss: 4 MB\n", "kB"},
		{hdr + "Swap: x kB\n", "Swap"},
		{hdr + "Anonymous: 18014398509481984 kB\n", "too large"},
		{hdr + "garbage line\n", "address range"},
	}
	for _, tt := range tests {
		_, err := ParseSmaps(strings.NewReader(tt.in))
		wantMalformed(t, err, tt.want)
	}
	ss, err := ParseSmaps(strings.NewReader(hdr + "Size: 4 kB\nProtectionKey:  0\nVmFlags: rd wr\n"))
	if err != nil || len(ss) != 1 || ss[0].VmFlags != VmRead|VmWrite {
		t.Errorf("got %+v, %v", ss, err)
	}
}

func TestReadSmapsSelf(t *testing.T) {
	ss, err := ReadSmaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var vdso bool
	for _, m := range ss {
		if m.VmFlags == 0 {
			t.Errorf("%#x %s: no VmFlags", m.Start, m.Path)
		}
		if m.Path == "[vdso]" {
			vdso = m.VmFlags.Has(VmRead | VmExec)
		}
	}
	if !vdso {
		t.Error("no readable, executable [vdso]")
	}
}
