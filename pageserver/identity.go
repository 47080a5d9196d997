package pageserver

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// Identity returns what tells one dump from another: a SHA-256 over
// every record of the store (not the header, not the chunks), in key
// order, each message re-encoded deterministically. A restore that takes
// its records from one store and its pages from a page server checks
// that the server's checkpoint has the same identity, so that pages of
// another dump can never fill the process. It reads records only, so it
// is cheap on a store full of chunks too.
func Identity(r *store.Reader) ([identLen]byte, error) {
	h := sha256.New()
	var out [identLen]byte
	for _, k := range images.Kinds() {
		ids, err := r.IDs(k)
		if err != nil {
			return out, fmt.Errorf("identity: %w", err)
		}
		for _, id := range ids {
			if err := hashRecord(h, r, k, id); err != nil {
				return out, fmt.Errorf("identity: %w", err)
			}
		}
	}
	copy(out[:], h.Sum(nil))
	return out, nil
}

type hashWriter interface{ Write([]byte) (int, error) }

func hashRecord(h hashWriter, r *store.Reader, k images.Kind, id uint32) error {
	det := proto.MarshalOptions{Deterministic: true}
	put := func(sub uint64, m proto.Message) error {
		b, err := det.Marshal(m)
		if err != nil {
			return err
		}
		var hdr [1 + 4 + 8 + 8]byte
		hdr[0] = byte(k)
		binary.BigEndian.PutUint32(hdr[1:], id)
		binary.BigEndian.PutUint64(hdr[5:], sub)
		binary.BigEndian.PutUint64(hdr[13:], uint64(len(b)))
		h.Write(hdr[:])
		h.Write(b)
		return nil
	}
	if !k.HasSub() {
		m := k.New()
		if err := r.Record(k, id, m); err != nil {
			return err
		}
		return put(0, m)
	}
	return r.SubRecords(k, id, func(sub uint64, raw []byte) error {
		m := k.New()
		if err := images.UnmarshalRecord(raw, m); err != nil {
			return err
		}
		return put(sub, m)
	})
}
