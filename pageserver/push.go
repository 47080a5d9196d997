package pageserver

import (
	"encoding/binary"
	"fmt"
)

// servePush receives a checkpoint: PUTCHUNK and PUTRECORD frames, in any
// order, then COMMIT, which is answered once the store is durable. Any
// failure answers with an error frame and drops the whole push.
func (sc *serverConn) servePush(in *incoming) error {
	for {
		h, err := sc.c.next()
		if err != nil {
			return fmt.Errorf("push of %s cut short: %w", sc.name, noEOF(err))
		}
		if err := in.checkLen(h); err != nil {
			return err
		}
		// The store keeps the pages without copying: a buffer per frame.
		p, err := sc.payload(h, make([]byte, h.len))
		if err != nil {
			return fmt.Errorf("push of %s cut short: %w", sc.name, err)
		}
		switch h.typ {
		case tPutChunk:
			err = sc.putChunk(in, p)
		case tPutRecord:
			err = sc.putRecord(in, p)
		case tCommit:
			return sc.commit(in, h.id, parseCommit(p))
		default:
			return badFrame(byte(h.typ), "%s frame on the %s lane", h.typ, sc.lane)
		}
		if err != nil {
			return sc.refuseConn(0, err)
		}
	}
}

func (sc *serverConn) putChunk(in *incoming, p []byte) error {
	mm, addr := binary.BigEndian.Uint32(p), binary.BigEndian.Uint64(p[4:])
	data := p[putChunkHdrLen:]
	if err := checkPages(tPutChunk, addr, len(data)); err != nil {
		return err
	}
	return in.putChunk(mm, addr, data)
}

func (sc *serverConn) putRecord(in *incoming, p []byte) error {
	k, payload, err := parsePutRecord(p)
	if err != nil {
		return err
	}
	return in.putRecord(k, payload)
}

func (sc *serverConn) commit(in *incoming, id uint64, m commitMsg) error {
	if err := in.commit(m); err != nil {
		return sc.refuseConn(id, fmt.Errorf("commit %s: %w", sc.name, err))
	}
	sc.s.log.Info("checkpoint received", "remote", sc.remote, "name", sc.name,
		"chunks", m.chunks, "chunk_bytes", m.chunkBytes, "records", m.records)
	return sc.c.send(tOK, id)
}
