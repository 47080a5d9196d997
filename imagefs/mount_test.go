package imagefs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkpoint-restore/go-criu/v8/crit"
	"github.com/crlazy/crlazy/criuimg/imgtest"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

// mountFixture writes the fixture store, mounts it and returns the store
// directory and the mount point; the mount is gone when the test ends.
func mountFixture(t *testing.T) (string, string) {
	t.Helper()
	testutil.RequirePriv(t)
	dir := filepath.Join(t.TempDir(), "store")
	imgtest.Write(t, dir)
	mnt := t.TempDir()
	s, err := Mount(dir, mnt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Unmount(); err != nil {
			t.Error(err)
		}
		if err := s.Wait(); err != nil {
			t.Error(err)
		}
		checkNotMounted(t, mnt)
	})
	return dir, mnt
}

// checkNotMounted fails t if anything is mounted at mnt.
func checkNotMounted(t *testing.T, mnt string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), " "+mnt+" ") {
		t.Errorf("%s is still mounted", mnt)
	}
}

func TestMemoryFiles(t *testing.T) {
	_, mnt := mountFixture(t)
	for _, a := range imgtest.Areas {
		path := filepath.Join(mnt, "4242", "memory", memFile(a))
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, imgtest.Want(a.Start, a.End-a.Start)) {
			t.Errorf("%s: content differs from the fixture", filepath.Base(path))
		}
		checkSeeks(t, path, a)
	}
}

