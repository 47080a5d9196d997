package uffd

// Source provides the image's pages. Its methods are called from several
// goroutines at once.
type Source interface {
	// FindChunk calls fn with the stored chunk of mm that holds image
	// address addr (its start and bytes, valid only inside fn); found is
	// false if no chunk holds addr.
	FindChunk(mm uint32, addr uint64, fn func(start uint64, data []byte) error) (found bool, err error)
	// ChunksIn calls fn with every chunk of mm overlapping [start, end),
	// in address order; data is valid only inside fn.
	ChunksIn(mm uint32, start, end uint64, fn func(start uint64, data []byte) error) error
	// HasData reports whether the image saved non-zero data for the page
	// at addr, so that a missing chunk there is damage, not a hole.
	HasData(mm uint32, addr uint64) (bool, error)
}
