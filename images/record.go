package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/proto"
)

// SealLen is the length of the seal in front of every header and record
// value: a big-endian CRC32C of the key followed by the payload.
const SealLen = 4

// ErrBadSeal is returned for a record value whose seal does not match
// its key and payload: the value is damaged, belongs to another key, or
// is missing (badger v4 returns an empty value, without an error, when it
// cannot read one from the value log).
var ErrBadSeal = errors.New("record checksum mismatch")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func seal(key, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, payload)
}

// EncodeRecord returns the stored value of the record m under key: the
// seal, then m in protobuf wire format. Required fields of CRIU's proto2
// messages are checked: a record missing one is an error, so that every
// stored record can be decoded again.
func EncodeRecord(key []byte, m proto.Message) ([]byte, error) {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, fmt.Errorf("encode record: nil message")
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, SealLen, SealLen+proto.Size(m)), m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", messageName(m), err)
	}
	binary.BigEndian.PutUint32(b, seal(key, b[SealLen:]))
	return b, nil
}

// Unseal checks the seal of a stored value under key and returns the
// payload (a slice of value, not a copy).
func Unseal(key, value []byte) ([]byte, error) {
	if len(value) < SealLen {
		return nil, fmt.Errorf("value of %d bytes: %w", len(value), ErrBadSeal)
	}
	payload := value[SealLen:]
	if got, want := seal(key, payload), binary.BigEndian.Uint32(value); got != want {
		return nil, fmt.Errorf("crc32c %#08x, sealed %#08x: %w", got, want, ErrBadSeal)
	}
	return payload, nil
}

// DecodeRecord checks the seal of a stored value under key and decodes
// its payload into m.
func DecodeRecord(key, value []byte, m proto.Message) error {
	payload, err := Unseal(key, value)
	if err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return UnmarshalRecord(payload, m)
}

// UnmarshalRecord decodes a payload (a value without its seal, as
// Reader.SubRecords and Reader.Walk hand out) into m, replacing its
// contents. payload is untrusted: any byte string gives either a message
// or an error, never a panic. Unknown fields are kept, so that records
// written by a newer CRIU schema survive a round trip.
func UnmarshalRecord(payload []byte, m proto.Message) error {
	if m == nil || !m.ProtoReflect().IsValid() {
		return fmt.Errorf("unmarshal record: nil message")
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return fmt.Errorf("unmarshal %s (%d bytes): %w", messageName(m), len(payload), err)
	}
	return nil
}

// messageName returns the protobuf name of m ("criu.core_entry" style).
func messageName(m proto.Message) string {
	return string(m.ProtoReflect().Descriptor().FullName())
}
