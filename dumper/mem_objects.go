package dumper

import (
	"fmt"
	ipcshm "github.com/checkpoint-restore/go-criu/v8/crit/images/ipc-shm"
	"github.com/crlazy/crlazy/internal/ranges"
	"os"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// memTable holds the objects of the tree whose contents crlazy saves
// itself, once each however many processes open or map them: shared
// memory objects (MAP_SHARED|MAP_ANONYMOUS made before a fork, memfds) and
// deleted files (fd_ghost.go). Objects are known by device and inode
// across the tree. It is filled while the tree is collected and written
// with the records; nothing is held open in between (the contents are
// read at write time through /proc, the tree being still frozen).
type memTable struct {
	objs     map[[2]uint64]*memObject // shared memory, by dev and ino
	objList  []*memObject             // in id order
	memfdMap map[memfdMapKey]uint32   // file id of the MEMFD entry a mapping uses
	ghosts   ghostTable
	sysv     map[int]*ipcshm.IpcShmEntry // System V segments, by id (sysvshm.go)
}

// memObject is one shared memory object: anonymous (memfd nil) or a memfd.
type memObject struct {
	id    uint32
	memfd *memfdInfo
	size  uint64
	open  string      // a /proc path crlazy reads it through
	data  [][2]uint64 // offset ranges holding data, page aligned
	// claimed are the offset ranges some mapping of the tree saves,
	// sorted and merged: each page is saved once, by the first mapping
	// (in dump order) that covers it.
	claimed [][2]uint64
}

func newMemTable() *memTable {
	return &memTable{objs: map[[2]uint64]*memObject{}, memfdMap: map[memfdMapKey]uint32{},
		ghosts: newGhostTable()}
}

// object returns the object at path (a /proc link to it), adding it the
// first time its inode is seen.
func (mt *memTable) object(path string, isMemfd bool) (*memObject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := linux.StatFile(f)
	if err != nil {
		return nil, err
	}
	if o := mt.objs[[2]uint64{st.Dev, st.Ino}]; o != nil {
		return o, nil
	}
	o := &memObject{id: uint32(len(mt.objList) + 1), size: uint64(st.Size), open: path}
	if uint64(st.Size) > images.ShmemSizeMax {
		return nil, fmt.Errorf("shared memory of %d bytes, at most %d", st.Size, uint64(images.ShmemSizeMax))
	}
	if isMemfd {
		if o.memfd, err = newMemfdInfo(f, path, st); err != nil {
			return nil, err
		}
	}
	err = linux.DataRanges(f, st.Size, func(off, n int64) error {
		// Whole pages (a mapping saves pages), but not past the end.
		o.data = append(o.data, [2]uint64{uint64(off) &^ (pageSize - 1), min(alignUp(uint64(off+n)), o.size)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	mt.objs[[2]uint64{st.Dev, st.Ino}] = o
	mt.objList = append(mt.objList, o)
	return o, nil
}

func alignUp(x uint64) uint64 { return (x + pageSize - 1) &^ (pageSize - 1) }

// claim marks the offsets [off, off+n) as saved by one mapping and
// returns the parts of it that hold data and no earlier mapping claimed:
// the pages that mapping must save.
func (o *memObject) claim(off, n uint64) [][2]uint64 {
	free := ranges.Subtract([][2]uint64{{off, off + n}}, o.claimed)
	o.claimed = ranges.Merge(append(o.claimed, [2]uint64{off, off + n}))
	return ranges.Intersect(free, o.data)
}

// unclaimed returns the data no mapping saves (a memfd's contents that
// are only reachable through its descriptors).
func (o *memObject) unclaimed() [][2]uint64 { return ranges.Subtract(o.data, o.claimed) }

// writeObjects stores the records of the shared memory objects, memfds
// and deleted files (their pages outside mappings are read now).
func (mt *memTable) write(w *store.Writer) error {
	if err := mt.writeSysv(w); err != nil {
		return err
	}
	for _, o := range mt.objList {
		var err error
		if o.memfd == nil {
			err = w.PutRecord(images.Shmem, o.id, wrapperspb.UInt64(o.size))
		} else {
			err = o.writeMemfd(w)
		}
		if err != nil {
			return fmt.Errorf("shared memory object %d: %w", o.id, err)
		}
	}
	return mt.ghosts.write(w)
}

// putPieces reads [off, off+n) of f and stores its non-zero pieces of at
// most pieceMax bytes as sub-records (kind, id, offset).
func putPieces(w *store.Writer, f *os.File, kind images.Kind, id uint32, off, n uint64, pieceMax int) error {
	buf := make([]byte, pieceMax)
	for done := uint64(0); done < n; {
		b := buf[:min(uint64(pieceMax), n-done)]
		if _, err := f.ReadAt(b, int64(off+done)); err != nil {
			return fmt.Errorf("read %s at %d: %w", f.Name(), off+done, err)
		}
		if !allZero(b) {
			if err := w.PutSubRecord(kind, id, off+done, &wrapperspb.BytesValue{Value: b}); err != nil {
				return err
			}
		}
		done += uint64(len(b))
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
