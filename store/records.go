package store

import (
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
)

// Record reads the record (k, id) into m. A missing record gives an
// error that wraps ErrNotFound and names the key ("read core/4242: not
// found").
func (r *Reader) Record(k images.Kind, id uint32, m proto.Message) (err error) {
	defer r.guard(&err, "read record")()
	return r.get(images.Key{Type: images.KeyRecord, Kind: k, ID: id}, m)
}

// SubRecord reads sub-record sub of (k, id) into m.
func (r *Reader) SubRecord(k images.Kind, id uint32, sub uint64, m proto.Message) (err error) {
	defer r.guard(&err, "read sub-record")()
	return r.get(images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: sub}, m)
}

func (r *Reader) get(key images.Key, m proto.Message) error {
	if err := checkRecordKey(key); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := r.view(func(txn *badger.Txn) error { return getRecord(txn, key, m) }); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// IDs returns the ids that have a record (or sub-records) of kind k, in
// ascending order.
func (r *Reader) IDs(k images.Kind) (ids []uint32, err error) {
	defer r.guard(&err, "list ids")()
	if !k.Valid() {
		return nil, fmt.Errorf("list %s ids: %w", k, images.ErrUnknownKind)
	}
	err = r.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: images.KindPrefix(k)})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			key, err := images.ParseKey(it.Item().Key())
			if err != nil {
				return corrupt(err, "scan keys")
			}
			ids = append(ids, key.ID)
			if key.ID == math.MaxUint32 {
				break
			}
			it.Seek(images.RecordKey(k, key.ID+1)) // skip the other sub-records of key.ID
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s ids: %w", k, err)
	}
	return ids, nil
}

// SubRecords calls fn for every sub-record of (k, id), in ascending order
// of sub, with the record's checked payload (decode it with
// images.UnmarshalRecord into k.New()). raw points into the store's mapped files and is valid
// only until fn returns. An error from fn stops the walk and is returned
// as it is.
func (r *Reader) SubRecords(k images.Kind, id uint32, fn func(sub uint64, raw []byte) error) (err error) {
	defer r.guard(&err, "read sub-records")()
	prefix := images.Key{Type: images.KeyRecord, Kind: k, ID: id}
	if !k.HasSub() {
		return fmt.Errorf("read %s sub-records: %s has none: %w", prefix, k, images.ErrBadKey)
	}
	return r.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix.Bytes()})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := visitSub(it.Item(), fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func visitSub(item *badger.Item, fn func(sub uint64, raw []byte) error) error {
	key, err := images.ParseKey(item.Key())
	if err != nil {
		return corrupt(err, "scan keys")
	}
	return readValue(item, key, func(v []byte) error {
		payload, err := images.Unseal(item.Key(), v)
		if err != nil {
			return corrupt(err, "read %s", key)
		}
		return callUser(func() error { return fn(key.Sub, payload) })
	})
}

// Walk calls fn for every key of the store in key order (the header, then
// every chunk by mm and address, then every record by kind, id and sub),
// with the stored value: the checked payload of the header or a record
// (decode with images.UnmarshalRecord), or the pages of a chunk. raw is
// valid only until fn returns. An error from fn stops the walk and is
// returned as it is.
func (r *Reader) Walk(fn func(key images.Key, raw []byte) error) (err error) {
	defer r.guard(&err, "walk")()
	return r.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := visitKey(it.Item(), fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func visitKey(item *badger.Item, fn func(key images.Key, raw []byte) error) error {
	key, err := images.ParseKey(item.Key())
	if err != nil {
		return corrupt(err, "scan keys")
	}
	return readValue(item, key, func(v []byte) error {
		if key.Type != images.KeyChunk {
			var err error
			if v, err = images.Unseal(item.Key(), v); err != nil {
				return corrupt(err, "read %s", key)
			}
		}
		return callUser(func() error { return fn(key, v) })
	})
}

// SubRecordFloor reads into m the sub-record of (k, id) with the largest
// sub not above sub, and returns that sub; found is false if there is none.
// A lazy restore uses it to find the pagemap run that holds an address.
func (r *Reader) SubRecordFloor(k images.Kind, id uint32, sub uint64, m proto.Message) (at uint64, found bool, err error) {
	defer r.guard(&err, "read sub-record")()
	want := images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: sub}
	if err := checkRecordKey(want); err != nil {
		return 0, false, fmt.Errorf("read %s: %w", want, err)
	}
	err = r.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: images.RecordKey(k, id)})
		defer it.Close()
		it.Seek(want.Bytes())
		if !it.Valid() {
			return nil
		}
		key, err := images.ParseKey(it.Item().Key())
		if err != nil {
			return corrupt(err, "read %s", want)
		}
		at, found = key.Sub, true
		return getRecord(txn, key, m)
	})
	if err != nil {
		return 0, false, fmt.Errorf("read %s floor: %w", want, err)
	}
	return at, found, nil
}

// SubRecordsIn is SubRecords restricted to subs in [from, to).
func (r *Reader) SubRecordsIn(k images.Kind, id uint32, from, to uint64, fn func(sub uint64, raw []byte) error) (err error) {
	defer r.guard(&err, "read sub-records")()
	first := images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: from}
	if err := checkRecordKey(first); err != nil {
		return fmt.Errorf("read %s: %w", first, err)
	}
	return r.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: images.RecordKey(k, id)})
		defer it.Close()
		for it.Seek(first.Bytes()); it.Valid(); it.Next() {
			key, err := images.ParseKey(it.Item().Key())
			if err != nil {
				return corrupt(err, "read %s", first)
			}
			if key.Sub >= to {
				return nil
			}
			if err := visitKey(it.Item(), func(_ images.Key, raw []byte) error { return fn(key.Sub, raw) }); err != nil {
				return err
			}
		}
		return nil
	})
}
