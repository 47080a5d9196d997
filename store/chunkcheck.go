package store

import (
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/crlazy/crlazy/images"
)

// chunkCheck validates the chunks of one scan as they go by: a key of
// the right shape and mm, a length that is a multiple of the page size
// within the store's chunk size, and no overlap with the chunk before.
type chunkCheck struct {
	mm      uint32
	limit   uint64 // header's chunk_size
	after   bool   // floor found a chunk; forward starts above it
	prevEnd uint64 // end of the previous chunk of the scan
}

// visit reads the chunk of item and, if it ends after start, passes it
// to visit.
func (c *chunkCheck) visit(item *badger.Item, start uint64, visit func(uint64, []byte) error) error {
	key, err := images.ParseKey(item.Key())
	if err == nil && (key.Type != images.KeyChunk || key.ID != c.mm) {
		err = fmt.Errorf("%s under the chunk prefix of mm %d", key, c.mm)
	}
	if err != nil {
		return corrupt(err, "scan chunk keys")
	}
	return readValue(item, key, func(data []byte) error {
		if err := c.check(key, uint64(len(data))); err != nil {
			return err
		}
		if key.Addr+uint64(len(data)) <= start {
			return nil
		}
		return visit(key.Addr, data)
	})
}

func (c *chunkCheck) check(key images.Key, n uint64) error {
	switch {
	case n == 0 || n%images.PageSize != 0 || n > c.limit:
		// badger v4 hands out an empty value when it cannot read one.
		return corrupt(nil, "%s: %d bytes (chunk size %d)", key, n, c.limit)
	case key.Addr > math.MaxUint64-n+1:
		return corrupt(nil, "%s: %d bytes wrap the address space", key, n)
	case key.Addr < c.prevEnd:
		return corrupt(nil, "%s overlaps the previous chunk, which ends at %#x", key, c.prevEnd)
	}
	c.prevEnd = key.Addr + n
	return nil
}
