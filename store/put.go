package store

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
)

// PutRecord stores m as the record (k, id). k must be a kind stored as
// plain records (!k.HasSub()). m is encoded before PutRecord returns.
func (w *Writer) PutRecord(k images.Kind, id uint32, m proto.Message) error {
	key := images.Key{Type: images.KeyRecord, Kind: k, ID: id}
	return w.putRecord(key, m)
}

// PutSubRecord stores m as sub-record sub of (k, id). k must be a kind
// stored as sub-records (k.HasSub()).
func (w *Writer) PutSubRecord(k images.Kind, id uint32, sub uint64, m proto.Message) error {
	key := images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: sub}
	return w.putRecord(key, m)
}

func (w *Writer) putRecord(key images.Key, m proto.Message) error {
	if err := checkRecordKey(key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	kb := key.Bytes()
	v, err := images.EncodeRecord(kb, m)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := w.put(kb, v, func() { w.contents.Records++ }); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func checkRecordKey(key images.Key) error {
	if !key.Kind.Valid() {
		return fmt.Errorf("%w %d", images.ErrUnknownKind, uint8(key.Kind))
	}
	if key.Kind.HasSub() != (key.Type == images.KeySubRecord) {
		_, err := images.ParseKey(key.Bytes()) // says why
		return err
	}
	return nil
}

// PutChunk stores data as the pages of mm that start at addr. addr must
// be page aligned and len(data) a non-zero multiple of images.PageSize no
// larger than the header's chunk_size. The Writer takes ownership of
// data: it is not copied here and the caller must never touch it again
// (badger copies it into the value log when the batch commits).
func (w *Writer) PutChunk(mm uint32, addr uint64, data []byte) error {
	key := images.Key{Type: images.KeyChunk, ID: mm, Addr: addr}
	if err := w.checkChunk(addr, len(data)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	n := uint64(len(data))
	if err := w.put(key.Bytes(), data, func() { w.contents.Chunks++; w.contents.ChunkBytes += n }); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// AfterCommit arranges for fn to run, on another goroutine, once every
// chunk and record put before the call has reached badger's value log:
// from then on the Writer holds no reference to those chunks' buffers, so
// the caller may reuse them. It commits the pending batch early to get
// there. fn must not call the Writer.
func (w *Writer) AfterCommit(fn func()) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return fmt.Errorf("after commit: %w", ErrClosed)
	}
	w.batch.afterCommit(fn)
	return nil
}

func (w *Writer) checkChunk(addr uint64, n int) error {
	switch {
	case addr%images.PageSize != 0:
		return fmt.Errorf("address not page aligned: %w", ErrBadChunk)
	case n == 0 || n%images.PageSize != 0:
		return fmt.Errorf("length %d not a non-zero multiple of %d: %w", n, images.PageSize, ErrBadChunk)
	case n > int(w.hdr.ChunkSize):
		return fmt.Errorf("length %d over the store's chunk size %d: %w", n, w.hdr.ChunkSize, ErrBadChunk)
	case addr > math.MaxUint64-uint64(n)+1:
		return fmt.Errorf("length %d wraps the address space: %w", n, ErrBadChunk)
	}
	return nil
}

// put adds key=val to the current batch, after checking the key is new;
// count updates w.contents.
func (w *Writer) put(key, val []byte, count func()) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return ErrClosed
	}
	if _, dup := w.seen[string(key)]; dup {
		return ErrDuplicate
	}
	if err := w.batch.set(key, val); err != nil {
		return err
	}
	w.seen[string(key)] = struct{}{}
	w.contents.KeyDigest += images.KeyHash(key)
	count()
	return nil
}
