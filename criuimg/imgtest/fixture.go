// Package imgtest writes a small synthetic store for the tests of
// criuimg and imagefs: one process whose memory has data, zero runs and
// pages that were never dumped, at known addresses, with a content that
// is a pure function of the address (Fixture.Want).
package imgtest

import (
	"encoding/binary"
	"testing"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	fsimg "github.com/checkpoint-restore/go-criu/v8/crit/images/fs"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/regfile"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// Pid is the fixture's process (its mm, files, fs and sighand id too).
const Pid = 4242

const page = images.PageSize

// PageKind says what the store holds for one page.
type PageKind int

// Page kinds.
const (
	Absent PageKind = iota // never dumped
	Zero                   // dumped, all zeros (a zero run)
	Data                   // dumped, in a chunk
)

// Area is one VMA of the fixture and what its pages hold.
type Area struct {
	Start, End uint64
	Prot       uint32
	Status     uint32
	Flags      uint32
	Shmid      uint64
	Name       string // the memory file's name suffix imagefs gives it
	Kind       func(pageIndex uint64) PageKind
}

func always(k PageKind) func(uint64) PageKind { return func(uint64) PageKind { return k } }

// Areas are the fixture's VMAs, in address order. The big anonymous one
// has a zero page every 16, a run of 64 pages never dumped at 512 and 8
// pages never dumped at its end; its chunks are cut at ChunkMaxBytes.
var Areas = []Area{
	{0x400000, 0x402000, 5, images.VmaAreaRegular | images.VmaFilePrivate, 2, 1, ".r-xp.true", always(Absent)},
	{0x10000000, 0x10400000, 3, images.VmaAreaRegular | images.VmaAnonPrivate, 0x22, 0, ".rw-p", bigKind},
	{0x20000000, 0x20021000, 3, images.VmaAreaRegular | images.VmaAnonPrivate | images.VmaAreaHeap, 0x22, 0, ".rw-p.heap",
		dataWhere(func(i uint64) bool { return i < 2 })},
	{0x7ffd00000000, 0x7ffd00021000, 3, images.VmaAreaRegular | images.VmaAnonPrivate | images.VmaAreaStack, 0x122, 0, ".rw-p.stack",
		dataWhere(func(i uint64) bool { return i >= 30 })},
	{0x7fff00000000, 0x7fff00002000, 5, images.VmaAreaRegular | images.VmaAreaVdso, 2, 0, ".r-xp.vdso", always(Absent)},
}

// dataWhere makes the pages where f holds data, the others absent.
func dataWhere(f func(uint64) bool) func(uint64) PageKind {
	return func(i uint64) PageKind {
		if f(i) {
			return Data
		}
		return Absent
	}
}

func bigKind(i uint64) PageKind {
	switch {
	case i >= 512 && i < 576, i >= 1016:
		return Absent
	case i%16 == 15:
		return Zero
	}
	return Data
}

// Want returns the fixture's content of [addr, addr+n): each 8-byte word
// of a data page holds its own address with the low bit set; zero and
// absent pages read as zeros.
func Want(addr, n uint64) []byte {
	out := make([]byte, n)
	for off := uint64(0); off < n; off += 8 {
		a := addr + off
		if KindAt(a) == Data {
			binary.LittleEndian.PutUint64(out[off:], a|1)
		}
	}
	return out
}

// KindAt returns the kind of the page holding addr.
func KindAt(addr uint64) PageKind {
	for _, a := range Areas {
		if addr >= a.Start && addr < a.End {
			return a.Kind((addr - a.Start) / page)
		}
	}
	return Absent
}

// Write creates the fixture store in dir and fails t on error.
func Write(t testing.TB, dir string) { WriteN(t, dir, 1) }

// WriteN creates a fixture store of n processes, Pid, Pid+1, ..., each
// with the same memory (all children of Pid but Pid itself).
func WriteN(t testing.TB, dir string, n int) {
	t.Helper()
	w, err := store.Create(dir, &crlazypb.Header{ToolVersion: "imgtest", Arch: "x86_64", KernelRelease: "6.18", Hostname: "fixture"})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(w, n); err != nil {
		t.Fatal(err, w.Abort())
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func writeAll(w *store.Writer, n int) error {
	for _, r := range globalRecords() {
		if err := w.PutRecord(r.kind, r.id, r.msg); err != nil {
			return err
		}
	}
	for i := range uint32(n) {
		if err := writeProcess(w, Pid+i); err != nil {
			return err
		}
	}
	return nil
}

func writeProcess(w *store.Writer, pid uint32) error {
	for _, r := range records(pid) {
		if err := w.PutRecord(r.kind, r.id, r.msg); err != nil {
			return err
		}
	}
	for fd := range uint32(3) {
		e := &fdinfo.FdinfoEntry{Id: proto.Uint32(4), Flags: proto.Uint32(0), Type: fdinfo.FdTypes_REG.Enum(), Fd: proto.Uint32(fd)}
		if err := w.PutSubRecord(images.Fdinfo, pid, uint64(fd), e); err != nil {
			return err
		}
	}
	for _, a := range Areas {
		if err := writeArea(w, pid, a); err != nil {
			return err
		}
	}
	return nil
}

type record struct {
	kind images.Kind
	id   uint32
	msg  proto.Message
}

// globalRecords are the records shared by all processes.
func globalRecords() []record {
	u32 := proto.Uint32
	ids := &criucore.TaskKobjIdsEntry{VmId: u32(Pid), FilesId: u32(Pid), FsId: u32(Pid), SighandId: u32(Pid)}
	return []record{
		{images.Inventory, 0, &inventory.InventoryEntry{ImgVersion: u32(2), FdinfoPerId: proto.Bool(true), RootIds: ids}},
		{images.Files, 1, regFile(1, "/usr/bin/true")},
		{images.Files, 2, regFile(2, "/usr/bin/true")},
		{images.Files, 3, regFile(3, "/")},
		{images.Files, 4, regFile(4, "/dev/null")},
	}
}

// records are the records of process pid.
func records(pid uint32) []record {
	u32, u64 := proto.Uint32, proto.Uint64
	ppid := uint32(0)
	if pid != Pid {
		ppid = Pid
	}
	ids := &criucore.TaskKobjIdsEntry{VmId: u32(pid), FilesId: u32(pid), FsId: u32(pid), SighandId: u32(pid)}
	m := &mm.MmEntry{MmStartCode: u64(0x400000), MmEndCode: u64(0x402000), MmStartData: u64(0), MmEndData: u64(0),
		MmStartStack: u64(0x7ffd00020000), MmStartBrk: u64(0x20000000), MmBrk: u64(0x20021000),
		MmArgStart: u64(0x7ffd00020100), MmArgEnd: u64(0x7ffd00020200), MmEnvStart: u64(0x7ffd00020200),
		MmEnvEnd: u64(0x7ffd00020300), ExeFileId: u32(1)}
	for _, a := range Areas {
		m.Vmas = append(m.Vmas, &vma.VmaEntry{Start: u64(a.Start), End: u64(a.End), Pgoff: u64(0), Shmid: u64(a.Shmid),
			Prot: u32(a.Prot), Flags: u32(a.Flags), Status: u32(a.Status), Fd: proto.Int64(-1)})
	}
	core := &criucore.CoreEntry{Mtype: criucore.CoreEntry_X86_64.Enum(), Tc: &criucore.TaskCoreEntry{
		TaskState: u32(1), ExitCode: u32(0), Personality: u32(0), Flags: u32(0), BlkSigset: u64(0), Comm: proto.String("fixture")}}
	return []record{
		{images.Pstree, pid, &pstree.PstreeEntry{Pid: u32(pid), Ppid: u32(ppid), Pgid: u32(Pid), Sid: u32(Pid), Threads: []uint32{pid}}},
		{images.Core, pid, core},
		{images.Ids, pid, ids},
		{images.Mm, pid, m},
		{images.Fs, pid, &fsimg.FsEntry{CwdId: u32(3), RootId: u32(3), Umask: u32(0o22)}},
	}
}

func regFile(id uint32, path string) *fdinfo.FileEntry {
	u32 := proto.Uint32
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_REG.Enum(), Id: u32(id), Reg: &regfile.RegFileEntry{
		Id: u32(id), Flags: u32(0), Pos: proto.Uint64(0), Name: proto.String(path),
		Fown: &fown.FownEntry{Uid: u32(0), Euid: u32(0), Signum: u32(0), PidType: u32(0), Pid: u32(0)}}}
}

// writeArea stores the pages of a as the dumper would: maximal runs of
// one kind in the pagemap, data cut into chunks at ChunkMaxBytes.
func writeArea(w *store.Writer, pid uint32, a Area) error {
	n := (a.End - a.Start) / page
	for i := uint64(0); i < n; {
		k := a.Kind(i)
		j := i + 1
		for j < n && a.Kind(j) == k {
			j++
		}
		if err := writeRun(w, pid, a.Start+i*page, a.Start+j*page, k); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func writeRun(w *store.Writer, pid uint32, start, end uint64, k PageKind) error {
	if k == Absent {
		return nil
	}
	flags := uint32(images.PagemapPresent)
	if k == Zero {
		flags |= images.PagemapZero
	}
	pages := (end - start) / page
	e := &pagemap.PagemapEntry{Vaddr: proto.Uint64(start), NrPages: proto.Uint64(pages),
		CompatNrPages: proto.Uint32(uint32(pages)), Flags: proto.Uint32(flags)}
	if err := w.PutSubRecord(images.Pagemap, pid, start, e); err != nil {
		return err
	}
	for a := start; k == Data && a < end; {
		next := min(end, (a/images.ChunkMaxBytes+1)*images.ChunkMaxBytes)
		if err := w.PutChunk(pid, a, Want(a, next-a)); err != nil {
			return err
		}
		a = next
	}
	return nil
}
