package images

import (
	"errors"
	"testing"
)

func TestSplitPages(t *testing.T) {
	const base = ChunkMaxBytes - 2*PageSize // two pages before a chunk boundary
	data := make([]byte, 8*PageSize)
	for _, p := range []int{0, 1, 2, 3, 6} { // pages 4, 5, 7 stay zero
		data[p*PageSize+5] = 1
	}
	type run struct {
		addr  uint64
		pages int
		zero  bool
	}
	var got []run
	err := SplitPages(base, data, func(addr uint64, r []byte, zero bool) error {
		got = append(got, run{addr, len(r) / PageSize, zero})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []run{
		{base, 2, false}, // cut at the chunk boundary
		{base + 2*PageSize, 2, false},
		{base + 4*PageSize, 2, true},
		{base + 6*PageSize, 1, false},
		{base + 7*PageSize, 1, true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("run %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := SplitPages(base, data, func(uint64, []byte, bool) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("an error did not stop the split: %v after %d calls", err, calls)
	}
}
