package uffd

import (
	"sort"

	"github.com/crlazy/crlazy/internal/linux"
)

const pageSize = linux.PageSize

// Area is a range of lazily restored memory: [Start, End) in the process,
// whose pages came from Orig.. in the image.
type Area struct {
	Start, End uint64
	Orig       uint64
}

// area is an Area with the pages still to come from the image.
type area struct {
	Area
	pending bitset // page i of the area still holds nothing
}

func (a *area) pages() uint64 { return (a.End - a.Start) / pageSize }

// origOf returns the image address of process address addr in a.
func (a *area) origOf(addr uint64) uint64 { return a.Orig + (addr - a.Start) }

// layout is the lazy state of one address space: areas sorted by Start,
// not overlapping, and how many pages are pending in all.
type layout struct {
	areas   []*area
	pending uint64
}

func newLayout(areas []Area) *layout {
	l := &layout{}
	for _, a := range areas {
		la := &area{Area: a, pending: newBitset((a.End-a.Start)/pageSize, true)}
		l.areas = append(l.areas, la)
		l.pending += la.pages()
	}
	sort.Slice(l.areas, func(i, j int) bool { return l.areas[i].Start < l.areas[j].Start })
	return l
}

// find returns the area holding addr, or nil.
func (l *layout) find(addr uint64) *area {
	i := sort.Search(len(l.areas), func(i int) bool { return l.areas[i].End > addr })
	if i < len(l.areas) && l.areas[i].Start <= addr {
		return l.areas[i]
	}
	return nil
}

// isPending reports whether the page at addr is still to come.
func (l *layout) isPending(addr uint64) bool {
	a := l.find(addr)
	return a != nil && a.pending.has((addr-a.Start)/pageSize)
}

// resolve marks [start, end) as needing nothing more from the image (it
// was copied, zeroed, or discarded by the process).
func (l *layout) resolve(start, end uint64) {
	for _, a := range l.overlapping(start, end) {
		s, e := max(start, a.Start), min(end, a.End)
		l.pending -= a.pending.clearRange((s-a.Start)/pageSize, (e-a.Start)/pageSize)
	}
}

// overlapping returns the areas that overlap [start, end).
func (l *layout) overlapping(start, end uint64) []*area {
	i := sort.Search(len(l.areas), func(i int) bool { return l.areas[i].End > start })
	var out []*area
	for ; i < len(l.areas) && l.areas[i].Start < end; i++ {
		out = append(out, l.areas[i])
	}
	return out
}

// split cuts the area that strictly contains addr in two.
func (l *layout) split(addr uint64) {
	i := sort.Search(len(l.areas), func(i int) bool { return l.areas[i].End > addr })
	if i == len(l.areas) || l.areas[i].Start >= addr {
		return
	}
	a := l.areas[i]
	cut := (addr - a.Start) / pageSize
	lo := &area{Area: Area{a.Start, addr, a.Orig}, pending: a.pending.slice(0, cut)}
	hi := &area{Area: Area{addr, a.End, a.origOf(addr)}, pending: a.pending.slice(cut, a.pages())}
	l.areas = append(l.areas[:i], append([]*area{lo, hi}, l.areas[i+1:]...)...)
}

// remove drops [start, end) (munmap): nothing there is pending any more.
func (l *layout) remove(start, end uint64) {
	l.split(start)
	l.split(end)
	kept := l.areas[:0]
	for _, a := range l.areas {
		if a.Start >= start && a.End <= end {
			l.pending -= a.pending.count()
			continue
		}
		kept = append(kept, a)
	}
	l.areas = kept
}

// remap moves [from, from+length) to [to, to+length) (mremap): the pages
// still pending move with it. Whatever was at the destination is gone.
func (l *layout) remap(from, to, length uint64) {
	l.split(from)
	l.split(from + length)
	var moved []*area
	kept := l.areas[:0]
	for _, a := range l.areas {
		if a.Start >= from && a.End <= from+length {
			moved = append(moved, a)
			continue
		}
		kept = append(kept, a)
	}
	l.areas = kept
	l.remove(to, to+length)
	for _, a := range moved {
		a.Start, a.End = a.Start-from+to, a.End-from+to
		l.areas = append(l.areas, a)
	}
	sort.Slice(l.areas, func(i, j int) bool { return l.areas[i].Start < l.areas[j].Start })
}

// clone returns a deep copy, for the child of a fork.
func (l *layout) clone() *layout {
	c := &layout{pending: l.pending}
	for _, a := range l.areas {
		c.areas = append(c.areas, &area{Area: a.Area, pending: a.pending.slice(0, a.pages())})
	}
	return c
}

// pendingRuns calls fn for each run of pending pages of areas whose image
// addresses overlap [origStart, origEnd), with the run's process address,
// image address and length in bytes.
func (l *layout) pendingRuns(origStart, origEnd uint64, fn func(addr, orig, length uint64) error) error {
	for _, a := range l.areas {
		aoEnd := a.Orig + (a.End - a.Start)
		if a.Orig >= origEnd || aoEnd <= origStart {
			continue
		}
		s := (max(origStart, a.Orig) - a.Orig) / pageSize
		e := (min(origEnd, aoEnd) - a.Orig) / pageSize
		for i := a.pending.next(s); i < e; {
			j := min(a.pending.nextClear(i), e)
			if err := fn(a.Start+i*pageSize, a.Orig+i*pageSize, (j-i)*pageSize); err != nil {
				return err
			}
			i = a.pending.next(j)
		}
	}
	return nil
}

// nextPending returns the image address of the first pending page at or
// after process address addr (in area order), and whether there is one.
func (l *layout) nextPending(addr uint64) (uint64, uint64, bool) {
	for _, a := range l.areas {
		if a.End <= addr {
			continue
		}
		from := uint64(0)
		if addr > a.Start {
			from = (addr - a.Start) / pageSize
		}
		if i := a.pending.next(from); i < a.pages() {
			return a.Start + i*pageSize, a.Orig + i*pageSize, true
		}
	}
	return 0, 0, false
}

// resolveOrig resolves the pending pages whose image addresses are in
// [origStart, origEnd).
func (l *layout) resolveOrig(origStart, origEnd uint64) {
	var runs [][2]uint64
	_ = l.pendingRuns(origStart, origEnd, func(addr, _, length uint64) error {
		runs = append(runs, [2]uint64{addr, addr + length})
		return nil
	})
	for _, r := range runs {
		l.resolve(r[0], r[1])
	}
}

// origPending reports whether the page at image address orig is pending
// somewhere in the layout.
func (l *layout) origPending(orig uint64) bool {
	found := false
	_ = l.pendingRuns(orig, orig+pageSize, func(uint64, uint64, uint64) error {
		found = true
		return nil
	})
	return found
}
