package images

import (
	"encoding/binary"
	"fmt"
)

// KeyError describes a key that ParseKey rejected. It matches ErrBadKey.
type KeyError struct {
	Key    []byte // the key as found (may be long; printed truncated)
	Reason string
}

// maxKeyPrint bounds how many bytes of a bad key go into a message.
const maxKeyPrint = 32

func (e *KeyError) Error() string {
	k := e.Key
	if len(k) > maxKeyPrint {
		k = k[:maxKeyPrint]
	}
	return fmt.Sprintf("bad key %x (%d bytes): %s", k, len(e.Key), e.Reason)
}

// Is makes errors.Is(err, ErrBadKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrBadKey }

func badKey(b []byte, format string, args ...any) error {
	return &KeyError{Key: append([]byte(nil), b...), Reason: fmt.Sprintf(format, args...)}
}

// ParseKey decodes a store key. It accepts exactly the keys that
// HeaderKey, RecordKey, SubRecordKey and ChunkKey produce for a valid
// kind (a plain record for a kind without sub-records, a sub-record for a
// kind with them) and page-aligned chunk addresses; anything else is a
// *KeyError.
func ParseKey(b []byte) (Key, error) {
	if len(b) == 0 {
		return Key{}, badKey(b, "empty")
	}
	switch b[0] {
	case headerTag:
		if len(b) != HeaderKeyLen {
			return Key{}, badKey(b, "header key of %d bytes, want %d", len(b), HeaderKeyLen)
		}
		return Key{Type: KeyHeader}, nil
	case chunkTag:
		return parseChunkKey(b)
	case recordTag:
		return parseRecordKey(b)
	}
	return Key{}, badKey(b, "unknown key type %#x", b[0])
}

func parseChunkKey(b []byte) (Key, error) {
	if len(b) != ChunkKeyLen {
		return Key{}, badKey(b, "chunk key of %d bytes, want %d", len(b), ChunkKeyLen)
	}
	k := Key{Type: KeyChunk, ID: binary.BigEndian.Uint32(b[1:]), Addr: binary.BigEndian.Uint64(b[5:])}
	if k.Addr%PageSize != 0 {
		return Key{}, badKey(b, "chunk address %#x not page aligned", k.Addr)
	}
	return k, nil
}

func parseRecordKey(b []byte) (Key, error) {
	if len(b) != RecordKeyLen && len(b) != SubRecordKeyLen {
		return Key{}, badKey(b, "record key of %d bytes, want %d or %d", len(b), RecordKeyLen, SubRecordKeyLen)
	}
	k := Key{Type: KeyRecord, Kind: Kind(b[1]), ID: binary.BigEndian.Uint32(b[2:])}
	if !k.Kind.Valid() {
		return Key{}, badKey(b, "unknown record kind %d", uint8(k.Kind))
	}
	if len(b) == SubRecordKeyLen {
		k.Type, k.Sub = KeySubRecord, binary.BigEndian.Uint64(b[RecordKeyLen:])
	}
	if want := recordKeyType(k.Kind); k.Type != want {
		return Key{}, badKey(b, "%s is stored under %s keys, not %s keys", k.Kind, want, k.Type)
	}
	return k, nil
}

// recordKeyType returns the key type records of k are stored under.
func recordKeyType(k Kind) KeyType {
	if k.HasSub() {
		return KeySubRecord
	}
	return KeyRecord
}

// String names the key type.
func (t KeyType) String() string {
	switch t {
	case KeyHeader:
		return "header"
	case KeyRecord:
		return "record"
	case KeySubRecord:
		return "sub-record"
	case KeyChunk:
		return "chunk"
	}
	return "invalid"
}
