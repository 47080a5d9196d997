package images

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Key type bytes: the first byte of every key. 'h' < 'p' < 'r', so the
// header sorts first, then all page chunks, then all records.
const (
	headerTag = 'h'
	chunkTag  = 'p'
	recordTag = 'r'
)

// Key lengths in bytes, one per key type (see the package doc).
const (
	HeaderKeyLen    = 1                // 'h'
	RecordKeyLen    = 1 + 1 + 4        // 'r' kind id
	SubRecordKeyLen = RecordKeyLen + 8 // 'r' kind id sub
	ChunkKeyLen     = 1 + 4 + 8        // 'p' mm addr
	chunkPrefixLen  = 1 + 4            // 'p' mm
)

// KeyType says which of the four key shapes a key has.
type KeyType uint8

// Key types.
const (
	KeyInvalid KeyType = iota
	KeyHeader
	KeyRecord
	KeySubRecord
	KeyChunk
)

// ErrBadKey is matched (errors.Is) by every key parse error.
var ErrBadKey = errors.New("bad key")

// ErrUnknownKind is returned for a kind byte or name this build does not
// know.
var ErrUnknownKind = errors.New("unknown record kind")

// Key is a parsed store key. Kind, ID and Sub are set for records and
// sub-records; ID (the mm id) and Addr for chunks; nothing for the header.
type Key struct {
	Type KeyType
	Kind Kind
	ID   uint32
	Sub  uint64
	Addr uint64
}

// HeaderKey returns the key of the store header.
func HeaderKey() []byte { return []byte{headerTag} }

// RecordKey returns the key of the record of kind k and id.
func RecordKey(k Kind, id uint32) []byte {
	b := make([]byte, RecordKeyLen, SubRecordKeyLen)
	b[0], b[1] = recordTag, byte(k)
	binary.BigEndian.PutUint32(b[2:], id)
	return b
}

// SubRecordKey returns the key of sub-record sub of record (k, id).
func SubRecordKey(k Kind, id uint32, sub uint64) []byte {
	return binary.BigEndian.AppendUint64(RecordKey(k, id), sub)
}

// ChunkKey returns the key of the page chunk of mm that starts at addr.
func ChunkKey(mm uint32, addr uint64) []byte {
	return binary.BigEndian.AppendUint64(ChunkPrefix(mm), addr)
}

// KindPrefix returns the prefix shared by every key of kind k.
func KindPrefix(k Kind) []byte { return []byte{recordTag, byte(k)} }

// ChunkPrefix returns the prefix shared by every chunk key of mm.
func ChunkPrefix(mm uint32) []byte {
	b := make([]byte, chunkPrefixLen, ChunkKeyLen)
	b[0] = chunkTag
	binary.BigEndian.PutUint32(b[1:], mm)
	return b
}

// Bytes encodes k; it is the inverse of ParseKey for valid keys.
func (k Key) Bytes() []byte {
	switch k.Type {
	case KeyHeader:
		return HeaderKey()
	case KeyRecord:
		return RecordKey(k.Kind, k.ID)
	case KeySubRecord:
		return SubRecordKey(k.Kind, k.ID, k.Sub)
	case KeyChunk:
		return ChunkKey(k.ID, k.Addr)
	}
	return nil
}

// String describes k for messages: "header", "core/4242",
// "pagemap/4242/0x7f0000000000", "chunk 4242@0x7f0000000000".
func (k Key) String() string {
	switch k.Type {
	case KeyHeader:
		return "header"
	case KeyRecord:
		return fmt.Sprintf("%s/%d", k.Kind, k.ID)
	case KeySubRecord:
		return fmt.Sprintf("%s/%d/%#x", k.Kind, k.ID, k.Sub)
	case KeyChunk:
		return fmt.Sprintf("chunk %d@%#x", k.ID, k.Addr)
	}
	return "invalid key"
}
