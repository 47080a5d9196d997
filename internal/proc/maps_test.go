package proc

import (
	"os"
	"strings"
	"testing"
)

func TestParseMapsVictim(t *testing.T) {
	ms, err := ParseMaps(fixtureReader(t, "maps-victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 58 {
		t.Fatalf("got %d mappings, want 58", len(ms))
	}
	want := Mapping{
		Start: 0x558c7b783000, End: 0x558c7b784000, Read: true,
		Major: 0xfe, Inode: 9978386, Path: "/tmp/procfix/a) b (c",
	}
	if ms[0].Path != want.Path || ms[0].Start != want.Start || ms[0].End != want.End ||
		!ms[0].Read || ms[0].Write || ms[0].Exec || ms[0].Shared || ms[0].Major != want.Major ||
		ms[0].Minor != 0 || ms[0].Inode != want.Inode || ms[0].Deleted {
		t.Errorf("first mapping = %+v, want %+v", ms[0], want)
	}
	if ms[1].Offset != 0x1000 || !ms[1].Exec {
		t.Errorf("text mapping = %+v, want offset 0x1000 and exec", ms[1])
	}
}

func TestParseMapsPaths(t *testing.T) {
	ms, err := ParseMaps(fixtureReader(t, "maps-victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		start   uint64
		path    string
		deleted bool
		shared  bool
		inode   uint64
	}{
		{0x7f1b93877000, "/tmp/procfix/dir with space/lib file.bin", false, false, 9978397},
		{0x7f1b93875000, "/tmp/procfix/deleted me", true, true, 9978398},
		{0x7f1b93873000, `/tmp/procfix/nl\012file`, false, false, 9978399},
		// A live file named "ends in (deleted)": indistinguishable by text.
		{0x7f1b93871000, "/tmp/procfix/ends in", true, false, 9978400},
		{0x7f1b93870000, "/memfd:crlazy memfd", true, true, 4},
		{0x7f1b93689000, "/SYSV00000000", true, true, 0},
		{0x7f1b9368a000, "/dev/zero", true, true, 5},
		{0x7f1b921f9000, "", false, false, 0},
		{0xffffffffff600000, "[vsyscall]", false, false, 0},
	}
	for _, tt := range tests {
		m := findMapping(t, ms, tt.start)
		if m.Path != tt.path || m.Deleted != tt.deleted || m.Shared != tt.shared || m.Inode != tt.inode {
			t.Errorf("%#x: got path %q deleted %v shared %v inode %d, want %q %v %v %d",
				tt.start, m.Path, m.Deleted, m.Shared, m.Inode, tt.path, tt.deleted, tt.shared, tt.inode)
		}
	}
	if m := findMapping(t, ms, 0x7f1b93877000); m.Len() != 0x2000 {
		t.Errorf("Len = %#x, want 0x2000", m.Len())
	}
}

// On 6.18 the vDSO data is two mappings, [vvar] and [vvar_vclock], right
// before [vdso].
func TestParseMapsVdsoLayout(t *testing.T) {
	ms, err := ParseMaps(fixtureReader(t, "maps-cat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Path != "[vvar]" {
			continue
		}
		if i+2 >= len(ms) || ms[i+1].Path != "[vvar_vclock]" || ms[i+2].Path != "[vdso]" ||
			ms[i+1].Start != m.End || ms[i+2].Start != ms[i+1].End {
			t.Fatalf("no contiguous [vvar] [vvar_vclock] [vdso] at %d", i)
		}
		if m.Len() != 4*PageSize || ms[i+1].Len() != 2*PageSize || !ms[i+2].Exec {
			t.Errorf("sizes %#x %#x, exec %v", m.Len(), ms[i+1].Len(), ms[i+2].Exec)
		}
		return
	}
	t.Fatal("no [vvar]")
}

func TestIsSpecial(t *testing.T) {
	for path, want := range map[string]bool{
		"[vdso]": true, "[vvar_vclock]": true, "[heap]": true, "[stack]": true,
		"[anon:jit]": false, "[anon_shmem:x]": false, "": false, "/usr/lib/libc.so.6": false,
	} {
		if got := (Mapping{Path: path}).IsSpecial(); got != want {
			t.Errorf("IsSpecial(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestParseMapsErrors(t *testing.T) {
	good := "7f00-8000 rw-p 00000000 fe:00 12   /x\n"
	tests := []struct{ in, want string }{
		{"", ""},
		{good + "\n", "line 2"},
		{"7f00 rw-p 00000000 fe:00 12 /x\n", "address range"},
		{"8000-7f00 rw-p 00000000 fe:00 12 /x\n", "empty address range"},
		{"zz-8000 rw-p 00000000 fe:00 12 /x\n", "start address"},
		{"7f00-8000 rwzp 00000000 fe:00 12 /x\n", "permissions"},
		{"7f00-8000 rw-p 0000g000 fe:00 12 /x\n", "offset"},
		{"7f00-8000 rw-p 00000000 fe00 12 /x\n", "device"},
		{"7f00-8000 rw-p 00000000 fe:100000000 12 /x\n", "device minor"},
		{"7f00-8000 rw-p 00000000 fe:00 -1 /x\n", "inode"},
		{"7f00-8000 rw-p 00000000 fe:00\n", "inode"},
	}
	for _, tt := range tests {
		_, err := ParseMaps(strings.NewReader(tt.in))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.in, err)
			}
			continue
		}
		wantMalformed(t, err, tt.want)
	}
}

func TestReadMapsSelf(t *testing.T) {
	ms, err := ReadMaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Path] = true
		if m.VmFlags != 0 {
			t.Errorf("maps gave VmFlags %v", m.VmFlags)
		}
	}
	for _, p := range []string{exe, "[stack]", "[vdso]", "[vvar]"} {
		if !seen[p] {
			t.Errorf("no mapping of %q", p)
		}
	}
}
