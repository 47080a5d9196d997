// Package images is the model of a crlazy image store: the kinds of
// record, the binary layout of keys, crlazy's own header record
// (crlazypb.Header, from crlazypb/crlazy.proto), the format version and
// the encoding of record values. Package store keeps these keys and
// values in badger; this package knows nothing of badger.
//
// # Keys
//
// Every key starts with a type byte. Integers are big-endian, so that
// badger's byte order is numeric order: a seek to ChunkKey(mm, addr)
// lands on the first chunk at or above addr, and the sub-records of one
// record come out sorted by sub.
//
//	header     'h'                                           1 byte
//	           +----+
//	           | h  |
//	           +----+
//
//	record     'r' | kind | id (u32)                         6 bytes
//	           +----+----+----+----+----+----+
//	           | r  |kind|        id         |
//	           +----+----+----+----+----+----+
//
//	sub-record 'r' | kind | id (u32) | sub (u64)            14 bytes
//	           +----+----+-------------------+---------------------------------------+
//	           | r  |kind|        id         |                  sub                  |
//	           +----+----+-------------------+---------------------------------------+
//
//	chunk      'p' | mm id (u32) | start address (u64)      13 bytes
//	           +----+-------------------+---------------------------------------+
//	           | p  |       mm id       |             start address             |
//	           +----+-------------------+---------------------------------------+
//
// For example the pagemap entry of mm 4242 at 0x7f0000001000 is
// 72 05 00 00 10 92 00 00 7f 00 00 00 10 00, and the chunk of the same
// mm at the same address is 70 00 00 10 92 00 00 7f 00 00 00 10 00.
// The header sorts first, then all chunks (by mm, then address), then
// all records (by kind, id, sub). A record key is a prefix of its
// sub-record keys; a kind is stored either as plain records or as
// sub-records (Kind.HasSub), never both, and ParseKey rejects the other
// shape. Kind bytes are part of the format (kinds.go): never renumbered.
//
// # Values
//
// A chunk's value is the bytes of 1..N contiguous non-zero pages: a
// multiple of PageSize, at most the header's chunk_size. Zero pages and
// pages that are not present are holes: no chunk covers them.
//
// The header's and every record's value is sealed:
//
//	+-------------------+--------------------------------------+
//	| crc32c (u32, BE)  | protobuf message (wire format)       |
//	+-------------------+--------------------------------------+
//
// The CRC32C covers the key, then the message, so a value that was
// damaged, that belongs to another key, or that came back empty (badger
// v4 returns an empty value, without an error, when it cannot read one
// from its value log) fails Unseal with ErrBadSeal. Chunks are not sealed:
// badger's own value-log checksum covers them, and they are handed out
// without a copy.
//
// Records use CRIU's schema (go-criu's crit/images types: Kind.New);
// CRIU's proto2 required fields are enforced both ways.
//
// # Header and versions
//
// crlazypb.Header describes the dump (tool version, arch, page size,
// xfeatures, kernel, host, time, chunk size) and, once the dump is
// complete, what the store holds (Contents: counts of records and chunks
// and a digest of all keys, the sum of KeyHash over keys). FormatVersion
// is written into every store; a reader accepts MinFormatVersion through
// FormatVersion and reports any other with a *VersionError that names
// both. Any change that an older reader would misread (key layout, value
// encoding, the meaning of a header field) bumps FormatVersion; adding a
// Kind or a header field that older readers may ignore does not.
//
// # Errors
//
// Parsers of untrusted bytes (ParseKey, Unseal, DecodeRecord,
// UnmarshalRecord) never panic; they return *KeyError (ErrBadKey),
// ErrBadSeal or protobuf errors with the message name. They are fuzzed
// (FuzzParseKey, FuzzUnmarshalRecord, FuzzDecodeRecord).
package images
