package restorer

import (
	"fmt"
	"os"
	"time"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/uffd"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// buildMemObjects makes every memory object and deleted file of the image
// in crlazy and fills it, before any process is rebuilt (so that lazy and
// eager restores alike start with shared memory complete), then opens the
// descriptions the processes had of them. The pages of a memory object
// are in the pagemaps of the processes that saved them (each page in the
// first mapping that covered it at the dump), read from src.
func (t *treeRestore) buildMemObjects(r *store.Reader, src uffd.Source) error {
	m := t.files.mem
	start := time.Now()
	if err := m.create(); err != nil {
		return err
	}
	var bytes uint64
	for _, rs := range t.procs {
		if rs.img.zombie {
			continue
		}
		for _, v := range rs.img.mm.GetVmas() {
			o := m.object(v)
			if o == nil || !restorable(v) {
				continue
			}
			n, err := fillObject(r, src, rs.img.mmID, v, o)
			if err != nil {
				return fmt.Errorf("pid %d: shared %s: %w", rs.img.pid, vmaName(v), err)
			}
			bytes += n
		}
	}
	if err := m.finish(r); err != nil {
		return err
	}
	if err := m.descriptions(t.files); err != nil {
		return err
	}
	if len(m.shmem)+len(m.memfds)+len(m.ghosts) > 0 {
		t.log.Debug("shared memory, memfds and deleted files made", "shmem", len(m.shmem), "memfds", len(m.memfds),
			"ghosts", len(m.ghosts), "bytes", bytes, "took", time.Since(start))
	}
	return nil
}

// create makes the memory objects, empty, at their sizes.
func (m *memObjects) create() error {
	for id, o := range m.shmem {
		f, err := linux.NewAnonShmem(o.size)
		if err != nil {
			return fmt.Errorf("shared memory %d: %w", id, err)
		}
		o.f = f
	}
	for id, o := range m.memfds {
		if err := o.createMemfd(); err != nil {
			return fmt.Errorf("memfd %d (%q): %w", id, o.memfd.GetName(), err)
		}
	}
	return nil
}

// fillObject writes into o the pages that the process with address space
// mm saved of its mapping v, and returns how many bytes. Every page its
// pagemap says holds data must come: a page source without them (a
// server that does not have them) fails the restore, never leaving zeros.
func fillObject(r *store.Reader, src uffd.Source, mm uint32, v *vma.VmaEntry, o *memObj) (uint64, error) {
	start, end := v.GetStart(), v.GetEnd()
	pm, err := loadPagemap(r, mm, [][2]uint64{{start, end}})
	if err != nil {
		return 0, err
	}
	var want, got uint64
	for _, e := range pm {
		if e.GetFlags()&images.PagemapZero == 0 {
			lo, hi := max(e.GetVaddr(), start), min(e.GetVaddr()+e.GetNrPages()*linux.PageSize, end)
			want += max(lo, hi) - lo
		}
	}
	if want == 0 {
		return 0, nil
	}
	err = src.ChunksIn(mm, start, end, func(addr uint64, data []byte) error {
		s, e := max(addr, start), min(addr+uint64(len(data)), end)
		if s >= e {
			return nil
		}
		got += e - s
		// A mapping may reach past the end of its object (the page that
		// holds the end is saved whole): never write past it.
		off := v.GetPgoff() + s - start
		if off >= o.size {
			return badImage("page at offset %d of an object of %d bytes", off, o.size)
		}
		_, err := o.f.WriteAt(data[s-addr:s-addr+min(e-s, o.size-off)], int64(off))
		return err
	})
	if err == nil && got != want {
		err = fmt.Errorf("%w: %d of %d bytes of shared memory came from the page source", ErrBadImage, got, want)
	}
	return got, err
}

// finish fills what is not in any mapping (memfd contents, deleted
// files) and gives memfds their mode, owner and seals.
func (m *memObjects) finish(r *store.Reader) error {
	for id, o := range m.memfds {
		if err := o.finishMemfd(r); err != nil {
			return fmt.Errorf("memfd %d (%q): %w", id, o.memfd.GetName(), err)
		}
	}
	for _, g := range m.ghosts {
		if err := g.build(r); err != nil {
			return fmt.Errorf("deleted file %s: %w", g.name, err)
		}
	}
	return nil
}

// fillPieces writes the pieces stored as sub-records (k, id) into f,
// which is size bytes long.
func fillPieces(r *store.Reader, k images.Kind, id uint32, f *os.File, size uint64, pieceMax int) error {
	return r.SubRecords(k, id, func(off uint64, raw []byte) error {
		var piece wrapperspb.BytesValue
		if err := images.UnmarshalRecord(raw, &piece); err != nil {
			return err
		}
		n := uint64(len(piece.Value))
		if n > uint64(pieceMax) || off > size || n > size-off {
			return badImage("%s %d: %d bytes at offset %d of %d", k, id, n, off, size)
		}
		_, err := f.WriteAt(piece.Value, int64(off))
		return err
	})
}

// descriptions opens, for every memfd or deleted-file description that a
// process had open, crlazy's copy with its flags and offset: the
// processes take it from there like any description crlazy makes.
func (m *memObjects) descriptions(tf *treeFiles) error {
	for id, f := range m.files {
		if tf.holders[id] == 0 {
			continue // only mapped: see mapping
		}
		var base *os.File
		var flags uint32
		var pos uint64
		switch {
		case f.GetType() == fdinfo.FdTypes_MEMFD:
			base, flags, pos = m.memfds[f.GetMemfd().GetInodeId()].f, f.GetMemfd().GetFlags(), f.GetMemfd().GetPos()
		case m.remapped(id):
			base, flags, pos = m.ghosts[m.remaps[id]].f, f.GetReg().GetFlags(), f.GetReg().GetPos()
		default:
			continue
		}
		d, err := linux.Reopen(base, int(flags)&^openFlagsDrop)
		if err == nil && pos != 0 {
			_, err = d.Seek(int64(pos), 0)
		}
		if err != nil {
			if d != nil {
				d.Close()
			}
			return fmt.Errorf("file %d: %w", id, err)
		}
		tf.objs[id] = d
	}
	return nil
}

// pageSource is where a restore reads chunks from: the page server, or
// the store.
func pageSource(opts Options, r *store.Reader) uffd.Source {
	if opts.Pages != nil {
		return opts.Pages
	}
	return storeSource{r}
}
