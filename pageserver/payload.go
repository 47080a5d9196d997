package pageserver

import (
	"encoding/binary"
	"fmt"

	"github.com/crlazy/crlazy/images"
)

// Fixed payload lengths.
const (
	helloLen   = 8 + 2 + 2         // magic (8 bytes), min version, max version
	welcomeLen = 2 + 2 + nonceLen  // version, flags, nonce
	authLen    = nonceLen + macLen // client nonce, mac
)

// welcomeToken is the WELCOME flag saying the server requires a token.
const welcomeToken = 1

// lane says what a connection carries; a client opens one connection per
// lane, so that demand faults never queue behind a prefetch stream.
type lane uint8

const (
	laneDemand lane = 1 // GET, DONE: one chunk at a time, pipelined
	laneBulk   lane = 2 // RANGE streams (prefetch, eager fill)
	lanePush   lane = 3 // PUTCHUNK, PUTRECORD, COMMIT (a dump)
)

func (l lane) String() string {
	switch l {
	case laneDemand:
		return "demand"
	case laneBulk:
		return "bulk"
	case lanePush:
		return "push"
	}
	return fmt.Sprintf("lane(%d)", uint8(l))
}

type hello struct{ min, max uint16 }

func (m hello) append(b []byte) []byte {
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint16(b, m.min)
	return binary.BigEndian.AppendUint16(b, m.max)
}

func parseHello(p []byte) (hello, error) {
	if string(p[:len(magic)]) != magic {
		return hello{}, badFrame(byte(tHello), "bad magic %q", p[:len(magic)])
	}
	m := hello{min: binary.BigEndian.Uint16(p[8:]), max: binary.BigEndian.Uint16(p[10:])}
	if m.min > m.max || m.min == 0 {
		return m, badFrame(byte(tHello), "version range %d..%d", m.min, m.max)
	}
	return m, nil
}

type welcome struct {
	version uint16
	flags   uint16
	nonce   [nonceLen]byte
}

func (m welcome) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, m.version)
	b = binary.BigEndian.AppendUint16(b, m.flags)
	return append(b, m.nonce[:]...)
}

func parseWelcome(p []byte) (welcome, error) {
	m := welcome{version: binary.BigEndian.Uint16(p), flags: binary.BigEndian.Uint16(p[2:])}
	copy(m.nonce[:], p[4:])
	if m.flags&^welcomeToken != 0 {
		return m, badFrame(byte(tWelcome), "unknown flags %#x", m.flags)
	}
	return m, nil
}

type auth struct {
	nonce [nonceLen]byte
	mac   [macLen]byte
}

func (m auth) append(b []byte) []byte { return append(append(b, m.nonce[:]...), m.mac[:]...) }

func parseAuth(p []byte) auth {
	var m auth
	copy(m.nonce[:], p)
	copy(m.mac[:], p[nonceLen:])
	return m
}

// openReq binds a connection to a checkpoint and a lane. A pull lane
// carries the identity of the client's records; a push carries the
// store header (protobuf crlazypb.Header) for the new store.
type openReq struct {
	lane   lane
	name   string
	ident  [identLen]byte // pull lanes
	header []byte         // push
}

func (m openReq) append(b []byte) []byte {
	b = append(b, byte(m.lane), byte(len(m.name)))
	b = append(b, m.name...)
	if m.lane == lanePush {
		return append(b, m.header...)
	}
	return append(b, m.ident[:]...)
}

func parseOpen(p []byte) (openReq, error) {
	m := openReq{lane: lane(p[0])}
	n := int(p[1])
	if len(p) < 2+n {
		return m, badFrame(byte(tOpen), "name of %d bytes in a %d-byte frame", n, len(p))
	}
	m.name = string(p[2 : 2+n])
	if err := CheckName(m.name); err != nil {
		return m, badFrame(byte(tOpen), "%v", err)
	}
	rest := p[2+n:]
	switch m.lane {
	case laneDemand, laneBulk:
		if len(rest) != identLen {
			return m, badFrame(byte(tOpen), "identity of %d bytes, want %d", len(rest), identLen)
		}
		copy(m.ident[:], rest)
	case lanePush:
		if len(rest) == 0 {
			return m, badFrame(byte(tOpen), "push without a store header")
		}
		m.header = rest
	default:
		return m, badFrame(byte(tOpen), "unknown %v", m.lane)
	}
	return m, nil
}

// pageReq is GET: an address of an mm.
type pageReq struct {
	mm   uint32
	addr uint64
}

func (m pageReq) append(b []byte) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, m.mm), m.addr)
}

func parsePageReq(p []byte) pageReq {
	return pageReq{mm: binary.BigEndian.Uint32(p), addr: binary.BigEndian.Uint64(p[4:])}
}

type rangeReq struct {
	mm         uint32
	start, end uint64
}

func (m rangeReq) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, m.mm)
	b = binary.BigEndian.AppendUint64(b, m.start)
	return binary.BigEndian.AppendUint64(b, m.end)
}

func parseRange(p []byte) (rangeReq, error) {
	m := rangeReq{mm: binary.BigEndian.Uint32(p), start: binary.BigEndian.Uint64(p[4:]), end: binary.BigEndian.Uint64(p[12:])}
	if m.start >= m.end {
		return m, badFrame(byte(tRange), "empty range %#x-%#x", m.start, m.end)
	}
	return m, nil
}

// checkPages checks the pages of a CHUNK or PUTCHUNK: a page-aligned
// start and a whole number of pages that does not wrap.
func checkPages(t frameType, start uint64, n int) error {
	switch {
	case start%images.PageSize != 0:
		return badFrame(byte(t), "start %#x not page aligned", start)
	case n%images.PageSize != 0:
		return badFrame(byte(t), "%d bytes of pages, not whole pages", n)
	case start+uint64(n) < start:
		return badFrame(byte(t), "pages at %#x wrap the address space", start)
	}
	return nil
}

// errorMsg is the payload of an error frame.
type errorMsg struct {
	code errCode
	text string
}

func (m errorMsg) append(b []byte) []byte {
	t := m.text
	if len(t) > maxErrorText {
		t = t[:maxErrorText]
	}
	return append(binary.BigEndian.AppendUint16(b, uint16(m.code)), t...)
}

func parseError(p []byte) errorMsg {
	return errorMsg{code: errCode(binary.BigEndian.Uint16(p)), text: string(p[2:])}
}