// checkSeeks walks the file with SEEK_DATA and SEEK_HOLE and checks
// every extent against the fixture's page kinds.
func checkSeeks(t *testing.T, path string, a imgtest.Area) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(a.End - a.Start)
	dataAt := func(off int64) bool { return imgtest.KindAt(a.Start+uint64(off)) == imgtest.Data }
	for off := int64(0); off < size; {
		d, err := f.Seek(off, linux.SeekData)
		if errors.Is(err, linux.ENXIO) {
			for p := off; p < size; p += 4096 {
				if dataAt(p) {
					t.Fatalf("%s: SEEK_DATA(%#x) = ENXIO, but page %#x holds data", filepath.Base(path), off, p)
				}
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := f.Seek(d, linux.SeekHole)
		if err != nil {
			t.Fatal(err)
		}
		for p := off; p < h; p += 4096 {
			if dataAt(p) != (p >= d) {
				t.Fatalf("%s: extent [%#x, %#x) after %#x, but page %#x is %v", filepath.Base(path), d, h, off, p, imgtest.KindAt(a.Start+uint64(p)))
			}
		}
		off = h
	}
}

// TestJSONAgreesWithStore checks that every *.json file parses and that
// each record in it is the one images.RecordJSON (what show --json
// prints) renders from the store.
func TestJSONAgreesWithStore(t *testing.T) {
	dir, mnt := mountFixture(t)
	want := storeJSON(t, dir)
	for _, name := range []string{"inventory.json", "4242/core.json", "4242/mm.json", "4242/fs.json", "4242/ids.json"} {
		var rec images.JSONRecord
		readJSON(t, filepath.Join(mnt, name), &rec)
		checkRecord(t, name, rec, want)
	}
	for _, name := range []string{"pstree.json", "files.json", "4242/pagemap.json"} {
		var recs []images.JSONRecord
		readJSON(t, filepath.Join(mnt, name), &recs)
		if len(recs) == 0 {
			t.Errorf("%s: no records", name)
		}
		for _, rec := range recs {
			checkRecord(t, name, rec, want)
		}
	}
	var fds []fdJSON
	readJSON(t, filepath.Join(mnt, "4242/fds.json"), &fds)
	if len(fds) != 3 || fds[2].Fd != 2 || fds[2].File == nil {
		t.Fatalf("fds.json = %+v", fds)
	}
	checkRecord(t, "fds.json", fds[2].Fdinfo, want)
	checkRecord(t, "fds.json", *fds[2].File, want)
	var hdr map[string]any
	readJSON(t, filepath.Join(mnt, "header.json"), &hdr)
	if hdr["toolVersion"] != "imgtest" {
		t.Errorf("header.json = %v", hdr)
	}
}

func storeJSON(t *testing.T, dir string) map[string]string {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]string{}
	err = r.Walk(func(k images.Key, raw []byte) error {
		if k.Type != images.KeyRecord && k.Type != images.KeySubRecord {
			return nil
		}
		rec, err := images.RecordJSON(k, raw)
		out[k.String()] = images.CompactJSON(rec.Value)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
}

func checkRecord(t *testing.T, file string, rec images.JSONRecord, want map[string]string) {
	t.Helper()
	if got := images.CompactJSON(rec.Value); got != want[rec.Key] {
		t.Errorf("%s: record %s = %s, store has %s", file, rec.Key, got, want[rec.Key])
	}
}

func TestCriuDirDecodes(t *testing.T) {
	_, mnt := mountFixture(t)
	c := crit.New(nil, nil, filepath.Join(mnt, "criu"), false, false)
	ps, err := c.ExplorePs()
	if err != nil || ps.PID != imgtest.Pid {
		t.Fatalf("ExplorePs = %+v, %v", ps, err)
	}
	mems, err := c.ExploreMems()
	if err != nil || len(mems) != 1 || len(mems[0].Mems) != len(imgtest.Areas) {
		t.Fatalf("ExploreMems = %+v, %v", mems, err)
	}
	mr, err := crit.NewMemoryReader(filepath.Join(mnt, "criu"), imgtest.Pid, 4096)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := mr.GetMemPages(0x10020000, 0x10021000)
	if err != nil || !bytes.Equal(buf.Bytes()[:4096], imgtest.Want(0x10020000, 4096)) {
		t.Errorf("crit reads page 0x10020000 wrong: %v", err)
	}
}

// TestTools runs ls -R, stat, find and du on the mount.
func TestTools(t *testing.T) {
	_, mnt := mountFixture(t)
	for _, args := range [][]string{
		{"ls", "-lR", mnt},
		{"stat", filepath.Join(mnt, "4242", "memory", memFile(imgtest.Areas[1]))},
		{"find", mnt, "-type", "f", "-name", "*.img"},
		{"du", "-s", mnt},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "find" && strings.Count(string(out), ".img\n") != 10 {
			t.Errorf("find found:\n%s", out)
		}
	}
}

// TestReadOnly checks that every kind of change fails with EROFS.
func TestReadOnly(t *testing.T) {
	_, mnt := mountFixture(t)
	file := filepath.Join(mnt, "4242", "mm.json")
	attempts := map[string]func() error{
		"create":   func() error { _, err := os.Create(filepath.Join(mnt, "new")); return err },
		"write":    func() error { _, err := os.OpenFile(file, os.O_WRONLY, 0); return err },
		"truncate": func() error { return os.Truncate(file, 0) },
		"remove":   func() error { return os.Remove(file) },
		"rename":   func() error { return os.Rename(file, filepath.Join(mnt, "4242", "x.json")) },
		"mkdir":    func() error { return os.Mkdir(filepath.Join(mnt, "d"), 0o755) },
		"rmdir":    func() error { return os.Remove(filepath.Join(mnt, "criu")) },
		"chmod":    func() error { return os.Chmod(file, 0o600) },
		"symlink":  func() error { return os.Symlink("x", filepath.Join(mnt, "l")) },
	}
	for name, try := range attempts {
		if err := try(); !errors.Is(err, linux.EROFS) {
			t.Errorf("%s: %v, want EROFS", name, err)
		}
	}
}

// TestConcurrentReaders reads every memory file from 8 goroutines at
// once, each in its own order, and checks every byte.
func TestConcurrentReaders(t *testing.T) {
	_, mnt := mountFixture(t)
	const readers = 8
	var wg sync.WaitGroup
	errs := make(chan error, readers*len(imgtest.Areas))
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range imgtest.Areas {
				a := imgtest.Areas[(i+k)%len(imgtest.Areas)]
				if err := readArea(filepath.Join(mnt, "4242", "memory", memFile(a)), a, 4096*(i+1)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// readArea reads a memory file in blocks of bs bytes and compares it.
func readArea(path string, a imgtest.Area, bs int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := io.ReadAll(io.LimitReader(readerOf(f, bs), int64(a.End-a.Start)+1))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, imgtest.Want(a.Start, a.End-a.Start)) {
		return errors.New(path + ": content differs")
	}
	return nil
}

// readerOf reads f in reads of exactly bs bytes.
func readerOf(f *os.File, bs int) io.Reader {
	return io.MultiReader(&blockReader{f: f, bs: bs})
}

type blockReader struct {
	f  *os.File
	bs int
}

func (b *blockReader) Read(p []byte) (int, error) { return b.f.Read(p[:min(len(p), b.bs)]) }

// TestMountRefusesUnfinishedStore mounts a store whose writer is still
// open, as during a dump.
func TestMountRefusesUnfinishedStore(t *testing.T) {
	testutil.RequirePriv(t)
	dir := filepath.Join(t.TempDir(), "store")
	w, err := store.Create(dir, &crlazypb.Header{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	mnt := t.TempDir()
	_, err = Mount(dir, mnt, Options{})
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "once the dump has finished") {
		t.Fatalf("Mount of a store being written = %v, want ErrLocked", err)
	}
	checkNotMounted(t, mnt)
}

// TestManyProcesses mounts a store of 100 processes and lists the whole
// tree as ls -lR does (every directory read, every entry stat'ed); it
// logs how long the mount and the listing take.
func TestManyProcesses(t *testing.T) {
	testutil.RequirePriv(t)
	if testing.Short() {
		t.Skip("writes a 400 MiB store; skipped with -short")
	}
	const procs = 100
	dir := filepath.Join(t.TempDir(), "store")
	imgtest.WriteN(t, dir, procs)
	mnt := t.TempDir()
	start := time.Now()
	s, err := Mount(dir, mnt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mounted := time.Since(start)
	defer func() {
		if err := s.Unmount(); err != nil {
			t.Error(err)
		}
		if err := s.Wait(); err != nil {
			t.Error(err)
		}
		checkNotMounted(t, mnt)
	}()
	start = time.Now()
	n := 0
	err = filepath.WalkDir(mnt, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n++
		_, err = d.Info()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mount %v, ls -lR of %d entries %v", mounted, n, time.Since(start))
	ps, err := crit.New(nil, nil, filepath.Join(mnt, "criu"), false, false).ExplorePs()
	if err != nil || len(ps.Children) != procs-1 {
		t.Fatalf("crit ExplorePs: %v, %d children", err, len(ps.Children))
	}
}
