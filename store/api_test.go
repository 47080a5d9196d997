package store

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
)

func openFixture(t *testing.T) (*Reader, *fixture) {
	t.Helper()
	dir, fx := newStore(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, fx
}

// chunkAt returns the fixture chunk of mm that holds addr.
func (fx *fixture) chunkAt(mm uint32, addr uint64) (fixChunk, bool) {
	for _, c := range fx.chunks {
		if c.mm == mm && c.addr <= addr && addr < c.addr+uint64(len(c.data)) {
			return c, true
		}
	}
	return fixChunk{}, false
}

func TestFindChunk(t *testing.T) {
	r, fx := openFixture(t)
	for _, mm := range []uint32{100, 200, 300} {
		for addr := uint64(0x7f0000000000 - 2*page); addr < 0x7f0000000000+200*page; addr += page / 2 {
			want, wantOK := fx.chunkAt(mm, addr)
			var gotAddr uint64
			var gotData []byte
			ok, err := r.FindChunk(mm, addr, func(a uint64, data []byte) error {
				gotAddr, gotData = a, bytes.Clone(data)
				return nil
			})
			if err != nil || ok != wantOK || (ok && (gotAddr != want.addr || !bytes.Equal(gotData, want.data))) {
				t.Fatalf("FindChunk(%d, %#x) = %v %v at %#x, want %v at %#x", mm, addr, ok, err, gotAddr, wantOK, want.addr)
			}
		}
	}
	if ok, err := r.FindChunk(100, math.MaxUint64, func(uint64, []byte) error { return nil }); ok || err != nil {
		t.Fatalf("FindChunk at the top of the address space: %v %v", ok, err)
	}
}

func TestChunksIn(t *testing.T) {
	r, fx := openFixture(t)
	base := uint64(0x7f0000000000)
	for start := base - page; start < base+140*page; start += 3 * page {
		for _, n := range []uint64{1, page, 5 * page, 40 * page} {
			end := start + n
			var want, got []uint64
			for _, c := range fx.chunks {
				if c.mm == 100 && c.addr < end && c.addr+uint64(len(c.data)) > start {
					want = append(want, c.addr)
				}
			}
			err := r.ChunksIn(100, start, end, func(a uint64, _ []byte) error {
				got = append(got, a)
				return nil
			})
			if err != nil || !equalU64(got, want) {
				t.Fatalf("ChunksIn(%#x, %#x) = %x %v, want %x", start, end, got, err, want)
			}
		}
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCallbacks(t *testing.T) {
	r, _ := openFixture(t)
	stop := errors.New("stop here")
	calls := 0
	err := r.Chunks(100, func(uint64, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("Chunks returned %v after %d calls, want the callback's error after 1", err, calls)
	}
	if err := r.Walk(func(images.Key, []byte) error { return stop }); err != stop {
		t.Fatalf("Walk returned %v", err)
	}
	if err := r.SubRecords(images.Pagemap, 100, func(uint64, []byte) error { return stop }); err != stop {
		t.Fatalf("SubRecords returned %v", err)
	}
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v, want the callback's panic", p)
		}
	}()
	r.Chunks(100, func(uint64, []byte) error { panic("boom") })
	t.Fatal("the callback's panic was swallowed")
}

func TestRecords(t *testing.T) {
	r, fx := openFixture(t)
	var e pstree.PstreeEntry
	if err := r.Record(images.Pstree, 101, &e); err != nil || e.GetPid() != 101 {
		t.Fatalf("Record: %v %v", e.GetPid(), err)
	}
	err := r.Record(images.Core, 999, &criucore.CoreEntry{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "core/999") {
		t.Fatalf("missing record: %v", err)
	}
	var pm pagemap.PagemapEntry
	if err := r.SubRecord(images.Pagemap, 200, 0x7f0000010000, &pm); err != nil || pm.GetVaddr() != 0x7f0000010000 {
		t.Fatalf("SubRecord: %v %v", pm.GetVaddr(), err)
	}
	if err := r.Record(images.Pagemap, 200, &pm); !errors.Is(err, images.ErrBadKey) {
		t.Fatalf("Record of a sub-record kind: %v", err)
	}
	if _, err := r.IDs(images.Kind(200)); !errors.Is(err, images.ErrUnknownKind) {
		t.Fatalf("IDs of an unknown kind: %v", err)
	}
	ids, err := r.IDs(images.Pagemap)
	if err != nil || !equalU64(u64s(ids), []uint64{100, 200}) {
		t.Fatalf("pagemap ids %v %v", ids, err)
	}
	h := r.Header()
	if !h.Complete || h.Contents.GetChunks() != uint64(len(fx.chunks)) || h.Contents.GetRecords() != uint64(len(fx.records)) {
		t.Fatalf("header %v", h)
	}
}

func u64s(ids []uint32) []uint64 {
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}

func TestLogger(t *testing.T) {
	dir, _ := newStore(t)
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	flip(t, dir, filepath.Base(vlogs[0]), 100) // inside the first value
	var buf bytes.Buffer
	r, err := Open(dir, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := readAll(r, fixtureMMs); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read: %v", err)
	}
	if !strings.Contains(buf.String(), "badger: Unable to read") {
		t.Fatalf("badger's complaint did not reach the logger: %q", buf.String())
	}
}

func TestClosedReader(t *testing.T) {
	dir, _ := newStore(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Chunks(100, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Chunks after Close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPutRejects(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "images"), testHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	pg := make([]byte, page)
	e := &pstree.PstreeEntry{Pid: proto.Uint32(1), Ppid: proto.Uint32(0), Pgid: proto.Uint32(1), Sid: proto.Uint32(1)}
	if err := w.PutRecord(images.Pstree, 2, &pstree.PstreeEntry{}); err == nil {
		t.Error("a record missing required fields was accepted")
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unaligned", w.PutChunk(1, 100, pg), ErrBadChunk},
		{"empty", w.PutChunk(1, 0, nil), ErrBadChunk},
		{"partial page", w.PutChunk(1, 0, pg[:100]), ErrBadChunk},
		{"over chunk size", w.PutChunk(1, 0, make([]byte, images.ChunkMaxBytes+page)), ErrBadChunk},
		{"wraps", w.PutChunk(1, math.MaxUint64-page+1, make([]byte, 2*page)), ErrBadChunk},
		{"first", w.PutChunk(1, 0, pg), nil},
		{"duplicate", w.PutChunk(1, 0, pg), ErrDuplicate},
		{"sub kind as record", w.PutRecord(images.Pagemap, 1, e), images.ErrBadKey},
		{"record kind as sub", w.PutSubRecord(images.Pstree, 1, 2, e), images.ErrBadKey},
		{"unknown kind", w.PutRecord(images.Kind(99), 1, e), images.ErrUnknownKind},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
}

func TestPutAfterCommit(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "images"), testHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.PutChunk(1, 0, make([]byte, page)); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutChunk after Commit: %v", err)
	}
	if err := w.Commit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Commit: %v", err)
	}
}

// TestTruncatedWhileOpen cuts a value-log file under an open Reader:
// reading a chunk past the new end faults (SIGBUS) inside badger, which
// must come back as an error, and leave the Reader refusing further
// calls (badger still holds a lock it took before the fault).
func TestTruncatedWhileOpen(t *testing.T) {
	dir, fx := newStore(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	vlogs, _ := filepath.Glob(filepath.Join(r.Dir(), "*.vlog"))
	for _, v := range vlogs {
		if err := os.Truncate(v, 0); err != nil {
			t.Fatal(err)
		}
	}
	last := fx.chunks[len(fx.chunks)-1]
	_, err = r.FindChunk(last.mm, last.addr, func(uint64, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	t.Log(err)
	if err := r.Record(images.Pstree, 100, &pstree.PstreeEntry{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Record after the fault: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Close after the fault: %v", err)
	}
}

// TestAfterCommit checks that AfterCommit's function runs, after the
// chunks put before it are stored, so that their buffers can be reused.
func TestAfterCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Repeat([]byte{7}, 4*images.PageSize)
	if err := w.PutChunk(1, 0x10000, buf); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	if err := w.AfterCommit(func() { close(released) }); err != nil {
		t.Fatal(err)
	}
	<-released
	clear(buf) // the store must have its own copy by now
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	found, err := r.FindChunk(1, 0x10000, func(_ uint64, data []byte) error {
		if !bytes.Equal(data, bytes.Repeat([]byte{7}, 4*images.PageSize)) {
			t.Error("chunk changed after its buffer was released and reused")
		}
		return nil
	})
	if err != nil || !found {
		t.Fatalf("FindChunk: %v, %v", found, err)
	}
	if err := w.AfterCommit(func() {}); !errors.Is(err, ErrClosed) {
		t.Errorf("AfterCommit after Commit: %v, want ErrClosed", err)
	}
}

func TestSubRecordFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uint64{0x1000, 0x5000, 0x9000} {
		e := &pagemap.PagemapEntry{Vaddr: proto.Uint64(a), CompatNrPages: proto.Uint32(1), NrPages: proto.Uint64(1)}
		if err := w.PutSubRecord(images.Pagemap, 7, a, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		addr, want uint64
		found      bool
	}{
		{0x0fff, 0, false}, {0x1000, 0x1000, true}, {0x4fff, 0x1000, true},
		{0x5000, 0x5000, true}, {0xffffff, 0x9000, true},
	} {
		var e pagemap.PagemapEntry
		at, found, err := r.SubRecordFloor(images.Pagemap, 7, c.addr, &e)
		if err != nil || found != c.found || at != c.want || (found && e.GetVaddr() != c.want) {
			t.Errorf("floor(%#x) = %#x, %v, %v (entry %#x); want %#x, %v", c.addr, at, found, err, e.GetVaddr(), c.want, c.found)
		}
	}
	// Another id's records are not seen.
	if _, found, err := r.SubRecordFloor(images.Pagemap, 6, 0xffffff, &pagemap.PagemapEntry{}); found || err != nil {
		t.Errorf("floor in an empty id: %v, %v", found, err)
	}
	var subs []uint64
	err = r.SubRecordsIn(images.Pagemap, 7, 0x1001, 0x9000, func(sub uint64, raw []byte) error {
		var e pagemap.PagemapEntry
		if err := images.UnmarshalRecord(raw, &e); err != nil || e.GetVaddr() != sub {
			t.Errorf("sub %#x: %v, %#x", sub, err, e.GetVaddr())
		}
		subs = append(subs, sub)
		return nil
	})
	if err != nil || len(subs) != 1 || subs[0] != 0x5000 {
		t.Errorf("SubRecordsIn [0x1001, 0x9000) = %#x, %v; want [0x5000]", subs, err)
	}
}

func TestDeferredVerify(t *testing.T) {
	dir, _ := newStore(t)
	r, err := Open(dir, WithDeferredVerify())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestDeferredVerifyFindsDamage flips bytes in each table: a deferred
// open may succeed (only the index is checked), but Verify must not.
func TestDeferredVerifyFindsDamage(t *testing.T) {
	dir, _ := newStore(t)
	ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(ssts) == 0 {
		t.Fatalf("no tables: %v", err)
	}
	for _, sst := range ssts {
		b, err := os.ReadFile(sst)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0xff
		if err := os.WriteFile(sst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(dir, WithDeferredVerify())
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("deferred open of a damaged store: %v, want ErrCorrupt", err)
		}
		return
	}
	defer r.Close()
	if err := r.Verify(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify of a damaged store: %v, want ErrCorrupt", err)
	}
}
