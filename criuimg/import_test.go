package criuimg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/criuimg/imgtest"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// storeRecords returns every record of r, by key, with its payload.
func storeRecords(t *testing.T, r *store.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := r.Walk(func(k images.Key, raw []byte) error {
		if k.Type == images.KeyRecord || k.Type == images.KeySubRecord {
			out[k.String()] = bytes.Clone(raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportRoundTrip exports the fixture as CRIU images and imports
// them back: every record and every byte of memory comes back the same.
func TestImportRoundTrip(t *testing.T) {
	orig := openFixture(t)
	criuDir := writeView(t, orig)
	dst := filepath.Join(t.TempDir(), "imported")
	st, err := Import(criuDir, dst, ImportOptions{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Processes != 1 || st.PagesData == 0 || st.PagesZero == 0 {
		t.Errorf("import stats %+v", st)
	}
	r, err := store.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h := r.Header(); h.GetArch() != "x86_64" || h.GetToolVersion() != "test" {
		t.Errorf("header %v", h)
	}
	want, got := storeRecords(t, orig), storeRecords(t, r)
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Errorf("record %s differs after the round trip", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d records after the round trip, %d before", len(got), len(want))
	}
	for _, a := range imgtest.Areas {
		buf := make([]byte, a.End-a.Start)
		if err := ReadMemory(r, imgtest.Pid, a.Start, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, imgtest.Want(a.Start, a.End-a.Start)) {
			t.Errorf("memory %x-%x differs after the round trip", a.Start, a.End)
		}
	}
}

// TestImportRefuses checks the images crlazy cannot take.
func TestImportRefuses(t *testing.T) {
	r := openFixture(t)
	for name, tc := range map[string]struct {
		edit func(t *testing.T, dir string)
		want error
	}{
		"parent pages":  {setPagemapFlags(images.PagemapParent), ErrUnsupported},
		"lazy pages":    {setPagemapFlags(images.PagemapLazy | images.PagemapPresent), ErrUnsupported},
		"short pages":   {truncatePages(-4096), store.ErrCorrupt},
		"extra pages":   {truncatePages(4096), store.ErrCorrupt},
		"no inventory":  {remove("inventory.img"), os.ErrNotExist},
		"no core":       {remove("core-4242.img"), os.ErrNotExist},
		"bad pstree":    {garble("pstree.img"), ErrUnknownMagic},
		"wrong type mm": {copyOver("fs-4242.img", "mm-4242.img"), ErrWrongType},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeView(t, r)
			tc.edit(t, dir)
			dst := filepath.Join(t.TempDir(), "imported")
			if _, err := Import(dir, dst, ImportOptions{}); !errors.Is(err, tc.want) {
				t.Fatalf("Import = %v, want %v", err, tc.want)
			}
			if ents, _ := os.ReadDir(dst); len(ents) != 0 {
				t.Errorf("failed import left %d files in %s", len(ents), dst)
			}
		})
	}
}

func setPagemapFlags(flags uint32) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		path := filepath.Join(dir, "pagemap-4242.img")
		img, err := ReadFile(path, NamePagemap)
		if err != nil {
			t.Fatal(err)
		}
		head := &pagemap.PagemapHead{}
		e := &pagemap.PagemapEntry{}
		if err := img.Unmarshal(0, head); err != nil {
			t.Fatal(err)
		}
		if err := img.Unmarshal(1, e); err != nil {
			t.Fatal(err)
		}
		e.Flags = proto.Uint32(flags)
		b, err := Encode(NamePagemap, head, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func truncatePages(delta int64) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		path := filepath.Join(dir, "pages-1.img")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()+delta); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func garble(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("garbage!"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func copyOver(from, to string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		b, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
