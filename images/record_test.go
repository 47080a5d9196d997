package images

import (
	"errors"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images/crlazypb"
)

func TestRecordRoundTrip(t *testing.T) {
	key := RecordKey(Pstree, 42)
	in := &pstree.PstreeEntry{Pid: proto.Uint32(42), Ppid: proto.Uint32(1), Pgid: proto.Uint32(42), Sid: proto.Uint32(42)}
	v, err := EncodeRecord(key, in)
	if err != nil {
		t.Fatal(err)
	}
	out := &pstree.PstreeEntry{}
	if err := DecodeRecord(key, v, out); err != nil || !proto.Equal(in, out) {
		t.Fatalf("decode: %v %v", out, err)
	}
	if err := DecodeRecord(RecordKey(Pstree, 43), v, out); !errors.Is(err, ErrBadSeal) {
		t.Fatalf("value under another key: %v", err)
	}
	v[len(v)-1] ^= 1
	if err := DecodeRecord(key, v, out); !errors.Is(err, ErrBadSeal) {
		t.Fatalf("flipped bit: %v", err)
	}
	if err := DecodeRecord(key, nil, out); !errors.Is(err, ErrBadSeal) {
		t.Fatalf("empty value: %v", err)
	}
}

func TestEncodeRecordRequiredFields(t *testing.T) {
	if _, err := EncodeRecord(RecordKey(Pstree, 1), &pstree.PstreeEntry{Pid: proto.Uint32(1)}); err == nil {
		t.Fatal("a record missing required fields was encoded")
	}
	if _, err := EncodeRecord(RecordKey(Pstree, 1), (*pstree.PstreeEntry)(nil)); err == nil {
		t.Fatal("a nil record was encoded")
	}
	if err := UnmarshalRecord(nil, (*pstree.PstreeEntry)(nil)); err == nil {
		t.Fatal("unmarshal into nil accepted")
	}
}

func TestCheckHeader(t *testing.T) {
	ok := &crlazypb.Header{FormatVersion: FormatVersion, PageSize: PageSize, ChunkSize: ChunkMaxBytes}
	if err := CheckHeader(ok); err != nil {
		t.Fatal(err)
	}
	bad := []*crlazypb.Header{
		{FormatVersion: FormatVersion + 1, PageSize: PageSize, ChunkSize: ChunkMaxBytes},
		{FormatVersion: 0, PageSize: PageSize, ChunkSize: ChunkMaxBytes},
		{FormatVersion: FormatVersion, PageSize: 65536, ChunkSize: ChunkMaxBytes},
		{FormatVersion: FormatVersion, PageSize: PageSize, ChunkSize: 0},
		{FormatVersion: FormatVersion, PageSize: PageSize, ChunkSize: PageSize + 1},
		{FormatVersion: FormatVersion, PageSize: PageSize, ChunkSize: ChunkLimitBytes + PageSize},
	}
	for _, h := range bad {
		if err := CheckHeader(h); err == nil {
			t.Errorf("accepted %v", h)
		}
	}
	var ve *VersionError
	if err := CheckFormatVersion(9); !errors.As(err, &ve) || !errors.Is(err, ErrVersion) || ve.Store != 9 {
		t.Errorf("CheckFormatVersion(9) = %v", err)
	}
}
