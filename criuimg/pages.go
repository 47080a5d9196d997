package criuimg

import (
	"fmt"
	"math"
	"sort"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// segment is a run of pages of a pages image: file bytes [off, off+len)
// hold the memory of the process at [addr, addr+len); a zero segment is
// one of crlazy's zero runs, whose zeros the file holds.
type segment struct {
	off, addr, len uint64
	zero           bool
}

// pagesLayout describes pagemap-<pid>.img and pages-<id>.img of one mm:
// CRIU's pagemap entries and, in the same order, where their pages lie
// in the pages image.
type pagesLayout struct {
	r       *store.Reader
	mm      uint32
	entries []*pagemap.PagemapEntry
	segs    []segment
	size    uint64   // of the pages image
	data    []Extent // file offsets of the pages image that hold data
}

// buildPages reads the pagemap of mm. Every crlazy run becomes pages of
// the pages image in address order, zero runs included (CRIU has no flag
// for them), and contiguous runs share one CRIU entry.
func buildPages(r *store.Reader, mm uint32) (*pagesLayout, error) {
	l := &pagesLayout{r: r, mm: mm}
	err := r.SubRecords(images.Pagemap, mm, func(sub uint64, raw []byte) error {
		e := &pagemap.PagemapEntry{}
		if err := images.UnmarshalRecord(raw, e); err != nil {
			return fmt.Errorf("pagemap %#x: %w", sub, err)
		}
		return l.add(e)
	})
	if err != nil {
		return nil, fmt.Errorf("pagemap of mm %d: %w", mm, err)
	}
	return l, nil
}

func (l *pagesLayout) add(e *pagemap.PagemapEntry) error {
	n, addr := e.GetNrPages(), e.GetVaddr()
	if n == 0 || n > math.MaxUint64/images.PageSize || addr+n*images.PageSize < addr {
		return fmt.Errorf("pagemap entry %#x of %d pages: %w", addr, n, store.ErrCorrupt)
	}
	zero := e.GetFlags()&images.PagemapZero != 0
	bytes := n * images.PageSize
	l.segs = append(l.segs, segment{off: l.size, addr: addr, len: bytes, zero: zero})
	if !zero {
		l.data = appendExtent(l.data, Extent{l.size, l.size + bytes})
	}
	l.size += bytes
	flags := e.GetFlags() &^ images.PagemapZero
	if k := len(l.entries); k > 0 {
		last := l.entries[k-1]
		if last.GetFlags() == flags && last.GetVaddr()+last.GetNrPages()*images.PageSize == addr {
			setPages(last, last.GetNrPages()+n)
			return nil
		}
	}
	c := &pagemap.PagemapEntry{Vaddr: proto.Uint64(addr), Flags: proto.Uint32(flags)}
	setPages(c, n)
	l.entries = append(l.entries, c)
	return nil
}

// setPages sets both page counts of e (compat_nr_pages is CRIU's old
// required 32-bit field).
func setPages(e *pagemap.PagemapEntry, n uint64) {
	e.NrPages = proto.Uint64(n)
	e.CompatNrPages = proto.Uint32(uint32(min(n, math.MaxUint32)))
}

// pagemapImage encodes pagemap-<pid>.img: the head naming pages-<id>.img,
// then the entries.
func (l *pagesLayout) pagemapImage(pagesID uint32) ([]byte, error) {
	msgs := []proto.Message{&pagemap.PagemapHead{PagesId: proto.Uint32(pagesID)}}
	for _, e := range l.entries {
		msgs = append(msgs, e)
	}
	return Encode(NamePagemap, msgs...)
}

// readAt fills dest with the pages image from off; it returns the number
// of bytes filled (short only at the end of the image).
func (l *pagesLayout) readAt(dest []byte, off uint64) (int, error) {
	if off >= l.size {
		return 0, nil
	}
	dest = dest[:min(uint64(len(dest)), l.size-off)]
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].off+l.segs[i].len > off })
	done := 0
	for ; done < len(dest); i++ {
		s := l.segs[i]
		skip := off + uint64(done) - s.off
		piece := dest[done:min(uint64(len(dest)), uint64(done)+s.len-skip)]
		if s.zero {
			clear(piece)
		} else if err := ReadMemory(l.r, l.mm, s.addr+skip, piece); err != nil {
			return done, err
		}
		done += len(piece)
	}
	return done, nil
}
