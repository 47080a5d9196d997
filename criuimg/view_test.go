package criuimg

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit"
	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	fsimg "github.com/checkpoint-restore/go-criu/v8/crit/images/fs"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/crlazy/crlazy/criuimg/imgtest"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// openFixture writes the fixture store and opens it.
func openFixture(t *testing.T) *store.Reader {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	imgtest.Write(t, dir)
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// writeView writes the fixture's CRIU view to a new directory.
func writeView(t *testing.T, r *store.Reader) string {
	t.Helper()
	v, err := NewView(r)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "criu")
	if err := v.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

var wantFiles = []string{"core-4242.img", "fdinfo-4242.img", "files.img", "fs-4242.img", "ids-4242.img",
	"inventory.img", "mm-4242.img", "pagemap-4242.img", "pages-1.img", "pstree.img"}

func TestViewFiles(t *testing.T) {
	dir := writeView(t, openFixture(t))
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, wantFiles) {
		t.Errorf("files %v, want %v", names, wantFiles)
	}
}

// TestViewDecodesWithCrit decodes every image with go-criu's crit, as
// CRIU's own tools would, and explores the tree and the memory.
func TestViewDecodesWithCrit(t *testing.T) {
	dir := writeView(t, openFixture(t))
	types := map[string]proto.Message{
		"inventory.img": &inventory.InventoryEntry{}, "pstree.img": &pstree.PstreeEntry{},
		"core-4242.img": &criucore.CoreEntry{}, "ids-4242.img": &criucore.TaskKobjIdsEntry{},
		"mm-4242.img": &mm.MmEntry{}, "pagemap-4242.img": &pagemap.PagemapEntry{},
		"fs-4242.img": &fsimg.FsEntry{}, "files.img": &fdinfo.FileEntry{}, "fdinfo-4242.img": &fdinfo.FdinfoEntry{},
	}
	for name, m := range types {
		img := critDecode(t, filepath.Join(dir, name), m)
		if len(img.Entries) == 0 {
			t.Errorf("%s: no entries", name)
		}
	}
	c := crit.New(nil, nil, dir, false, false)
	ps, err := c.ExplorePs()
	if err != nil || ps.PID != imgtest.Pid || ps.Comm != "fixture" {
		t.Fatalf("ExplorePs = %+v, %v", ps, err)
	}
	mems, err := c.ExploreMems()
	if err != nil || len(mems) != 1 || len(mems[0].Mems) != len(imgtest.Areas) || mems[0].Exe != "/usr/bin/true" {
		t.Fatalf("ExploreMems = %+v, %v", mems, err)
	}
	if _, err := c.ExploreFds(); err != nil {
		t.Fatalf("ExploreFds: %v", err)
	}
	checkCritPages(t, dir)
}

func critDecode(t *testing.T, path string, m proto.Message) *crit.CriuImage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := crit.New(f, nil, "", false, false).Decode(m)
	if err != nil {
		t.Fatalf("crit decode %s: %v", path, err)
	}
	return img
}

// checkCritPages reads pages through crit's memory reader (which walks
// pagemap and pages images as CRIU lays them out).
func checkCritPages(t *testing.T, dir string) {
	mr, err := crit.NewMemoryReader(dir, imgtest.Pid, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uint64{0x10000000, 0x1000e000, 0x1000f000, 0x10020000, 0x10200000, 0x20000000, 0x20001000, 0x7ffd0001e000} {
		buf, err := mr.GetMemPages(a, a+4096)
		if err != nil {
			t.Fatal(err)
		}
		if got := buf.Bytes()[:4096]; !bytes.Equal(got, imgtest.Want(a, 4096)) {
			t.Errorf("crit reads page %#x wrong", a)
		}
	}
}

func TestPagesSparse(t *testing.T) {
	r := openFixture(t)
	v, err := NewView(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Files() {
		if f.Name != "pages-1.img" {
			continue
		}
		size, _ := f.Size()
		data, err := f.Data()
		if err != nil {
			t.Fatal(err)
		}
		// Zero runs are holes: one page in 16 of the big area.
		var dataBytes uint64
		for _, x := range data {
			dataBytes += x.End - x.Start
		}
		if dataBytes >= size || dataBytes == 0 {
			t.Errorf("pages image: %d data bytes of %d", dataBytes, size)
		}
		if off, ok := SeekData(data, 0); !ok || off != 0 {
			t.Errorf("SeekData(0) = %d, %v", off, ok)
		}
		if h := SeekHole(data, 0, size); h != 15*4096 {
			t.Errorf("SeekHole(0) = %#x, want %#x", h, 15*4096)
		}
	}
}
