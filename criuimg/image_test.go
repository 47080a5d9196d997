package criuimg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"
)

// TestMagicValues pins the magic numbers of CRIU's criu/include/magic.h
// that crlazy writes, as go-criu's table gives them.
func TestMagicValues(t *testing.T) {
	for name, want := range map[string]uint32{
		"IMG_COMMON": 0x54564319, "IMG_SERVICE": 0x55105940, "INVENTORY": 0x58313116,
		"PSTREE": 0x50273030, "CORE": 0x55053847, "MM": 0x57492820, "PAGEMAP": 0x56084025,
		"FILES": 0x56303138, "FDINFO": 0x56213732, "FS": 0x51403912, "IDS": 0x54432030,
		"CREDS": 0x54023547, "SIGACT": 0x55344201,
	} {
		got, err := Magic(name)
		if err != nil || got != want {
			t.Errorf("Magic(%s) = %#x, %v; want %#x", name, got, err, want)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	msgs := []proto.Message{
		&pstree.PstreeEntry{Pid: proto.Uint32(1), Ppid: proto.Uint32(0), Pgid: proto.Uint32(1), Sid: proto.Uint32(1)},
		&pstree.PstreeEntry{Pid: proto.Uint32(2), Ppid: proto.Uint32(1), Pgid: proto.Uint32(1), Sid: proto.Uint32(1), Threads: []uint32{2, 3}},
	}
	b, err := Encode("PSTREE", msgs...)
	if err != nil {
		t.Fatal(err)
	}
	common, _ := Magic("IMG_COMMON")
	if binary.LittleEndian.Uint32(b) != common {
		t.Errorf("image starts with %#x, want IMG_COMMON", binary.LittleEndian.Uint32(b))
	}
	img, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if img.Type != "PSTREE" || len(img.Entries) != 2 {
		t.Fatalf("decoded %s with %d entries", img.Type, len(img.Entries))
	}
	for i, want := range msgs {
		got := &pstree.PstreeEntry{}
		if err := img.Unmarshal(i, got); err != nil || !proto.Equal(got, want) {
			t.Errorf("entry %d = %v, %v; want %v", i, got, err, want)
		}
	}
	inv, err := Encode("INVENTORY")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != magicLen {
		t.Errorf("empty inventory image is %d bytes, want only its own magic", len(inv))
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode("PSTREE", &pstree.PstreeEntry{Pid: proto.Uint32(1), Ppid: proto.Uint32(0), Pgid: proto.Uint32(1), Sid: proto.Uint32(1)})
	if err != nil {
		t.Fatal(err)
	}
	huge := append(bytes.Clone(good[:8]), 0xff, 0xff, 0xff, 0xff)
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":         {nil, ErrTruncated},
		"unknown magic": {[]byte{1, 2, 3, 4}, ErrUnknownMagic},
		"common only":   {good[:4], ErrTruncated},
		"cut size":      {good[:10], ErrTruncated},
		"cut entry":     {good[:len(good)-1], ErrTruncated},
		"huge entry":    {huge, ErrTooLarge},
	} {
		if _, err := Decode(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode = %v, want %v", name, err, tc.want)
		}
	}
}

// FuzzDecode checks that Decode never panics and that what it accepts
// re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	b, _ := Encode("PSTREE", &pstree.PstreeEntry{Pid: proto.Uint32(7), Ppid: proto.Uint32(0), Pgid: proto.Uint32(7), Sid: proto.Uint32(7)})
	f.Add(b)
	inv, _ := Encode("INVENTORY")
	f.Add(inv)
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(b)
		if err != nil {
			return
		}
		out, err := AppendHeader(nil, img.Type)
		if err != nil {
			t.Fatalf("decoded type %s does not encode: %v", img.Type, err)
		}
		for _, e := range img.Entries {
			out = binary.LittleEndian.AppendUint32(out, uint32(len(e)))
			out = append(out, e...)
		}
		if !bytes.Equal(out, b) && !isBareTypeMagic(b, img.Type) {
			t.Fatalf("re-encoded %x, decoded from %x", out, b)
		}
	})
}

// isBareTypeMagic reports whether b starts with the type's own magic and
// no common magic (which Decode accepts but Encode never writes, except
// for the inventory).
func isBareTypeMagic(b []byte, name string) bool {
	m, _ := Magic(name)
	return len(b) >= magicLen && binary.LittleEndian.Uint32(b) == m
}
