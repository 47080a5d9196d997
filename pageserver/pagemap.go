package pageserver

import (
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// hasData reports whether the pagemap of mm in r says the dump saved
// non-zero data for the page at addr.
func hasData(r *store.Reader, mm uint32, addr uint64) (bool, error) {
	var e pagemap.PagemapEntry
	at, found, err := r.SubRecordFloor(images.Pagemap, mm, addr, &e)
	if err != nil || !found {
		return false, err
	}
	inRun := addr-at < e.GetNrPages()*images.PageSize
	return inRun && e.GetFlags()&images.PagemapZero == 0, nil
}

// storePages serves a checkpoint from a complete store.
type storePages struct{ r *store.Reader }

func (s storePages) FindChunk(mm uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	return s.r.FindChunk(mm, addr, fn)
}

func (s storePages) ChunksIn(mm uint32, start, end uint64, fn func(uint64, []byte) error) error {
	return s.r.ChunksIn(mm, start, end, fn)
}

func (s storePages) HasData(mm uint32, addr uint64) (bool, error) { return hasData(s.r, mm, addr) }
