package dumper

import (
	"reflect"
	"testing"
)

// TestClaim: each page of a shared object is saved by the first mapping
// that covers it, and only where the object holds data; the rest of a
// memfd is what no mapping covers.
func TestClaim(t *testing.T) {
	const p = pageSize
	o := &memObject{size: 16 * p, data: [][2]uint64{{0, 4 * p}, {8 * p, 12 * p}}}
	for _, c := range []struct {
		off, n uint64
		want   [][2]uint64
	}{
		{0, 6 * p, [][2]uint64{{0, 4 * p}}},          // first mapping: the data it covers
		{2 * p, 8 * p, [][2]uint64{{8 * p, 10 * p}}}, // overlaps the first: only what is new
		{0, 16 * p, [][2]uint64{{10 * p, 12 * p}}},   // the rest
		{0, 16 * p, nil}, // nothing left
	} {
		if got := o.claim(c.off, c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("claim(%d, %d) = %v, want %v", c.off/p, c.n/p, got, c.want)
		}
	}
	if got := o.unclaimed(); got != nil {
		t.Errorf("unclaimed = %v, want nothing", got)
	}
	o2 := &memObject{size: 16 * p, data: [][2]uint64{{0, 4 * p}, {8 * p, 12 * p}}}
	o2.claim(2*p, 8*p)
	want := [][2]uint64{{0, 2 * p}, {10 * p, 12 * p}}
	if got := o2.unclaimed(); !reflect.DeepEqual(got, want) {
		t.Errorf("unclaimed = %v, want %v", got, want)
	}
}

func TestAllZero(t *testing.T) {
	if !allZero(make([]byte, 100)) || allZero(append(make([]byte, 99), 1)) {
		t.Error("allZero is wrong")
	}
}
