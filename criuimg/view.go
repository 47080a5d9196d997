package criuimg

import (
	"fmt"
	"sync"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// View shows a store as a CRIU image directory. NewView reads only the
// process tree and each process's ids (to name the files); each file's
// content is built the first time it is asked for, and kept. A View is
// safe for concurrent use.
type View struct {
	r     *store.Reader
	files []*File
}

// File is one image of a View.
type File struct {
	Name  string
	build func() (*content, error)

	once sync.Once // guards c and err
	c    *content
	err  error
}

// content is a built file: a metadata image in memory, or the layout of
// a pages image whose bytes are read from the store.
type content struct {
	data  []byte
	pages *pagesLayout
}

// process is what naming needs of one process.
type process struct {
	pid     uint32
	pstree  *pstree.PstreeEntry
	ids     *criucore.TaskKobjIdsEntry
	pagesID uint32

	once   sync.Once // guards layout and err
	layout *pagesLayout
	err    error
}

// NewView lists the CRIU images of the store r holds. r must stay open
// as long as the View is used.
func NewView(r *store.Reader) (*View, error) {
	procs, err := loadProcesses(r)
	if err != nil {
		return nil, fmt.Errorf("criu view: %w", err)
	}
	v := &View{r: r}
	if err := v.list(procs); err != nil {
		return nil, fmt.Errorf("criu view: %w", err)
	}
	return v, nil
}

func loadProcesses(r *store.Reader) ([]*process, error) {
	pids, err := r.IDs(images.Pstree)
	if err != nil {
		return nil, err
	}
	procs := make([]*process, 0, len(pids))
	for i, pid := range pids {
		p := &process{pid: pid, pstree: &pstree.PstreeEntry{}, ids: &criucore.TaskKobjIdsEntry{}, pagesID: uint32(i + 1)}
		if err := r.Record(images.Pstree, pid, p.pstree); err != nil {
			return nil, err
		}
		if err := r.Record(images.Ids, pid, p.ids); err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// Files returns the images, in the order of the listing (global images
// first, then each process's).
func (v *View) Files() []*File { return v.files }

func (v *View) add(name string, build func() (*content, error)) {
	v.files = append(v.files, &File{Name: name, build: build})
}

func (f *File) load() (*content, error) {
	f.once.Do(func() {
		f.c, f.err = f.build()
		if f.err != nil {
			f.err = fmt.Errorf("%s: %w", f.Name, f.err)
		}
	})
	return f.c, f.err
}

// Size returns the size of the file, building it if needed.
func (f *File) Size() (uint64, error) {
	c, err := f.load()
	if err != nil {
		return 0, err
	}
	if c.pages != nil {
		return c.pages.size, nil
	}
	return uint64(len(c.data)), nil
}

// ReadAt fills dest with the file's bytes from off on, reading pages from
// r; it returns the number of bytes filled (short only at the end).
func (f *File) ReadAt(dest []byte, off uint64) (int, error) {
	c, err := f.load()
	if err != nil {
		return 0, err
	}
	if c.pages != nil {
		return c.pages.readAt(dest, off)
	}
	if off >= uint64(len(c.data)) {
		return 0, nil
	}
	return copy(dest, c.data[off:]), nil
}

// Data returns the extents of the file that hold data: all of a metadata
// image; the non-zero runs of a pages image (its zero runs are holes).
func (f *File) Data() ([]Extent, error) {
	c, err := f.load()
	if err != nil {
		return nil, err
	}
	if c.pages != nil {
		return c.pages.data, nil
	}
	if len(c.data) == 0 {
		return nil, nil
	}
	return []Extent{{0, uint64(len(c.data))}}, nil
}
