package main

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/imagefs"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

const (
	mountPid  = 4242
	mountBase = 0x7f0000000000
	ddBlock   = 1 << 20
)

// BenchmarkMountRead mounts a store holding a 1 GiB memory area and
// reads its memory file as `dd bs=1M` does, twice: through the page
// cache (the default; the first read fills the cache) and with
// FOPEN_DIRECT_IO. It reports each next to the baseline, the same bytes
// read with store.Chunks in the same process.
func BenchmarkMountRead(b *testing.B) {
	testutil.RequirePriv(b)
	dir := filepath.Join(b.TempDir(), "img")
	writeMemStore(b, dir)
	for range b.N {
		b.StopTimer()
		base := gbps(gib, timeIt(b, func() error { return readChunks(dir) }))
		first, again := mountAndRead(b, dir, imagefs.Options{})
		direct, _ := mountAndRead(b, dir, imagefs.Options{DirectIO: true})
		b.ReportMetric(base, "chunks-GB/s")
		b.ReportMetric(first, "dd-GB/s")
		b.ReportMetric(again, "dd-cached-GB/s")
		b.ReportMetric(direct, "dd-directio-GB/s")
		b.ReportMetric(first/base, "dd/chunks")
		b.StartTimer()
	}
}

// writeMemStore writes a store of one process whose only VMA is 1 GiB
// of non-zero pages.
func writeMemStore(b *testing.B, dir string) {
	w, err := store.Create(dir, &crlazypb.Header{Arch: "x86_64"})
	if err != nil {
		b.Fatal(err)
	}
	u32, u64 := proto.Uint32, proto.Uint64
	ids := &criucore.TaskKobjIdsEntry{VmId: u32(mountPid), FilesId: u32(mountPid), FsId: u32(mountPid), SighandId: u32(mountPid)}
	m := &mm.MmEntry{MmStartCode: u64(0), MmEndCode: u64(0), MmStartData: u64(0), MmEndData: u64(0), MmStartStack: u64(0),
		MmStartBrk: u64(0), MmBrk: u64(0), MmArgStart: u64(0), MmArgEnd: u64(0), MmEnvStart: u64(0), MmEnvEnd: u64(0), ExeFileId: u32(1),
		Vmas: []*vma.VmaEntry{{Start: u64(mountBase), End: u64(mountBase + gib), Pgoff: u64(0), Shmid: u64(0), Prot: u32(3),
			Flags: u32(0x22), Status: u32(images.VmaAreaRegular | images.VmaAnonPrivate), Fd: proto.Int64(-1)}}}
	recs := []struct {
		k   images.Kind
		msg proto.Message
	}{
		{images.Pstree, &pstree.PstreeEntry{Pid: u32(mountPid), Ppid: u32(0), Pgid: u32(mountPid), Sid: u32(mountPid)}},
		{images.Ids, ids}, {images.Mm, m},
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err, w.Abort())
		}
	}
	must(w.PutRecord(images.Inventory, 0, &inventory.InventoryEntry{ImgVersion: u32(2)}))
	for _, r := range recs {
		must(w.PutRecord(r.k, mountPid, r.msg))
	}
	pages := uint64(gib / images.PageSize)
	must(w.PutSubRecord(images.Pagemap, mountPid, mountBase, &pagemap.PagemapEntry{Vaddr: u64(mountBase),
		NrPages: u64(pages), CompatNrPages: u32(uint32(pages)), Flags: u32(images.PagemapPresent)}))
	for off := uint64(0); off < gib; off += images.ChunkMaxBytes {
		chunk := make([]byte, images.ChunkMaxBytes)
		for i := 0; i < len(chunk); i += 8 {
			binary.LittleEndian.PutUint64(chunk[i:], (mountBase+off+uint64(i))|1)
		}
		must(w.PutChunk(mountPid, mountBase+off, chunk))
	}
	must(w.Commit())
}

// readChunks reads every chunk of the store, copying each as a read of
// the memory file copies it: the baseline.
func readChunks(dir string) error {
	r, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]byte, images.ChunkMaxBytes)
	return r.Chunks(mountPid, func(addr uint64, data []byte) error {
		copy(buf, data)
		return nil
	})
}

// mountAndRead mounts dir, reads the memory file twice with 1 MiB reads
// and unmounts; it returns both throughputs.
func mountAndRead(b *testing.B, dir string, opts imagefs.Options) (first, again float64) {
	mnt := b.TempDir()
	s, err := imagefs.Mount(dir, mnt, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := s.Unmount(); err != nil {
			b.Error(err)
		}
		if err := s.Wait(); err != nil {
			b.Error(err)
		}
	}()
	name := filepath.Join(mnt, "4242", "memory", "7f0000000000-7f0040000000.rw-p")
	first = gbps(gib, timeIt(b, func() error { return ddRead(name) }))
	again = gbps(gib, timeIt(b, func() error { return ddRead(name) }))
	return first, again
}

// ddRead reads path to the end in 1 MiB reads, as dd bs=1M does.
func ddRead(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, ddBlock)
	var total int64
	for {
		n, err := f.Read(buf)
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if total != gib {
		return io.ErrUnexpectedEOF
	}
	return nil
}
