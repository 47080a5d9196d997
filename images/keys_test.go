package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	keys := []Key{
		{Type: KeyHeader},
		{Type: KeyRecord, Kind: Inventory},
		{Type: KeyRecord, Kind: Core, ID: 4242},
		{Type: KeyRecord, Kind: Sigacts - 1, ID: math.MaxUint32},
		{Type: KeySubRecord, Kind: Pagemap, ID: 4242, Sub: 0x7f0000001000},
		{Type: KeySubRecord, Kind: Fdinfo, ID: 7, Sub: 3},
		{Type: KeySubRecord, Kind: Sigacts, ID: 1, Sub: math.MaxUint64},
		{Type: KeyChunk, ID: 4242, Addr: 0x7f0000001000},
		{Type: KeyChunk, ID: 0, Addr: 0},
		{Type: KeyChunk, ID: math.MaxUint32, Addr: math.MaxUint64 &^ (PageSize - 1)},
	}
	for _, k := range keys {
		b := k.Bytes()
		got, err := ParseKey(b)
		if err != nil || got != k {
			t.Errorf("%s: ParseKey(%x) = %+v, %v", k, b, got, err)
		}
	}
}

func TestKeyLayout(t *testing.T) {
	// The drawing in doc.go, byte for byte.
	want := map[string][]byte{
		"header":    {'h'},
		"record":    {'r', byte(Core), 0, 0, 0x10, 0x92},
		"subrecord": {'r', byte(Pagemap), 0, 0, 0x10, 0x92, 0, 0, 0x7f, 0, 0, 0, 0x10, 0},
		"chunk":     {'p', 0, 0, 0x10, 0x92, 0, 0, 0x7f, 0, 0, 0, 0x10, 0},
	}
	got := map[string][]byte{
		"header":    HeaderKey(),
		"record":    RecordKey(Core, 4242),
		"subrecord": SubRecordKey(Pagemap, 4242, 0x7f0000001000),
		"chunk":     ChunkKey(4242, 0x7f0000001000),
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("%s key %x, want %x", name, got[name], w)
		}
	}
	if !bytes.HasPrefix(SubRecordKey(Pagemap, 9, 1), RecordKey(Pagemap, 9)) ||
		!bytes.HasPrefix(RecordKey(Pagemap, 9), KindPrefix(Pagemap)) ||
		!bytes.HasPrefix(ChunkKey(9, 0x1000), ChunkPrefix(9)) {
		t.Error("prefixes do not nest")
	}
}

// TestKeyOrder checks that byte order of keys is numeric order of their
// fields, which the store's seeks rely on.
func TestKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 10000 {
		m1, m2 := rng.Uint32N(4), rng.Uint32N(4)
		a1, a2 := rng.Uint64()&^(PageSize-1), rng.Uint64()&^(PageSize-1)
		want := cmp2(m1, m2, a1, a2)
		if got := bytes.Compare(ChunkKey(m1, a1), ChunkKey(m2, a2)); got != want {
			t.Fatalf("chunk (%d,%#x) vs (%d,%#x): %d, want %d", m1, a1, m2, a2, got, want)
		}
		if got := bytes.Compare(SubRecordKey(Pagemap, m1, a1), SubRecordKey(Pagemap, m2, a2)); got != want {
			t.Fatalf("sub-record (%d,%#x) vs (%d,%#x): %d, want %d", m1, a1, m2, a2, got, want)
		}
	}
	if !(bytes.Compare(HeaderKey(), ChunkKey(0, 0)) < 0 && bytes.Compare(ChunkKey(math.MaxUint32, 0), RecordKey(1, 0)) < 0) {
		t.Error("want header < chunks < records")
	}
}

func cmp2(m1, m2 uint32, a1, a2 uint64) int {
	switch {
	case m1 != m2 && m1 < m2, m1 == m2 && a1 < a2:
		return -1
	case m1 == m2 && a1 == a2:
		return 0
	}
	return 1
}

func TestParseKeyRejects(t *testing.T) {
	sub := binary.BigEndian.AppendUint64(RecordKey(Pagemap, 1), 5)
	bad := map[string][]byte{
		"empty":               {},
		"unknown type":        {'x', 1, 2},
		"long header":         {'h', 0},
		"short record":        {'r', byte(Core), 0, 0, 1},
		"record between":      append(RecordKey(Core, 1), 0, 0),
		"long sub-record":     append(bytes.Clone(sub), 0),
		"kind zero":           RecordKey(0, 1),
		"unknown kind":        RecordKey(Kind(len(kinds)), 1),
		"record of sub kind":  RecordKey(Pagemap, 1),
		"sub of record kind":  SubRecordKey(Core, 1, 2),
		"short chunk":         ChunkPrefix(1),
		"long chunk":          append(ChunkKey(1, 0), 0),
		"unaligned chunk":     ChunkKey(1, 0x1001),
		"chunk prefix only p": {'p'},
	}
	for name, b := range bad {
		_, err := ParseKey(b)
		var ke *KeyError
		if !errors.Is(err, ErrBadKey) || !errors.As(err, &ke) {
			t.Errorf("%s: ParseKey(%x) = %v, want a KeyError", name, b, err)
		}
	}
}

func TestKinds(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		name := k.String()
		if seen[name] {
			t.Errorf("kind name %q used twice", name)
		}
		seen[name] = true
		if got, err := ParseKind(name); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", name, got, err)
		}
		if k.New() == nil {
			t.Errorf("%s: no message type", k)
		}
	}
	if len(Kinds()) != int(SysvShmBytes) {
		t.Errorf("Kinds() has %d kinds, want %d", len(Kinds()), SysvShmBytes)
	}
	if _, err := ParseKind("nope"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ParseKind(nope): %v", err)
	}
	if Kind(0).Valid() || Kind(200).New() != nil || Kind(200).String() != "kind(200)" {
		t.Error("invalid kinds must stay invalid")
	}
}

func TestKeyHash(t *testing.T) {
	// FNV-1a 64 of "a" (a published test vector).
	if got := KeyHash([]byte("a")); got != 0xaf63dc4c8601ec8c {
		t.Fatalf("KeyHash(a) = %#x", got)
	}
}
