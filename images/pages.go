package images

import "bytes"

var zeroPage [PageSize]byte

// SplitPages cuts data, whole pages starting at addr, into the runs a
// store keeps: runs of zero pages (recorded as holes) and runs of non-zero
// pages that never cross a ChunkMaxBytes boundary (stored as chunks). It
// calls fn for each run, in address order, and stops at its first error.
func SplitPages(addr uint64, data []byte, fn func(addr uint64, run []byte, zero bool) error) error {
	for i := uint64(0); i < uint64(len(data)); {
		zero := bytes.Equal(data[i:i+PageSize], zeroPage[:])
		j := i + PageSize
		for j < uint64(len(data)) && bytes.Equal(data[j:j+PageSize], zeroPage[:]) == zero &&
			(zero || (addr+j)%ChunkMaxBytes != 0) {
			j += PageSize
		}
		if err := fn(addr+i, data[i:j], zero); err != nil {
			return err
		}
		i = j
	}
	return nil
}
