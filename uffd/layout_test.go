package uffd

import (
	"fmt"
	"testing"
	"time"
)

const p = pageSize

func runs(l *layout, origStart, origEnd uint64) string {
	var s string
	_ = l.pendingRuns(origStart, origEnd, func(addr, orig, length uint64) error {
		s += fmt.Sprintf("[%#x<-%#x+%d]", addr, orig, length/p)
		return nil
	})
	return s
}

func TestBitset(t *testing.T) {
	b := newBitset(130, true)
	if b.count() != 130 {
		t.Fatalf("count %d", b.count())
	}
	if n := b.clearRange(10, 70); n != 60 {
		t.Errorf("cleared %d", n)
	}
	if b.next(10) != 70 || b.nextClear(0) != 10 || b.next(130) != 130 {
		t.Errorf("next %d nextClear %d", b.next(10), b.nextClear(0))
	}
	s := b.slice(5, 75)
	if s.n != 70 || s.count() != 10 || !s.has(0) || s.has(5) || !s.has(65) {
		t.Errorf("slice: n %d count %d", s.n, s.count())
	}
	if b.clearRange(0, 130) != 70 || b.count() != 0 || b.next(0) != 130 {
		t.Error("clear all")
	}
}

func TestLayoutResolveAndRuns(t *testing.T) {
	l := newLayout([]Area{{0x10000, 0x10000 + 8*p, 0x10000}, {0x40000, 0x40000 + 4*p, 0x40000}})
	if l.pending != 12 {
		t.Fatalf("pending %d", l.pending)
	}
	l.resolve(0x10000+2*p, 0x10000+4*p)
	l.resolve(0x3f000, 0x40000+p) // straddles the second area's start
	if l.pending != 9 {
		t.Errorf("pending %d, want 9", l.pending)
	}
	if got, want := runs(l, 0, 1<<40), "[0x10000<-0x10000+2][0x14000<-0x14000+4][0x41000<-0x41000+3]"; got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	if got := runs(l, 0x15000, 0x16000); got != "[0x15000<-0x15000+1]" {
		t.Errorf("runs in a window: %s", got)
	}
	if !l.isPending(0x10000) || l.isPending(0x12000) || l.isPending(0x30000) {
		t.Error("isPending")
	}
}

func TestLayoutRemove(t *testing.T) {
	l := newLayout([]Area{{0x10000, 0x10000 + 8*p, 0x10000}})
	l.remove(0x10000+2*p, 0x10000+4*p) // munmap a hole in the middle
	if l.pending != 6 || len(l.areas) != 2 {
		t.Fatalf("pending %d areas %d", l.pending, len(l.areas))
	}
	if l.find(0x12000) != nil || l.find(0x14000) == nil {
		t.Error("find after remove")
	}
	if got := runs(l, 0, 1<<40); got != "[0x10000<-0x10000+2][0x14000<-0x14000+4]" {
		t.Errorf("runs %s", got)
	}
}

func TestLayoutRemap(t *testing.T) {
	l := newLayout([]Area{{0x10000, 0x10000 + 8*p, 0x10000}})
	l.resolve(0x10000, 0x10000+p)
	// Move pages 4..7 to 0x80000: they still come from 0x14000.. in the image.
	l.remap(0x10000+4*p, 0x80000, 4*p)
	if l.pending != 7 {
		t.Errorf("pending %d", l.pending)
	}
	if got, want := runs(l, 0, 1<<40), "[0x11000<-0x11000+3][0x80000<-0x14000+4]"; got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	a := l.find(0x81000)
	if a == nil || a.origOf(0x81000) != 0x15000 {
		t.Errorf("find after remap: %+v", a)
	}
	// A remap onto pending pages drops them (the destination is replaced).
	l.remap(0x80000, 0x11000, p)
	if got, want := runs(l, 0, 1<<40), "[0x11000<-0x14000+1][0x12000<-0x12000+2][0x81000<-0x15000+3]"; got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	if l.pending != 6 {
		t.Errorf("pending %d, want 6", l.pending)
	}
}

func TestLayoutCloneAndNext(t *testing.T) {
	l := newLayout([]Area{{0x10000, 0x10000 + 4*p, 0x10000}, {0x20000, 0x20000 + 2*p, 0x20000}})
	c := l.clone()
	l.resolve(0, 1<<40)
	if l.pending != 0 || c.pending != 6 {
		t.Fatalf("clone shares state: %d %d", l.pending, c.pending)
	}
	c.resolve(0x10000, 0x10000+4*p)
	addr, orig, ok := c.nextPending(0)
	if !ok || addr != 0x20000 || orig != 0x20000 {
		t.Errorf("nextPending %#x %#x %v", addr, orig, ok)
	}
	if _, _, ok := l.nextPending(0); ok {
		t.Error("nextPending in an empty layout")
	}
}

func TestFaultPercentile(t *testing.T) {
	var st Stats
	if st.FaultPercentile(50) != 0 {
		t.Error("percentile of nothing")
	}
	for i := 100; i >= 1; i-- {
		st.FaultTimes = append(st.FaultTimes, time.Duration(i))
	}
	if st.FaultPercentile(50) != 50 || st.FaultPercentile(99) != 99 || st.FaultPercentile(100) != 100 {
		t.Errorf("p50 %v p99 %v p100 %v", st.FaultPercentile(50), st.FaultPercentile(99), st.FaultPercentile(100))
	}
}
