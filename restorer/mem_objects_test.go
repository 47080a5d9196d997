package restorer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	ghostfile "github.com/checkpoint-restore/go-criu/v8/crit/images/ghost-file"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/memfd"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/regfile"
	remapfpath "github.com/checkpoint-restore/go-criu/v8/crit/images/remap-file-path"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// memStore writes a store with what put writes, and opens it.
func memStore(t *testing.T, put func(w *store.Writer) error) *store.Reader {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	w, err := store.Create(dir, &crlazypb.Header{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if err := put(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func memfdInode(seals, hugetlb uint32) *memfd.MemfdInodeEntry {
	return &memfd.MemfdInodeEntry{Name: proto.String("x"), Uid: proto.Uint32(0), Gid: proto.Uint32(0),
		Size: proto.Uint64(4096), Shmid: proto.Uint32(1), Seals: proto.Uint32(seals), InodeId: proto.Uint64(1),
		HugetlbFlag: proto.Uint32(hugetlb)}
}

func ghostEntry(size uint64) *ghostfile.GhostFileEntry {
	return &ghostfile.GhostFileEntry{Uid: proto.Uint32(0), Gid: proto.Uint32(0), Mode: proto.Uint32(0o100644),
		Chunks: proto.Bool(true), Size: proto.Uint64(size)}
}

func regFile(name string) *fdinfo.FileEntry {
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_REG.Enum(), Id: proto.Uint32(1),
		Reg: &regfile.RegFileEntry{Id: proto.Uint32(1), Name: proto.String(name)}}
}

// TestLoadMemObjects: damaged records are refused before anything is
// made; good ones load.
func TestLoadMemObjects(t *testing.T) {
	remap := func(ghost uint32) *remapfpath.RemapFilePathEntry {
		return &remapfpath.RemapFilePathEntry{OrigId: proto.Uint32(1), RemapId: proto.Uint32(ghost),
			RemapType: remapfpath.RemapType_GHOST.Enum()}
	}
	memfdFile := &fdinfo.FileEntry{Type: fdinfo.FdTypes_MEMFD.Enum(), Id: proto.Uint32(1)}
	for _, c := range []struct {
		name  string
		files map[uint32]*fdinfo.FileEntry
		put   func(w *store.Writer) error
		want  error
	}{
		{"good", map[uint32]*fdinfo.FileEntry{1: regFile("/tmp/x")}, func(w *store.Writer) error {
			return errors.Join(w.PutRecord(images.Shmem, 1, wrapperspb.UInt64(8192)),
				w.PutRecord(images.MemfdInode, 1, memfdInode(1, 0)),
				w.PutRecord(images.GhostFile, 1, ghostEntry(10)),
				w.PutRecord(images.RemapFpath, 1, remap(1)))
		}, nil},
		{"empty shmem", nil, func(w *store.Writer) error {
			return w.PutRecord(images.Shmem, 1, wrapperspb.UInt64(0))
		}, ErrBadImage},
		{"unaligned shmem", nil, func(w *store.Writer) error {
			return w.PutRecord(images.Shmem, 1, wrapperspb.UInt64(4097))
		}, ErrBadImage},
		{"unknown seals", nil, func(w *store.Writer) error {
			return w.PutRecord(images.MemfdInode, 1, memfdInode(1<<12, 0))
		}, ErrBadImage},
		{"hugetlb memfd", nil, func(w *store.Writer) error {
			return w.PutRecord(images.MemfdInode, 1, memfdInode(0, 1))
		}, ErrUnsupported},
		{"huge ghost", nil, func(w *store.Writer) error {
			return w.PutRecord(images.GhostFile, 1, ghostEntry(images.GhostDataMax+1))
		}, ErrBadImage},
		{"remap to nothing", map[uint32]*fdinfo.FileEntry{1: regFile("/tmp/x")}, func(w *store.Writer) error {
			return w.PutRecord(images.RemapFpath, 1, remap(7))
		}, ErrBadImage},
		{"memfd file without inode", map[uint32]*fdinfo.FileEntry{1: memfdFile}, func(*store.Writer) error {
			return nil
		}, ErrBadImage},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := memStore(t, c.put)
			m, err := loadMemObjects(r, c.files)
			if c.want == nil {
				if err != nil || len(m.shmem) != 1 || len(m.memfds) != 1 || !m.remapped(1) || m.ghosts[1].name != "/tmp/x" {
					t.Fatalf("loadMemObjects = %+v, %v", m, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("loadMemObjects: %v, want %v", err, c.want)
			}
		})
	}
}

// TestFillPieces: pieces land at their offsets; one past the end is a
// damaged image, not a longer file.
func TestFillPieces(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "ghost")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := memStore(t, func(w *store.Writer) error {
		return w.PutSubRecord(images.GhostBytes, 1, 4, wrapperspb.Bytes([]byte("abc")))
	})
	if err := fillPieces(r, images.GhostBytes, 1, f, 7, images.GhostBytesMax); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.Name()); string(b) != "\x00\x00\x00\x00abc" {
		t.Errorf("file holds %q", b)
	}
	if err := fillPieces(r, images.GhostBytes, 1, f, 6, images.GhostBytesMax); !errors.Is(err, ErrBadImage) {
		t.Errorf("a piece past the end: %v, want ErrBadImage", err)
	}
}
