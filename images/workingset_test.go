package images

import (
	"errors"
	"slices"
	"testing"

	"github.com/crlazy/crlazy/images/crlazypb"
)

func TestWorkingSetRoundTrip(t *testing.T) {
	ws := &crlazypb.WorkingSet{Version: WorkingSetVersion, StoreDigest: 42, Mm: 7, Pages: []uint64{0x1000, 0x7f0000, 0x2000}}
	b, err := EncodeWorkingSet(ws)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeWorkingSet(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMm() != 7 || got.GetStoreDigest() != 42 || !slices.Equal(got.GetPages(), ws.Pages) {
		t.Errorf("round trip: %v", got)
	}
	b[len(b)-1] ^= 1
	if _, err := DecodeWorkingSet(b); !errors.Is(err, ErrBadWorkingSet) {
		t.Errorf("flipped byte: %v", err)
	}
}

func FuzzDecodeWorkingSet(f *testing.F) {
	b, _ := EncodeWorkingSet(&crlazypb.WorkingSet{Version: WorkingSetVersion, Pages: []uint64{0x1000}})
	f.Add(b)
	f.Add([]byte(wsetMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		ws, err := DecodeWorkingSet(data)
		if err == nil && ws.GetVersion() != WorkingSetVersion {
			t.Fatalf("accepted version %d", ws.GetVersion())
		}
	})
}
