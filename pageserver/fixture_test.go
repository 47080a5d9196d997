package pageserver

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
)

const page = images.PageSize

// fixture is a checkpoint of one process: runs of pages at base, some
// saved (data), some zero (holes); every data page holds a pattern of its
// address and seed, so that two fixtures with another seed differ.
type fixture struct {
	pid  uint32
	seed uint64
	base uint64
	runs []fixRun
}

type fixRun struct {
	pages uint64
	zero  bool
}

// newFixture lays out runs that cross chunk boundaries, with holes of
// one page and of many chunks.
func newFixture(pid uint32, seed, base uint64) *fixture {
	fx := &fixture{pid: pid, seed: seed, base: base}
	for _, r := range []fixRun{{3, false}, {1, true}, {70, false}, {40, true}, {1, false}, {2, true},
		{32, false}, {5, false}, {64, true}, {100, false}} {
		fx.runs = append(fx.runs, r)
	}
	return fx
}

func (fx *fixture) end() uint64 {
	a := fx.base
	for _, r := range fx.runs {
		a += r.pages * page
	}
	return a
}

// eachRun calls fn with the address range of every run.
func (fx *fixture) eachRun(fn func(start, end uint64, zero bool)) {
	a := fx.base
	for _, r := range fx.runs {
		fn(a, a+r.pages*page, r.zero)
		a += r.pages * page
	}
}

// isData reports whether addr is in a data run.
func (fx *fixture) isData(addr uint64) bool {
	data := false
	fx.eachRun(func(s, e uint64, zero bool) {
		if addr >= s && addr < e {
			data = !zero
		}
	})
	return data
}

// fill writes the pattern of the page at addr into b.
func (fx *fixture) fill(addr uint64, b []byte) {
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], mix(fx.seed^(addr+uint64(i)))|1)
	}
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// want returns the expected bytes of [start, start+n).
func (fx *fixture) want(start uint64, n int) []byte {
	b := make([]byte, n)
	for off := 0; off < n; off += page {
		fx.fill(start+uint64(off), b[off:off+page])
	}
	return b
}

// write creates the store of the checkpoint in dir: its records and,
// unless recordsOnly, its chunks cut as the dumper cuts them.
func (fx *fixture) write(t testing.TB, dir string, recordsOnly bool) {
	t.Helper()
	w, err := store.Create(dir, &crlazypb.Header{ToolVersion: "test", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	fx.putRecords(t, w)
	if !recordsOnly {
		fx.eachRun(func(s, e uint64, zero bool) {
			for a := s; a < e && !zero; {
				ce := min(e, (a+images.ChunkMaxBytes)&^(images.ChunkMaxBytes-1))
				if err := w.PutChunk(fx.pid, a, fx.want(a, int(ce-a))); err != nil {
					t.Fatal(err)
				}
				a = ce
			}
		})
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (fx *fixture) putRecords(t testing.TB, w *store.Writer) {
	t.Helper()
	pid := fx.pid
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.PutRecord(images.Inventory, 0, &inventory.InventoryEntry{ImgVersion: proto.Uint32(2)}))
	must(w.PutRecord(images.Pstree, pid, &pstree.PstreeEntry{Pid: proto.Uint32(pid), Ppid: proto.Uint32(1),
		Pgid: proto.Uint32(pid), Sid: proto.Uint32(pid), Threads: []uint32{pid}}))
	must(w.PutRecord(images.Core, pid, &criucore.CoreEntry{Mtype: criucore.CoreEntry_X86_64.Enum(),
		Tc: &criucore.TaskCoreEntry{TaskState: proto.Uint32(1), ExitCode: proto.Uint32(uint32(fx.seed)),
			Personality: proto.Uint32(0), Flags: proto.Uint32(0), BlkSigset: proto.Uint64(0), Comm: proto.String("fx")}}))
	must(w.PutRecord(images.Ids, pid, &criucore.TaskKobjIdsEntry{VmId: proto.Uint32(pid), FilesId: proto.Uint32(pid),
		FsId: proto.Uint32(pid), SighandId: proto.Uint32(pid)}))
	fx.eachRun(func(s, e uint64, zero bool) {
		flags := uint32(images.PagemapPresent)
		if zero {
			flags |= images.PagemapZero
		}
		n := (e - s) / page
		must(w.PutSubRecord(images.Pagemap, pid, s, &pagemap.PagemapEntry{Vaddr: proto.Uint64(s),
			NrPages: proto.Uint64(n), CompatNrPages: proto.Uint32(uint32(n)), Flags: proto.Uint32(flags)}))
	})
}

// checkpointDir writes fx as checkpoint name under a new server directory
// and returns that directory.
func (fx *fixture) checkpointDir(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	fx.write(t, filepath.Join(dir, name), false)
	return dir
}

// openLocal writes the records of fx into a new store and opens it, as a
// restore's images directory.
func (fx *fixture) openLocal(t testing.TB) *store.Reader {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "local")
	fx.write(t, dir, true)
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
