package images

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images/crlazypb"
)

// FuzzParseKey: any byte string is either rejected with a *KeyError or
// parses to a key that encodes back to the same bytes.
func FuzzParseKey(f *testing.F) {
	for _, b := range [][]byte{HeaderKey(), RecordKey(Core, 4242), SubRecordKey(Pagemap, 1, 0x7f0000000000),
		ChunkKey(4242, 0x7f0000001000), {}, {'r'}, {'p', 0}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			var ke *KeyError
			if !errors.As(err, &ke) || !errors.Is(err, ErrBadKey) {
				t.Fatalf("ParseKey(%x): error %v is not a KeyError", b, err)
			}
			return
		}
		if got := k.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("ParseKey(%x) = %+v, which encodes to %x", b, k, got)
		}
		_ = k.String()
	})
}

// recordTypes are the messages whose decoding is fuzzed: every kind's
// and the header.
func recordTypes() []func() proto.Message {
	out := []func() proto.Message{func() proto.Message { return &crlazypb.Header{} }}
	for _, k := range Kinds() {
		out = append(out, k.New)
	}
	return out
}

// FuzzUnmarshalRecord feeds random payloads to every record type: no
// panic, and whatever decodes encodes again.
func FuzzUnmarshalRecord(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{0x08, 0x01, 0x10, 0x02})
	f.Add(uint8(2), []byte{0x08, 0x2a, 0x10, 0x01, 0x18, 0x2a, 0x20, 0x2a})
	f.Add(uint8(3), []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	types := recordTypes()
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		m := types[int(which)%len(types)]()
		if err := UnmarshalRecord(payload, m); err != nil {
			return
		}
		if _, err := EncodeRecord(HeaderKey(), m); err != nil {
			t.Fatalf("%s decoded from %x does not encode: %v", messageName(m), payload, err)
		}
	})
}

// FuzzDecodeRecord feeds random stored values (seal and payload) under
// a random key: no panic, and a value that passes the seal decodes like
// its payload.
func FuzzDecodeRecord(f *testing.F) {
	key := RecordKey(Inventory, 0)
	v, err := EncodeRecord(key, &crlazypb.Header{FormatVersion: 1, Complete: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key, v)
	f.Add(HeaderKey(), []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		h := &crlazypb.Header{}
		err := DecodeRecord(key, value, h)
		if payload, serr := Unseal(key, value); serr == nil {
			if (err == nil) != (UnmarshalRecord(payload, &crlazypb.Header{}) == nil) {
				t.Fatalf("DecodeRecord and Unseal+UnmarshalRecord disagree on %x", value)
			}
		} else if err == nil {
			t.Fatalf("DecodeRecord accepted a value with a bad seal")
		}
	})
}
