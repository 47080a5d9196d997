package imagefs

import (
	"sync"

	"github.com/crlazy/crlazy/criuimg"
	"github.com/crlazy/crlazy/store"
)

// bytesSource is a small file built once, on first use (a JSON view of
// records). Its content stays in memory for the life of the mount.
type bytesSource struct {
	build func() ([]byte, error)

	once sync.Once // guards b and err
	b    []byte
	err  error
}

func newBytes(build func() ([]byte, error)) *bytesSource { return &bytesSource{build: build} }

func (s *bytesSource) load() ([]byte, error) {
	s.once.Do(func() { s.b, s.err = s.build() })
	return s.b, s.err
}

func (s *bytesSource) size() (uint64, error) {
	b, err := s.load()
	return uint64(len(b)), err
}

func (s *bytesSource) readAt(dest []byte, off uint64) (int, error) {
	b, err := s.load()
	if err != nil || off >= uint64(len(b)) {
		return 0, err
	}
	return copy(dest, b[off:]), nil
}

func (s *bytesSource) data() ([]criuimg.Extent, error) {
	b, err := s.load()
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return []criuimg.Extent{{Start: 0, End: uint64(len(b))}}, nil
}

// mmData holds the data extents of one mm (from its pagemap), loaded
// once for all the memory files of that mm.
type mmData struct {
	r  *store.Reader
	mm uint32

	once sync.Once // guards ext and err
	ext  []criuimg.Extent
	err  error
}

func (d *mmData) load() ([]criuimg.Extent, error) {
	d.once.Do(func() { d.ext, d.err = criuimg.MemoryData(d.r, d.mm) })
	return d.ext, d.err
}

// memSource is the memory of one VMA, [start, end) of an mm, read
// straight from the store's chunks.
type memSource struct {
	r          *store.Reader
	mm         *mmData
	start, end uint64

	once sync.Once // guards ext and err
	ext  []criuimg.Extent
	err  error
}

func (s *memSource) size() (uint64, error) { return s.end - s.start, nil }

func (s *memSource) readAt(dest []byte, off uint64) (int, error) {
	size := s.end - s.start
	if off >= size {
		return 0, nil
	}
	dest = dest[:min(uint64(len(dest)), size-off)]
	return len(dest), criuimg.ReadMemory(s.r, s.mm.mm, s.start+off, dest)
}

func (s *memSource) data() ([]criuimg.Extent, error) {
	s.once.Do(func() {
		all, err := s.mm.load()
		s.ext, s.err = criuimg.Clip(all, s.start, s.end), err
	})
	return s.ext, s.err
}

// viewSource is one image of the criu/ directory.
type viewSource struct{ f *criuimg.File }

func (s viewSource) size() (uint64, error) { return s.f.Size() }

func (s viewSource) readAt(dest []byte, off uint64) (int, error) { return s.f.ReadAt(dest, off) }

func (s viewSource) data() ([]criuimg.Extent, error) { return s.f.Data() }
