package store

import (
	"errors"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/crlazy/crlazy/images"
)

// errStopScan ends a chunk scan early; it never leaves this file.
var errStopScan = errors.New("stop chunk scan")

// Chunks calls fn for every chunk of mm in ascending address order. data
// points into the store's mapped files (no copy) and is valid only until
// fn returns. An error from fn stops the walk and is returned as it is.
// A chunk that breaks the store's rules (size, overlap) is a
// *CorruptError.
func (r *Reader) Chunks(mm uint32, fn func(addr uint64, data []byte) error) (err error) {
	defer r.guard(&err, "read chunks")()
	return r.chunksIn(mm, 0, math.MaxUint64, fn)
}

// ChunksIn is Chunks restricted to the chunks that overlap [start, end).
func (r *Reader) ChunksIn(mm uint32, start, end uint64, fn func(addr uint64, data []byte) error) (err error) {
	defer r.guard(&err, "read chunks")()
	return r.chunksIn(mm, start, end, fn)
}

// FindChunk calls fn with the chunk of mm that contains addr and reports
// true, or reports false if no chunk does (the page is a hole: zero or
// not present). This is the lookup of a page fault: one seek and one
// value read (with its checksum).
func (r *Reader) FindChunk(mm uint32, addr uint64, fn func(chunkAddr uint64, data []byte) error) (found bool, err error) {
	defer r.guard(&err, "find chunk")()
	err = r.view(func(txn *badger.Txn) error {
		c := r.newCheck(mm)
		return c.floor(txn, addr, func(a uint64, data []byte) error {
			found = true
			return callUser(func() error { return fn(a, data) })
		})
	})
	return found, err
}

func (r *Reader) chunksIn(mm uint32, start, end uint64, fn func(addr uint64, data []byte) error) error {
	visit := func(addr uint64, data []byte) error {
		if addr >= end {
			return errStopScan
		}
		return callUser(func() error { return fn(addr, data) })
	}
	err := r.view(func(txn *badger.Txn) error {
		c := r.newCheck(mm)
		if err := c.floor(txn, start, visit); err != nil {
			return err
		}
		return c.forward(txn, start, visit)
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

func (r *Reader) newCheck(mm uint32) *chunkCheck {
	return &chunkCheck{mm: mm, limit: uint64(r.hdr.ChunkSize)}
}

// floor visits the chunk of mm with the highest address <= start, if it
// reaches past start: the only chunk that can hold start, as chunks do
// not overlap.
func (c *chunkCheck) floor(txn *badger.Txn, start uint64, visit func(uint64, []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: images.ChunkPrefix(c.mm), Reverse: true})
	defer it.Close()
	it.Seek(images.ChunkKey(c.mm, start))
	if !it.Valid() {
		return nil
	}
	c.after = true
	return c.visit(it.Item(), start, visit)
}

// forward visits, in address order, every chunk of mm above the one
// floor looked at (or from start if there was none).
func (c *chunkCheck) forward(txn *badger.Txn, start uint64, visit func(uint64, []byte) error) error {
	seek := start
	if c.after {
		if seek == math.MaxUint64 {
			return nil
		}
		seek++
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: images.ChunkPrefix(c.mm)})
	defer it.Close()
	for it.Seek(images.ChunkKey(c.mm, seek)); it.Valid(); it.Next() {
		if err := c.visit(it.Item(), start, visit); err != nil {
			return err
		}
	}
	return nil
}
