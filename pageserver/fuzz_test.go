package pageserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// errTruncated: the stream ended inside a frame.
var errTruncated = errors.New("truncated frame")

// decodeStream decodes every frame of b as sent by from, parsing each
// payload as its receiver would, and checks that each header encodes back
// to the same bytes. It returns how many frames were whole and valid.
func decodeStream(b []byte, from side) (int, error) {
	r := bytes.NewReader(b)
	var hb [headerLen]byte
	for n := 0; ; n++ {
		h, err := readHeader(r, &hb, from)
		if err == io.EOF {
			return n, nil
		}
		if err == io.ErrUnexpectedEOF {
			return n, errTruncated
		}
		if err != nil {
			return n, err
		}
		var again [headerLen]byte
		putHeader(again[:], h)
		if again != hb {
			return n, errors.New("header does not encode back to the same bytes")
		}
		if int(h.len) > r.Len() {
			return n, errTruncated
		}
		p, err := readPayload(r, h, make([]byte, h.len))
		if err == io.ErrUnexpectedEOF {
			return n, errTruncated
		}
		if err != nil {
			return n, err
		}
		if err := parsePayload(h.typ, p); err != nil {
			return n, err
		}
	}
}

// parsePayload runs the parser of type t on p.
func parsePayload(t frameType, p []byte) error {
	var err error
	switch t {
	case tHello:
		_, err = parseHello(p)
	case tWelcome:
		_, err = parseWelcome(p)
	case tAuth:
		parseAuth(p)
	case tOpen:
		_, err = parseOpen(p)
	case tGet:
		parsePageReq(p)
	case tRange:
		_, err = parseRange(p)
	case tChunk:
		err = checkPages(t, binary.BigEndian.Uint64(p), len(p)-chunkHdrLen)
	case tPutChunk:
		err = checkPages(t, binary.BigEndian.Uint64(p[4:]), len(p)-putChunkHdrLen)
	case tPutRecord:
		_, _, err = parsePutRecord(p)
	case tError:
		parseError(p)
	case tCommit:
		parseCommit(p)
	}
	return err
}

// FuzzFrames feeds byte streams to the frame decoder and every payload
// parser, as either side receives them: nothing may panic, and a header
// that decodes must encode back to the same bytes.
func FuzzFrames(f *testing.F) {
	for _, frames := range sampleFrames() {
		var all []byte
		for _, fr := range frames {
			f.Add(fr)
			all = append(all, fr...)
		}
		f.Add(all)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, from := range []side{fromClient, fromServer} {
			_, _ = decodeStream(b, from)
		}
	})
}

// FuzzServerConn feeds byte streams to a server's connection handler
// (serving a checkpoint from memory, so that nothing is written): it must
// end the connection, never panic or hang.
func FuzzServerConn(f *testing.F) {
	fx := inMemory(f, 11)
	pp := newProcessPages(f, fx)
	log, _ := newLog()
	s, err := Listen(Config{Address: "127.0.0.1:0", Process: pp, Log: log})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	for _, seed := range sessionSeeds(pp, fx) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		srv, cli := net.Pipe()
		s.wg.Add(1)
		ended := make(chan struct{})
		go func() { s.handle(srv); close(ended) }()
		go io.Copy(io.Discard, cli)
		_, _ = cli.Write(b)
		cli.Close()
		select {
		case <-ended:
		case <-time.After(handshakeTimeout + time.Second):
			t.Fatal("the server did not end the connection")
		}
	})
}

// sessionSeeds are client sessions: handshake, open, requests.
func sessionSeeds(pp *ProcessPages, fx *fixture) [][]byte {
	hs := append(frame(tHello, 0, hello{min: 1, max: 1}.append(nil)), frame(tAuth, 0, auth{}.append(nil))...)
	demand := append(append([]byte(nil), hs...), frame(tOpen, 1, openReq{lane: laneDemand, name: "live", ident: pp.ident}.append(nil))...)
	bulk := append(append([]byte(nil), hs...), frame(tOpen, 1, openReq{lane: laneBulk, name: "live", ident: pp.ident}.append(nil))...)
	return [][]byte{
		hs,
		append(append([]byte(nil), demand...), append(frame(tGet, 2, pageReq{mm: fx.pid, addr: fx.base}.append(nil)), frame(tDone, 3)...)...),
		append(append([]byte(nil), bulk...), frame(tRange, 2, rangeReq{mm: fx.pid, start: fx.base, end: fx.end()}.append(nil))...),
		append(append([]byte(nil), hs...), frame(tOpen, 1, openReq{lane: lanePush, name: "new", header: []byte{8, 1}}.append(nil))...),
	}
}
