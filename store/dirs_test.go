package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/crlazy/crlazy/images"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func criuDir(t *testing.T) string {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inventory.img": "\x54\x56\x1b\x58", "pstree.img": "x", "core-42.img": "y"})
	return dir
}

func foreignBadger(t *testing.T) string {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenNotAStore(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFiles(t, filepath.Dir(file), map[string]string{"file": "x"})
	randomDir := t.TempDir()
	writeFiles(t, randomDir, map[string]string{"a": "\x00\x01", "b.txt": "hello", "000001.xyz": strings.Repeat("z", 5000)})
	fakeManifest := t.TempDir()
	writeFiles(t, fakeManifest, map[string]string{"MANIFEST": "not a manifest at all", "000001.vlog": "junk"})
	cases := []struct {
		name string
		dir  string
		want error
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), fs.ErrNotExist},
		{"file", file, ErrNotStore},
		{"empty", t.TempDir(), ErrNotStore},
		{"random files", randomDir, ErrNotStore},
		{"criu images", criuDir(t), ErrCRIUImages},
		{"foreign badger", foreignBadger(t), ErrNotStore},
		{"fake manifest", fakeManifest, ErrNotStore},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(c.dir)
			if !errors.Is(err, c.want) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Log(err)
		})
	}
}

func TestOpenIncompleteAfterCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	out, err := helper(t, "crash", dir).Output()
	if err != nil || string(out) != "died\n" {
		t.Fatalf("helper: %v: %s", err, out)
	}
	r, err := Open(dir)
	if !errors.Is(err, ErrIncomplete) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("got %v, want ErrIncomplete", err)
	}
	t.Log(err)
}

func TestOpenWhileWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	r, err := Open(dir)
	if !errors.Is(err, ErrLocked) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("got %v, want ErrLocked", err)
	}
	t.Log(err)
}

func TestOpenNewerFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	w.hdr.FormatVersion = images.FormatVersion + 1
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	var ve *images.VersionError
	if !errors.As(err, &ve) || ve.Store != images.FormatVersion+1 {
		t.Fatalf("got %v, want a VersionError", err)
	}
	t.Log(err)
}

func TestCreateRefuses(t *testing.T) {
	store, _ := newStore(t)
	straybadger := t.TempDir()
	writeFiles(t, straybadger, map[string]string{"000003.vlog": ""})
	cases := []struct {
		name string
		dir  string
		want error
	}{
		{"store", store, ErrStoreExists},
		{"stray badger file", straybadger, ErrStoreExists},
		{"criu images", criuDir(t), ErrCRIUImages},
		{"no parent", filepath.Join(t.TempDir(), "a", "b"), fs.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := Create(c.dir, testHeader())
			if !errors.Is(err, c.want) {
				if w != nil {
					w.Abort()
				}
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Log(err)
		})
	}
}

func TestCreateKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"dump.log": "log"})
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := storeFiles(t, dir); len(names) != 1 || names[0] != "dump.log" {
		t.Fatalf("after Abort: %v", names)
	}
}

func TestAbortRemovesCreatedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range newFixture().chunks {
		if err := w.PutChunk(c.mm, c.addr, c.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("dir still there: %v", err)
	}
	if err := w.Abort(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Abort: %v", err)
	}
}

func TestOpenNeverCommitted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PutChunk(1, 0, make([]byte, page)); err != nil {
		t.Fatal(err)
	}
	// Close badger cleanly without Commit: the header still says incomplete.
	if err := w.batch.flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("got %v, want ErrIncomplete", err)
	}
}
