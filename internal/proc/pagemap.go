package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// PageSize is the base page size. This package supports x86_64 only, where
// it is always 4096; pagemap has one entry per base page.
const PageSize = 4096

// pagemapEntrySize is the size of one pagemap entry (a little-endian u64).
const pagemapEntrySize = 8

// pagemapChunk bounds the entries read by one pread, and so the buffer one
// Read call allocates (64 KiB).
const pagemapChunk = 8192

// ErrUnaligned is returned by Pagemap.Read for a start address that is not
// a multiple of PageSize.
var ErrUnaligned = errors.New("address not page aligned")

// ErrRange is returned by Pagemap.Read when start plus the entries would run
// past the end of the 64-bit address space.
var ErrRange = errors.New("address range overflows")

// Pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent   = 63
	pmSwapped   = 62
	pmFile      = 61 // file page or shared anonymous page
	pmGuard     = 58 // guard region installed by MADV_GUARD_INSTALL (6.15+)
	pmUffdWP    = 57
	pmExclusive = 56 // page mapped exactly once
	pmSoftDirty = 55
	pmPFNBits   = 55 // bits 0-54
	pmSwapTypes = 5  // swap type in bits 0-4, offset in bits 5-54
)

// PagemapEntry is one entry of /proc/PID/pagemap.
type PagemapEntry uint64

func (e PagemapEntry) bit(n uint) bool { return e&(1<<n) != 0 }

// Present reports that the page is in RAM.
func (e PagemapEntry) Present() bool { return e.bit(pmPresent) }

// Swapped reports that the page is in swap.
func (e PagemapEntry) Swapped() bool { return e.bit(pmSwapped) }

// File reports a file-backed page or a shared anonymous page.
func (e PagemapEntry) File() bool { return e.bit(pmFile) }

// Guard reports a guard region (kernels from 6.15; always false before).
func (e PagemapEntry) Guard() bool { return e.bit(pmGuard) }

// UffdWP reports that the page is write-protected by userfaultfd.
func (e PagemapEntry) UffdWP() bool { return e.bit(pmUffdWP) }

// Exclusive reports that the page is mapped exactly once.
func (e PagemapEntry) Exclusive() bool { return e.bit(pmExclusive) }

// SoftDirty reports the soft-dirty bit (never set without
// CONFIG_MEM_SOFT_DIRTY, as on the project's 6.18 machines).
func (e PagemapEntry) SoftDirty() bool { return e.bit(pmSoftDirty) }

// PFN returns the page frame number of a present page. The kernel shows 0
// to readers without CAP_SYS_ADMIN.
func (e PagemapEntry) PFN() uint64 { return uint64(e) & (1<<pmPFNBits - 1) }

// SwapType returns the swap area of a swapped page.
func (e PagemapEntry) SwapType() uint64 { return e.PFN() & (1<<pmSwapTypes - 1) }

// SwapOffset returns the page's offset in its swap area.
func (e PagemapEntry) SwapOffset() uint64 { return e.PFN() >> pmSwapTypes }

// Pagemap is an open /proc/PID/pagemap. It owns its file descriptor until
// Close. Read may be called from several goroutines at once.
type Pagemap struct {
	f    *os.File
	dir  string
	path string
}

// OpenPagemap opens /proc/PID/pagemap. The kernel checks ptrace-read access
// to pid at open time.
func OpenPagemap(pid int) (*Pagemap, error) {
	dir := pidDir(pid)
	path := dir + "/pagemap"
	f, err := os.Open(path)
	if err != nil {
		return nil, wrapRead(dir, path, err)
	}
	return &Pagemap{f: f, dir: dir, path: path}, nil
}

// Close releases the file descriptor.
func (p *Pagemap) Close() error { return p.f.Close() }

// Read fills entries with the entries of the pages starting at start:
// entries[i] describes the page at start + i*PageSize. start must be page
// aligned. Pages above the task's address limit (such as [vsyscall]) are not
// in the file, and reading them is an io.ErrUnexpectedEOF error; so is any
// read after the process exited (ErrNoProcess too once it is reaped).
func (p *Pagemap) Read(start uint64, entries []PagemapEntry) error {
	if start%PageSize != 0 {
		return fmt.Errorf("read %s at %#x: %w", p.path, start, ErrUnaligned)
	}
	n := uint64(len(entries))
	if n > (^uint64(0)-start)/PageSize+1 {
		return fmt.Errorf("read %s at %#x: %d pages: %w", p.path, start, n, ErrRange)
	}
	buf := make([]byte, min(len(entries), pagemapChunk)*pagemapEntrySize)
	for done := 0; done < len(entries); {
		k := min(len(entries)-done, pagemapChunk)
		addr := start + uint64(done)*PageSize
		if err := p.readChunk(addr, buf[:k*pagemapEntrySize]); err != nil {
			return err
		}
		for i := range k {
			entries[done+i] = PagemapEntry(binary.LittleEndian.Uint64(buf[i*pagemapEntrySize:]))
		}
		done += k
	}
	return nil
}

// readChunk preads the entries of the pages from addr into buf.
func (p *Pagemap) readChunk(addr uint64, buf []byte) error {
	off := int64(addr / PageSize * pagemapEntrySize)
	_, err := p.f.ReadAt(buf, off)
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("%s at %#x", p.path, addr)
	if !errors.Is(err, io.EOF) {
		return wrapRead(p.dir, what, err)
	}
	// The file reads as empty once the address space is gone.
	if processGone(p.dir, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w: %w", what, ErrNoProcess, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s: %w", what, io.ErrUnexpectedEOF)
}
