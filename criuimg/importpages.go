package criuimg

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

const (
	// importBatchBytes is how much of a pages image is read at once.
	importBatchBytes = 8 << 20
	pageSize         = images.PageSize
)

// writePages stores the pages of mm from pagemap-<pid>.img and the pages
// image it names, as the dumper lays them out: zero pages as zero runs,
// other pages as chunks cut at ChunkMaxBytes-aligned addresses.
func (im *importer) writePages(pid, mm uint32) error {
	key := fmt.Sprintf("pages/%d", mm)
	if im.done[key] {
		return nil
	}
	im.done[key] = true
	img, err := ReadFile(im.path(fmt.Sprintf("pagemap-%d.img", pid)), NamePagemap)
	if err != nil {
		return err
	}
	head := &pagemap.PagemapHead{}
	if err := img.Unmarshal(0, head); err != nil {
		return err
	}
	name := fmt.Sprintf("pages-%d.img", head.GetPagesId())
	f, err := os.Open(im.path(name))
	if err != nil {
		return err
	}
	defer f.Close()
	rec := &pageRecorder{w: im.w, mm: mm, stats: &im.stats}
	if err := rec.entries(img, f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("%s holds more pages than its pagemap lists: %w", name, store.ErrCorrupt)
	}
	return rec.flush()
}

// entries copies the pages of every pagemap entry (after the head) from f.
func (p *pageRecorder) entries(img *Image, f io.Reader) error {
	var prevEnd uint64
	for i := 1; i < len(img.Entries); i++ {
		e := &pagemap.PagemapEntry{}
		if err := img.Unmarshal(i, e); err != nil {
			return err
		}
		addr, n := e.GetVaddr(), entryPages(e)
		if addr%pageSize != 0 || n == 0 || n > (math.MaxUint64-addr)/pageSize || addr < prevEnd {
			return fmt.Errorf("pagemap entry %d (%#x, %d pages) is malformed or out of order: %w", i, addr, n, store.ErrCorrupt)
		}
		prevEnd = addr + n*pageSize
		present, err := entryPresent(e)
		if err != nil {
			return fmt.Errorf("pagemap entry %#x: %w", addr, err)
		}
		if present {
			if err := p.copyRun(f, addr, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// entryPages returns the page count of e: nr_pages, or the old 32-bit
// field when nr_pages is absent.
func entryPages(e *pagemap.PagemapEntry) uint64 {
	if e.NrPages != nil {
		return e.GetNrPages()
	}
	return uint64(e.GetCompatNrPages())
}

// entryPresent reports whether the pages of e are in the pages image.
func entryPresent(e *pagemap.PagemapEntry) (bool, error) {
	if e.Flags == nil {
		if e.GetInParent() {
			return false, fmt.Errorf("pages in a parent image (incremental dump): %w", ErrUnsupported)
		}
		return true, nil // images older than pagemap flags
	}
	f := e.GetFlags()
	switch {
	case f&images.PagemapParent != 0:
		return false, fmt.Errorf("pages in a parent image (incremental dump): %w", ErrUnsupported)
	case f&images.PagemapLazy != 0:
		return false, fmt.Errorf("lazy pages, left on a page server: %w", ErrUnsupported)
	}
	return f&images.PagemapPresent != 0, nil
}

// pageRecorder turns pages into chunks and pagemap runs.
type pageRecorder struct {
	w     *store.Writer
	mm    uint32
	stats *ImportStats
	cur   *pagemap.PagemapEntry // run being extended
	end   uint64                // end address of cur
}

// copyRun reads n pages for addr from f, a batch at a time. Each batch
// is a new buffer: the store owns what PutChunk is given.
func (p *pageRecorder) copyRun(f io.Reader, addr, n uint64) error {
	for rest := n * pageSize; rest > 0; {
		buf := make([]byte, min(rest, importBatchBytes))
		if _, err := io.ReadFull(f, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("ends before page %#x: %w", addr, store.ErrCorrupt)
			}
			return err
		}
		if err := p.run(addr, buf); err != nil {
			return err
		}
		addr += uint64(len(buf))
		rest -= uint64(len(buf))
	}
	return nil
}

// run records data, the pages at addr: zero pages as zero runs, others
// as chunks that never cross a ChunkMaxBytes boundary.
func (p *pageRecorder) run(addr uint64, data []byte) error {
	return images.SplitPages(addr, data, p.span)
}

func (p *pageRecorder) span(addr uint64, data []byte, zero bool) error {
	pages := uint64(len(data)) / pageSize
	flags := uint32(images.PagemapPresent)
	if zero {
		flags |= images.PagemapZero
		p.stats.PagesZero += pages
	} else {
		if err := p.w.PutChunk(p.mm, addr, data); err != nil {
			return err
		}
		p.stats.PagesData += pages
		p.stats.Chunks++
	}
	if p.cur != nil && p.end == addr && p.cur.GetFlags() == flags {
		setPages(p.cur, p.cur.GetNrPages()+pages)
		p.end += pages * pageSize
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	p.cur = &pagemap.PagemapEntry{Vaddr: proto.Uint64(addr), Flags: proto.Uint32(flags)}
	setPages(p.cur, pages)
	p.end = addr + pages*pageSize
	return nil
}

func (p *pageRecorder) flush() error {
	if p.cur == nil {
		return nil
	}
	e := p.cur
	p.cur = nil
	p.stats.Records++
	return p.w.PutSubRecord(images.Pagemap, p.mm, e.GetVaddr(), e)
}
