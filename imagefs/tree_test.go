package imagefs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/criuimg/imgtest"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func TestMemoryName(t *testing.T) {
	files := map[uint32]string{7: "/usr/lib/x86_64-linux-gnu/libc.so.6", 8: "/"}
	for _, tc := range []struct {
		start, end    uint64
		prot, flags   uint32
		status, shmid uint64
		want          string
	}{
		{0x7f00, 0x8f00, 5, 2, images.VmaFilePrivate, 7, "7f00-8f00.r-xp.libc.so.6"},
		{0x1000, 0x2000, 3, 0x22, images.VmaAnonPrivate | images.VmaAreaHeap, 0, "1000-2000.rw-p.heap"},
		{0x1000, 0x2000, 3, 0x22, images.VmaAnonPrivate, 0, "1000-2000.rw-p"},
		{0x1000, 0x2000, 3, 0x21, images.VmaAnonShared, 0, "1000-2000.rw-s.shmem"},
		{0x1000, 0x2000, 0, 0x22, images.VmaAreaVvar, 0, "1000-2000.---p.vvar"},
		{0x1000, 0x2000, 1, 1, images.VmaFileShared, 8, "1000-2000.r--s.file"},
	} {
		v := &vma.VmaEntry{Start: proto.Uint64(tc.start), End: proto.Uint64(tc.end), Prot: proto.Uint32(tc.prot),
			Flags: proto.Uint32(tc.flags), Status: proto.Uint32(uint32(tc.status)), Shmid: proto.Uint64(tc.shmid)}
		if got := memoryName(v, files); got != tc.want {
			t.Errorf("memoryName = %q, want %q", got, tc.want)
		}
	}
}

func TestParseMountInfo(t *testing.T) {
	text := `22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw
95 30 0:45 / /tmp/a\040b ro,nosuid,nodev,noexec - fuse.crlazy /var/tmp/st rw,user_id=0,group_id=0,max_read=1048576
bad line
`
	ms, err := ParseMountInfo(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("parsed %d mounts, want 2: %+v", len(ms), ms)
	}
	want := MountInfo{Major: 0, Minor: 45, MountPoint: "/tmp/a b", FSType: FSType, Source: "/var/tmp/st"}
	if ms[1] != want {
		t.Errorf("mount %+v, want %+v", ms[1], want)
	}
}

// listTree returns the paths of every node under e.
func listTree(e *entry, prefix string) []string {
	var out []string
	for _, c := range e.children {
		p := filepath.Join(prefix, c.name)
		out = append(out, p)
		if c.dir {
			out = append(out, listTree(c, p)...)
		}
	}
	return out
}

func TestBuildTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	imgtest.Write(t, dir)
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tree, err := buildTree(r)
	if err != nil {
		t.Fatal(err)
	}
	got := listTree(tree, "")
	for _, want := range wantPaths() {
		if !slices.Contains(got, want) {
			t.Errorf("tree lacks %s; it has %v", want, got)
		}
	}
}

// wantPaths are paths the fixture's tree must hold.
func wantPaths() []string {
	paths := []string{"header.json", "inventory.json", "pstree.json", "files.json", "4242/core.json", "4242/mm.json",
		"4242/fds.json", "4242/fs.json", "4242/ids.json", "4242/pagemap.json", "criu/inventory.img",
		"criu/pstree.img", "criu/core-4242.img", "criu/mm-4242.img", "criu/pagemap-4242.img", "criu/pages-1.img",
		"criu/files.img", "criu/fdinfo-4242.img", "criu/fs-4242.img", "criu/ids-4242.img"}
	for _, a := range imgtest.Areas {
		paths = append(paths, filepath.Join("4242/memory", memFile(a)))
	}
	return paths
}

// memFile is the name of the memory file of a fixture area.
func memFile(a imgtest.Area) string { return fmt.Sprintf("%x-%x%s", a.Start, a.End, a.Name) }

// FuzzParseMountInfo checks that no mountinfo text makes the parser
// panic.
func FuzzParseMountInfo(f *testing.F) {
	f.Add("95 30 0:45 / /tmp/a\\040b ro - fuse.crlazy /s rw\n22 1 0:21 / /proc rw shared:5 - proc proc rw\n")
	f.Add("1 2 3:x / / rw - a\n")
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMountInfo(strings.NewReader(s))
		if err == nil && len(ms) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d mounts from %d lines", len(ms), strings.Count(s, "\n")+1)
		}
	})
}
