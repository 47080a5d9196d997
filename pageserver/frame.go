package pageserver

import (
	"encoding/binary"
	"io"
	"strconv"

	"github.com/crlazy/crlazy/images"
)

// Frame layout and limits (see doc.go for the drawing).
const (
	headerLen  = 16 // type u8, flags u8, reserved u16, length u32, id u64
	magic      = "CRLAZYPS"
	nonceLen   = 32
	macLen     = 32
	identLen   = 32
	maxNameLen = 64
	// maxOpenPayload bounds OPEN: lane, name, and an identity or the
	// push's store header (a few hundred bytes of protobuf).
	maxOpenPayload = 1 << 10
	// maxErrorText bounds the text of an error frame.
	maxErrorText = 256
	// maxChunkBytes bounds the pages of one CHUNK or PUTCHUNK frame: the
	// largest chunk size a store may have.
	maxChunkBytes = images.ChunkLimitBytes
	// maxRecordBytes bounds a record's key and payload in PUTRECORD.
	maxRecordBytes = 16 << 20
	chunkHdrLen    = 8     // CHUNK: start u64
	putChunkHdrLen = 4 + 8 // PUTCHUNK: mm u32, addr u64
)

// frameType is the first byte of a frame. The numbers are part of the
// protocol.
type frameType uint8

const (
	tHello     frameType = 1  // c→s: magic, versions
	tWelcome   frameType = 2  // s→c: version, auth flags, server nonce
	tAuth      frameType = 3  // c→s: client nonce, mac
	tReady     frameType = 4  // s→c: server proof
	tOpen      frameType = 5  // c→s: lane, checkpoint name, identity or header
	tOpened    frameType = 6  // s→c: chunk size
	tGet       frameType = 16 // c→s: the chunk holding mm/addr
	tRange     frameType = 17 // c→s: every chunk of mm overlapping [start, end)
	tDone      frameType = 19 // c→s: the restore has every page
	tChunk     frameType = 32 // s→c: start, pages
	tNoChunk   frameType = 33 // s→c: GET found no chunk (a hole)
	tEnd       frameType = 34 // s→c: end of a RANGE stream, with its count
	tOK        frameType = 36 // s→c: DONE or COMMIT done
	tError     frameType = 37 // s→c: code, text
	tPutChunk  frameType = 48 // c→s: mm, addr, pages
	tPutRecord frameType = 49 // c→s: key length, key, payload
	tCommit    frameType = 50 // c→s: counts; the push is complete
)

// side says who may send a frame type.
type side uint8

const (
	fromClient side = 1
	fromServer side = 2
)

// frameSpec bounds one frame type's payload and says who sends it and
// whether it carries a request id.
type frameSpec struct {
	name     string
	from     side
	min, max uint32
	id       bool // a non-zero request id is required (else it must be 0)
}

var specs = map[frameType]frameSpec{
	tHello:     {"HELLO", fromClient, helloLen, helloLen, false},
	tWelcome:   {"WELCOME", fromServer, welcomeLen, welcomeLen, false},
	tAuth:      {"AUTH", fromClient, authLen, authLen, false},
	tReady:     {"READY", fromServer, macLen, macLen, false},
	tOpen:      {"OPEN", fromClient, 3, maxOpenPayload, true},
	tOpened:    {"OPENED", fromServer, 8, 8, true},
	tGet:       {"GET", fromClient, 12, 12, true},
	tRange:     {"RANGE", fromClient, 20, 20, true},
	tDone:      {"DONE", fromClient, 0, 0, true},
	tChunk:     {"CHUNK", fromServer, chunkHdrLen + images.PageSize, chunkHdrLen + maxChunkBytes, true},
	tNoChunk:   {"NOCHUNK", fromServer, 0, 0, true},
	tEnd:       {"END", fromServer, 8, 8, true},
	tOK:        {"OK", fromServer, 0, 0, true},
	tError:     {"ERROR", fromServer, 2, 2 + maxErrorText, false},
	tPutChunk:  {"PUTCHUNK", fromClient, putChunkHdrLen + images.PageSize, putChunkHdrLen + maxChunkBytes, false},
	tPutRecord: {"PUTRECORD", fromClient, 1 + images.RecordKeyLen, 1 + images.SubRecordKeyLen + maxRecordBytes, false},
	tCommit:    {"COMMIT", fromClient, 24, 24, true},
}

func (t frameType) String() string {
	if s, ok := specs[t]; ok {
		return s.name
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// header is a decoded frame header.
type header struct {
	typ frameType
	len uint32
	id  uint64
}

// putHeader encodes h into b[:headerLen].
func putHeader(b []byte, h header) {
	b[0], b[1], b[2], b[3] = byte(h.typ), 0, 0, 0
	binary.BigEndian.PutUint32(b[4:], h.len)
	binary.BigEndian.PutUint64(b[8:], h.id)
}

// parseHeader decodes and checks a frame header sent by from: a known
// type sent by that side, zero flags, a length within the type's bounds,
// and a request id exactly where the type needs one.
func parseHeader(b []byte, from side) (header, error) {
	h := header{typ: frameType(b[0]), len: binary.BigEndian.Uint32(b[4:]), id: binary.BigEndian.Uint64(b[8:])}
	sp, ok := specs[h.typ]
	switch {
	case !ok:
		return h, badFrame(b[0], "unknown frame type")
	case sp.from != from:
		return h, badFrame(b[0], "%s frame from the wrong side", sp.name)
	case b[1] != 0 || b[2] != 0 || b[3] != 0:
		return h, badFrame(b[0], "%s frame with reserved bits set", sp.name)
	case h.len > sp.max:
		return h, badFrame(b[0], "oversize %s frame: %d bytes, at most %d", sp.name, h.len, sp.max)
	case h.len < sp.min:
		return h, badFrame(b[0], "short %s frame: %d bytes, at least %d", sp.name, h.len, sp.min)
	case sp.id != (h.id != 0) && !(h.typ == tError):
		return h, badFrame(b[0], "%s frame with request id %d", sp.name, h.id)
	}
	return h, nil
}

// readHeader reads one frame header sent by from.
func readHeader(r io.Reader, buf *[headerLen]byte, from side) (header, error) {
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return header{}, err
	}
	return parseHeader(buf[:], from)
}

// readPayload reads h's payload into buf, which must hold it.
func readPayload(r io.Reader, h header, buf []byte) ([]byte, error) {
	if int(h.len) > len(buf) {
		return nil, badFrame(byte(h.typ), "%s frame of %d bytes, at most %d expected here", h.typ, h.len, len(buf))
	}
	p := buf[:h.len]
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, noEOF(err)
	}
	return p, nil
}

// noEOF turns an EOF inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
