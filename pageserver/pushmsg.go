package pageserver

import (
	"encoding/binary"

	"github.com/crlazy/crlazy/images"
)

// commitMsg is COMMIT: what the pusher sent, for the server to check.
type commitMsg struct {
	chunks, chunkBytes, records uint64
}

func (m commitMsg) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, m.chunks)
	b = binary.BigEndian.AppendUint64(b, m.chunkBytes)
	return binary.BigEndian.AppendUint64(b, m.records)
}

func parseCommit(p []byte) commitMsg {
	return commitMsg{binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:]), binary.BigEndian.Uint64(p[16:])}
}

// parsePutRecord splits PUTRECORD into a record key and its payload.
func parsePutRecord(p []byte) (images.Key, []byte, error) {
	n := int(p[0])
	if len(p) < 1+n {
		return images.Key{}, nil, badFrame(byte(tPutRecord), "key of %d bytes in a %d-byte frame", n, len(p))
	}
	k, err := images.ParseKey(p[1 : 1+n])
	if err != nil {
		return k, nil, badFrame(byte(tPutRecord), "%v", err)
	}
	if k.Type != images.KeyRecord && k.Type != images.KeySubRecord {
		return k, nil, badFrame(byte(tPutRecord), "%s is not a record", k)
	}
	return k, p[1+n:], nil
}
