package criuimg

import (
	"fmt"
	"sort"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// Extent is the range [Start, End) of addresses or file offsets.
type Extent struct{ Start, End uint64 }

// ReadMemory fills dest with the memory of mm from addr on, as the store
// holds it: the bytes of the chunks that cover it, zeros elsewhere (zero
// runs and pages that were never dumped). It copies each chunk once and
// clears only the gaps between chunks.
func ReadMemory(r *store.Reader, mm uint32, addr uint64, dest []byte) error {
	n := uint64(len(dest))
	if n == 0 {
		return nil
	}
	if addr+n < addr {
		return fmt.Errorf("read memory %#x+%d: wraps the address space", addr, n)
	}
	end, pos := addr+n, addr
	err := r.ChunksIn(mm, addr, end, func(ca uint64, data []byte) error {
		s, e := max(ca, addr), min(ca+uint64(len(data)), end)
		if s >= e {
			return nil
		}
		clear(dest[pos-addr : s-addr])
		copy(dest[s-addr:e-addr], data[s-ca:e-ca])
		pos = e
		return nil
	})
	if err != nil {
		return fmt.Errorf("read memory of mm %d at %#x: %w", mm, addr, err)
	}
	clear(dest[pos-addr:])
	return nil
}

// MemoryData returns the extents of mm's memory that hold dumped data
// (pagemap runs that are neither zero nor absent), sorted and merged.
func MemoryData(r *store.Reader, mm uint32) ([]Extent, error) {
	var out []Extent
	err := r.SubRecords(images.Pagemap, mm, func(sub uint64, raw []byte) error {
		e := &pagemap.PagemapEntry{}
		if err := images.UnmarshalRecord(raw, e); err != nil {
			return fmt.Errorf("pagemap %#x: %w", sub, err)
		}
		if e.GetFlags()&images.PagemapZero != 0 || e.GetNrPages() == 0 {
			return nil
		}
		out = appendExtent(out, Extent{e.GetVaddr(), e.GetVaddr() + e.GetNrPages()*images.PageSize})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data runs of mm %d: %w", mm, err)
	}
	return out, nil
}

// appendExtent adds x after the extents of out (which end at or before
// x.Start), merging it with the last one when they touch.
func appendExtent(out []Extent, x Extent) []Extent {
	if n := len(out); n > 0 && out[n-1].End == x.Start {
		out[n-1].End = x.End
		return out
	}
	return append(out, x)
}

// Clip returns the parts of ext (sorted, disjoint) inside [start, end),
// shifted so that start becomes 0: the data extents of a file that shows
// the range [start, end).
func Clip(ext []Extent, start, end uint64) []Extent {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].End > start })
	var out []Extent
	for ; i < len(ext) && ext[i].Start < end; i++ {
		s, e := max(ext[i].Start, start), min(ext[i].End, end)
		out = append(out, Extent{s - start, e - start})
	}
	return out
}

// SeekData returns the first offset at or after off that lies in one of
// the data extents ext (sorted, disjoint), as lseek(SEEK_DATA) does; false
// if there is none.
func SeekData(ext []Extent, off uint64) (uint64, bool) {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].End > off })
	if i == len(ext) {
		return 0, false
	}
	return max(ext[i].Start, off), true
}

// SeekHole returns the first offset at or after off that is not in one of
// the data extents ext, as lseek(SEEK_HOLE) does: the end of the file,
// size, counts as a hole. off must be below size.
func SeekHole(ext []Extent, off, size uint64) uint64 {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].End > off })
	for ; i < len(ext) && ext[i].Start <= off; i++ {
		off = ext[i].End
	}
	return min(off, size)
}
