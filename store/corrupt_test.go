package store

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
)

// damageCase damages a copy of a good store, then the store must either
// fail to open or fail to read, with one of this package's errors, or
// read back exactly what was written. Anything else (a panic, a raw
// badger error, different data without an error) fails the test.
type damageCase struct {
	name   string
	damage func(t *testing.T, dir string)
}

// outcome opens dir and reads everything in it; it reports how that went.
func outcome(t *testing.T, dir string, want snapshot) string {
	t.Helper()
	return outcomeMMs(t, dir, want, fixtureMMs)
}

func outcomeMMs(t *testing.T, dir string, want snapshot, mms []uint32) string {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		checkClear(t, err)
		return "open: " + err.Error()
	}
	defer r.Close()
	got, err := readAll(r, mms)
	if err != nil {
		checkClear(t, err)
		return "read: " + err.Error()
	}
	if d := diff(want, got); d != "" {
		t.Errorf("silently wrong data: %s", d)
	}
	return "intact"
}

// checkClear fails the test unless err is one of the errors a caller can
// act on.
func checkClear(t *testing.T, err error) {
	t.Helper()
	for _, e := range []error{ErrCorrupt, ErrNotStore, ErrCRIUImages, ErrIncomplete, images.ErrVersion, fs.ErrNotExist} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Errorf("unclassified error: %v", err)
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// flipOffsets are the offsets (negative: from the end) at which bytes are
// flipped: file headers, the middle, and trailers (checksums, indexes).
var flipOffsets = []int{0, 1, 4, 6, 7, 8, 12, 20, 24, 40, 100, -1, -4, -5, -8, -12, -20, -40, -100}

func flipAt(size int64, off int) (int64, bool) {
	o := int64(off)
	if off < 0 {
		o = size + o
	}
	return o, o >= 0 && o < size
}

func perFileCases(t *testing.T, good string) []damageCase {
	var cases []damageCase
	for _, name := range storeFiles(t, good) {
		cases = append(cases,
			damageCase{"truncate-half/" + name, func(t *testing.T, dir string) { truncate(t, dir, name, 2) }},
			damageCase{"truncate-zero/" + name, func(t *testing.T, dir string) { truncate(t, dir, name, 0) }},
			damageCase{"delete/" + name, func(t *testing.T, dir string) { remove(t, dir, name) }},
		)
		fi, err := os.Stat(filepath.Join(good, name))
		if err != nil {
			t.Fatal(err)
		}
		offs := append([]int{}, flipOffsets...)
		for _, f := range []int64{4, 3, 2} {
			offs = append(offs, int(fi.Size()/f))
		}
		for _, off := range offs {
			o, ok := flipAt(fi.Size(), off)
			if !ok {
				continue
			}
			cases = append(cases, damageCase{"flip/" + name + "@" + strconv.FormatInt(o, 10), func(t *testing.T, dir string) { flip(t, dir, name, o) }})
		}
	}
	return cases
}

func TestCorruptFiles(t *testing.T) {
	good, fx := newStore(t)
	want := fx.snapshot()
	for _, c := range perFileCases(t, good) {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, good)
			c.damage(t, dir)
			t.Logf("%s: %s", c.name, outcome(t, dir, want))
		})
	}
}

func truncate(t *testing.T, dir, name string, div int64) {
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(0)
	if div > 0 {
		size = fi.Size() / div
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, dir, name string, off int64) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// manyFilesFixture is the fixture plus enough chunks and records to fill
// several value-log files and tables when badger's files are small.
func manyFilesFixture() *fixture {
	fx := newFixture()
	for i := range uint64(20000) {
		v := 0x10000000 + i*page
		fx.records = append(fx.records, fixRecord{images.Key{Type: images.KeySubRecord, Kind: images.Pagemap, ID: 300, Sub: v},
			&pagemap.PagemapEntry{Vaddr: proto.Uint64(v), CompatNrPages: proto.Uint32(1)}})
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range uint64(48) {
		fx.chunks = append(fx.chunks, fixChunk{300, 0x20000000 + i*64*page, randBytes(rng, 16*page)})
	}
	return fx
}

// TestCorruptManyFiles damages stores of several tables and value-log
// files: losing or damaging one of them must not go unnoticed.
func TestCorruptManyFiles(t *testing.T) {
	good := filepath.Join(t.TempDir(), "images")
	fx := manyFilesFixture()
	fx.writeWith(t, good, func(c *config) { c.vlogFileBytes, c.memTableBytes, c.batchBytes = 1<<20, 1<<20, 256<<10 })
	names := storeFiles(t, good)
	t.Logf("files: %v", names)
	want := fx.snapshot()
	mms := append([]uint32{300}, fixtureMMs...)
	for _, name := range names {
		for _, c := range []damageCase{
			{"truncate-half/" + name, func(t *testing.T, dir string) { truncate(t, dir, name, 2) }},
			{"delete/" + name, func(t *testing.T, dir string) { remove(t, dir, name) }},
			{"flip-middle/" + name, func(t *testing.T, dir string) { flipMiddle(t, dir, name) }},
		} {
			t.Run(c.name, func(t *testing.T) {
				dir := copyDir(t, good)
				c.damage(t, dir)
				t.Logf("%s: %s", c.name, outcomeMMs(t, dir, want, mms))
			})
		}
	}
}

func flipMiddle(t *testing.T, dir, name string) {
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 0 {
		flip(t, dir, name, fi.Size()/2)
	}
}

// TestContentsCatchLostKeys removes one key of a committed store behind
// its back, as a lost table would: Open must notice from the header's
// contents alone.
func TestContentsCatchLostKeys(t *testing.T) {
	dir, fx := newStore(t)
	for _, key := range [][]byte{
		images.ChunkKey(fx.chunks[3].mm, fx.chunks[3].addr),
		images.SubRecordKey(images.Fdinfo, 1, 2),
	} {
		damaged := copyDir(t, dir)
		db, err := badger.Open(writerOptions(damaged, config{}))
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(txn *badger.Txn) error { return txn.Delete(key) })
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(damaged)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("store without %x: got %v, want ErrCorrupt", key, err)
		}
		t.Log(err)
	}
}
