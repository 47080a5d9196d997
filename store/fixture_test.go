package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
)

const page = images.PageSize

// fixture is the content of a small store: a few records of every shape
// (inline and in the value log) and chunks of several sizes with holes.
type fixture struct {
	records []fixRecord
	chunks  []fixChunk
}

type fixRecord struct {
	key images.Key
	msg proto.Message
}

type fixChunk struct {
	mm   uint32
	addr uint64
	data []byte
}

func testHeader() *crlazypb.Header {
	return &crlazypb.Header{ToolVersion: "test", Arch: "amd64", KernelRelease: "6.18", Hostname: "h"}
}

func newFixture() *fixture {
	fx := &fixture{}
	rec := func(k images.Kind, id uint32, m proto.Message) {
		fx.records = append(fx.records, fixRecord{images.Key{Type: images.KeyRecord, Kind: k, ID: id}, m})
	}
	sub := func(k images.Kind, id uint32, s uint64, m proto.Message) {
		fx.records = append(fx.records, fixRecord{images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: s}, m})
	}
	rec(images.Inventory, 0, &inventory.InventoryEntry{ImgVersion: proto.Uint32(2)})
	for _, pid := range []uint32{100, 101, 200} {
		rec(images.Pstree, pid, &pstree.PstreeEntry{Pid: proto.Uint32(pid), Ppid: proto.Uint32(1),
			Pgid: proto.Uint32(pid), Sid: proto.Uint32(pid), Threads: []uint32{pid, pid + 1000}})
		rec(images.Core, pid, &criucore.CoreEntry{Mtype: criucore.CoreEntry_X86_64.Enum()})
	}
	for _, id := range []uint32{100, 200} {
		rec(images.Mm, id, bigMm(id))
		for i := range uint64(3) {
			v := 0x7f0000000000 + i*16*page
			sub(images.Pagemap, id, v, &pagemap.PagemapEntry{Vaddr: proto.Uint64(v), CompatNrPages: proto.Uint32(4)})
		}
	}
	for fd := range uint64(3) {
		sub(images.Fdinfo, 1, fd, &fdinfo.FdinfoEntry{Id: proto.Uint32(uint32(fd) + 10), Flags: proto.Uint32(2),
			Type: fdinfo.FdTypes_REG.Enum(), Fd: proto.Uint32(uint32(fd))})
	}
	fx.chunks = fixtureChunks()
	return fx
}

// bigMm returns an mm record larger than valueThreshold, so that it goes
// to the value log.
func bigMm(id uint32) *mm.MmEntry {
	u := proto.Uint64
	m := &mm.MmEntry{MmStartCode: u(1), MmEndCode: u(2), MmStartData: u(3), MmEndData: u(4),
		MmStartStack: u(5), MmStartBrk: u(6), MmBrk: u(7), MmArgStart: u(8), MmArgEnd: u(9),
		MmEnvStart: u(10), MmEnvEnd: u(11), ExeFileId: proto.Uint32(id)}
	for i := range 300 {
		m.MmSavedAuxv = append(m.MmSavedAuxv, uint64(i)<<40|uint64(id))
	}
	return m
}

func fixtureChunks() []fixChunk {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []fixChunk
	for _, m := range []uint32{100, 200} {
		addr := uint64(0x7f0000000000)
		for _, pages := range []int{1, 3, 32, 32, 5, 1, 32, 2} {
			out = append(out, fixChunk{m, addr, randBytes(rng, pages*page)})
			addr += uint64(pages) * page
			if pages != 32 {
				addr += 7 * page // a hole
			}
		}
	}
	return out
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32()) | 1 // non-zero, as the dumper stores
	}
	return b
}

// write stores fx in a new store at dir and commits it.
func (fx *fixture) write(t testing.TB, dir string) {
	t.Helper()
	fx.writeWith(t, dir)
}

func (fx *fixture) writeWith(t testing.TB, dir string, opts ...Option) {
	t.Helper()
	w, err := Create(dir, testHeader(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range fx.records {
		if r.key.Type == images.KeyRecord {
			err = w.PutRecord(r.key.Kind, r.key.ID, r.msg)
		} else {
			err = w.PutSubRecord(r.key.Kind, r.key.ID, r.key.Sub, r.msg)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range fx.chunks {
		if err := w.PutChunk(c.mm, c.addr, bytes.Clone(c.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// newStore writes the fixture into a fresh directory and returns it.
func newStore(t testing.TB) (string, *fixture) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	fx := newFixture()
	fx.write(t, dir)
	return dir, fx
}

// snapshot is everything readable through the Reader API, as text keys
// and bytes, so that two stores (or a store and a fixture) compare.
type snapshot map[string][]byte

func (fx *fixture) snapshot() snapshot {
	s := snapshot{}
	for _, r := range fx.records {
		s[r.key.String()] = marshalDet(r.msg)
	}
	for _, c := range fx.chunks {
		s[images.Key{Type: images.KeyChunk, ID: c.mm, Addr: c.addr}.String()] = c.data
	}
	return s
}

func marshalDet(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// readAll reads every record and chunk through Record, IDs, SubRecords
// and Chunks (for the fixture's mms), and checks that Walk agrees.
func readAll(r *Reader, mms []uint32) (snapshot, error) {
	s := snapshot{}
	for _, k := range images.Kinds() {
		if err := readKind(r, k, s); err != nil {
			return nil, err
		}
	}
	for _, m := range mms {
		err := r.Chunks(m, func(addr uint64, data []byte) error {
			s[images.Key{Type: images.KeyChunk, ID: m, Addr: addr}.String()] = bytes.Clone(data)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return s, walkAgrees(r, s)
}

func readKind(r *Reader, k images.Kind, s snapshot) error {
	ids, err := r.IDs(k)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := readID(r, k, id, s); err != nil {
			return err
		}
	}
	return nil
}

func readID(r *Reader, k images.Kind, id uint32, s snapshot) error {
	if !k.HasSub() {
		m := k.New()
		if err := r.Record(k, id, m); err != nil {
			return err
		}
		s[images.Key{Type: images.KeyRecord, Kind: k, ID: id}.String()] = marshalDet(m)
		return nil
	}
	return r.SubRecords(k, id, func(sub uint64, raw []byte) error {
		m := k.New()
		if err := images.UnmarshalRecord(raw, m); err != nil {
			return err
		}
		s[images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: sub}.String()] = marshalDet(m)
		return nil
	})
}

// walkAgrees checks that Walk visits exactly the keys of s (plus the
// header) with the same chunk bytes.
func walkAgrees(r *Reader, s snapshot) error {
	var seen []string
	err := r.Walk(func(key images.Key, raw []byte) error {
		if key.Type == images.KeyHeader {
			return nil
		}
		seen = append(seen, key.String())
		if key.Type == images.KeyChunk && !bytes.Equal(s[key.String()], raw) {
			return fmt.Errorf("walk: %s differs from Chunks", key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(seen) != len(s) {
		return fmt.Errorf("walk saw %d keys, reads saw %d", len(seen), len(s))
	}
	return nil
}

// diff describes how two snapshots differ, or returns "".
func diff(want, got snapshot) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			out = append(out, "missing "+k)
		} else if !bytes.Equal(g, v) {
			out = append(out, "changed "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "extra "+k)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprint(out)
}

var fixtureMMs = []uint32{100, 200}
