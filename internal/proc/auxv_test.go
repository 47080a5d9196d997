package proc

import (
	"encoding/binary"
	"os"
	"testing"
)

const (
	atPagesz = 6
	atEntry  = 9
)

func auxvLookup(v []uint64, key uint64) (uint64, bool) {
	for i := 0; i+1 < len(v); i += 2 {
		if v[i] == key {
			return v[i+1], true
		}
	}
	return 0, false
}

func TestParseAuxvFixture(t *testing.T) {
	b := fixture(t, "auxv-cat.bin")
	v, err := ParseAuxv(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(b)/8 || v[len(v)-2] != AtNull || v[len(v)-1] != 0 {
		t.Errorf("%d words from %d bytes, last %v", len(v), len(b), v[len(v)-2:])
	}
	if ps, ok := auxvLookup(v, atPagesz); !ok || ps != PageSize {
		t.Errorf("AT_PAGESZ %d, %v", ps, ok)
	}
}

func TestParseAuxvErrors(t *testing.T) {
	b := binary.NativeEndian.AppendUint64(nil, atPagesz)
	b = binary.NativeEndian.AppendUint64(b, 4096)
	if _, err := ParseAuxv(b); err == nil {
		t.Error("accepted auxv without AT_NULL")
	}
	b = append(b, make([]byte, 16)...)
	b = append(b, 1, 2, 3) // bytes after AT_NULL are ignored
	if v, err := ParseAuxv(b); err != nil || len(v) != 4 {
		t.Errorf("%v, %v", v, err)
	}
	wantMalformed(t, func() error { _, err := ParseAuxv(b[:20]); return err }(), "AT_NULL")
}

func TestReadAuxvSelf(t *testing.T) {
	v, err := ReadAuxv(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ps, ok := auxvLookup(v, atPagesz); !ok || ps != PageSize {
		t.Errorf("AT_PAGESZ %d, %v", ps, ok)
	}
	if e, ok := auxvLookup(v, atEntry); !ok || e == 0 {
		t.Errorf("AT_ENTRY %#x, %v", e, ok)
	}
}
