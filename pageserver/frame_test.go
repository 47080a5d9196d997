package pageserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/crlazy/crlazy/images"
)

// frame encodes a frame as a peer sends it.
func frame(t frameType, id uint64, payload ...[]byte) []byte {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	b := make([]byte, headerLen, headerLen+n)
	putHeader(b, header{typ: t, len: uint32(n), id: id})
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// sampleFrames are valid frames of every type, by side.
func sampleFrames() map[side][][]byte {
	var ident [identLen]byte
	ident[3] = 7
	chunk := bytes.Repeat([]byte{0xa5}, 2*page)
	putChunk := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 4242), 0x7f0000001000)
	kb := images.SubRecordKey(images.Pagemap, 4242, 0x7f0000001000)
	return map[side][][]byte{
		fromClient: {
			frame(tHello, 0, hello{min: 1, max: 1}.append(nil)),
			frame(tAuth, 0, auth{}.append(nil)),
			frame(tOpen, 1, openReq{lane: laneDemand, name: "ckpt", ident: ident}.append(nil)),
			frame(tOpen, 1, openReq{lane: lanePush, name: "a.b_c-1", header: []byte{8, 1}}.append(nil)),
			frame(tGet, 2, pageReq{mm: 4242, addr: 0x7f0000001000}.append(nil)),
			frame(tRange, 3, rangeReq{mm: 4242, start: 0x1000, end: 0x9000}.append(nil)),
			frame(tDone, 4),
			frame(tPutChunk, 0, putChunk, chunk),
			frame(tPutRecord, 0, []byte{byte(len(kb))}, kb, []byte{8, 1}),
			frame(tCommit, 5, commitMsg{chunks: 1, chunkBytes: 2 * page, records: 1}.append(nil)),
		},
		fromServer: {
			frame(tWelcome, 0, welcome{version: 1, flags: welcomeToken}.append(nil)),
			frame(tReady, 0, make([]byte, macLen)),
			frame(tOpened, 1, []byte{0, 2, 0, 0, 0, 0, 0, 0}),
			frame(tChunk, 2, binary.BigEndian.AppendUint64(nil, 0x7f0000001000), chunk),
			frame(tNoChunk, 2),
			frame(tEnd, 3, make([]byte, 8)),
			frame(tOK, 4),
			frame(tError, 4, errorMsg{code: codeNoSuch, text: "no checkpoint x"}.append(nil)),
		},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for from, frames := range sampleFrames() {
		for _, f := range frames {
			n, err := decodeStream(f, from)
			if err != nil || n != 1 {
				t.Errorf("frame %x (from %d): %d frames, %v", f[:headerLen], from, n, err)
			}
		}
	}
}

func TestFrameRejects(t *testing.T) {
	get := frame(tGet, 2, pageReq{}.append(nil))
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), get...)) }
	cases := map[string]struct {
		b    []byte
		from side
	}{
		"unknown type":  {frame(99, 1), fromClient},
		"wrong side":    {get, fromServer},
		"flags":         {mod(func(b []byte) []byte { b[1] = 1; return b }), fromClient},
		"reserved":      {mod(func(b []byte) []byte { b[3] = 1; return b }), fromClient},
		"oversize":      {mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 13); return b }), fromClient},
		"short":         {mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 11); return b[:headerLen+11] }), fromClient},
		"no id":         {mod(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 0); return b }), fromClient},
		"id on hello":   {frame(tHello, 9, hello{min: 1, max: 1}.append(nil)), fromClient},
		"huge length":   {mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 1<<31); return b }), fromClient},
		"bad magic":     {frame(tHello, 0, []byte("NOTMAGIC\x00\x01\x00\x01")), fromClient},
		"bad versions":  {frame(tHello, 0, hello{min: 2, max: 1}.append(nil)), fromClient},
		"empty range":   {frame(tRange, 3, rangeReq{start: 9, end: 9}.append(nil)), fromClient},
		"bad name":      {frame(tOpen, 1, openReq{lane: laneBulk, name: "..", ident: [32]byte{}}.append(nil)), fromClient},
		"slash in name": {frame(tOpen, 1, openReq{lane: laneBulk, name: "a/b", ident: [32]byte{}}.append(nil)), fromClient},
		"unknown lane":  {frame(tOpen, 1, openReq{lane: 9, name: "a"}.append(nil)), fromClient},
		"odd pages":     {frame(tChunk, 2, make([]byte, 8), make([]byte, page+1)), fromServer},
		"not a record":  {frame(tPutRecord, 0, []byte{1}, images.HeaderKey()), fromClient},
		"short payload": {get[:headerLen+4], fromClient},
	}
	for name, c := range cases {
		_, err := decodeStream(c.b, c.from)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !errors.Is(err, ErrProtocol) && !errors.Is(err, errTruncated) && !errors.Is(err, images.ErrBadKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "ckpt", "victim-7", "x.y_z", "0", string(bytes.Repeat([]byte("a"), maxNameLen))} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "-x", "a/b", "/etc", "a b", "a\x00", "é", string(bytes.Repeat([]byte("a"), maxNameLen+1))} {
		if err := CheckName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
