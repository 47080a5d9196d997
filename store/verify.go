package store

import (
	"github.com/dgraph-io/badger/v4"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
)

// verify walks every key (keys only, no value is read) and checks that
// the store holds exactly the keys the header lists: a MANIFEST cut
// short or a lost table drops keys without any badger error, and a
// restore that found no chunk would map zero pages silently. It also
// parses every key, so that later reads meet only well-formed keys.
func (r *Reader) verify() error {
	var got crlazypb.Contents
	err := r.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := count(&got, it.Item().Key()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return compareContents(r.hdr.GetContents(), &got)
}

func count(c *crlazypb.Contents, key []byte) error {
	k, err := images.ParseKey(key)
	if err != nil {
		return corrupt(err, "scan keys")
	}
	switch k.Type {
	case images.KeyHeader:
		return nil
	case images.KeyChunk:
		c.Chunks++
	default:
		c.Records++
	}
	c.KeyDigest += images.KeyHash(key)
	return nil
}

func compareContents(want, got *crlazypb.Contents) error {
	if want.GetRecords() != got.Records || want.GetChunks() != got.Chunks {
		return corrupt(nil, "header lists %d records and %d chunks, found %d and %d",
			want.GetRecords(), want.GetChunks(), got.Records, got.Chunks)
	}
	if want.GetKeyDigest() != got.KeyDigest {
		return corrupt(nil, "key digest %#x, header says %#x", got.KeyDigest, want.GetKeyDigest())
	}
	return nil
}
