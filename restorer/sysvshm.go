package restorer

import (
	"errors"
	"fmt"
	"log/slog"

	ipcshm "github.com/checkpoint-restore/go-criu/v8/crit/images/ipc-shm"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ErrSysvInUse is returned when a System V segment of the image exists
// already and cannot be taken over (another key or size, or attached).
var ErrSysvInUse = errors.New("System V segment exists")

// maxSysvSize bounds a segment of the image.
const maxSysvSize = 1 << 40

// sysvSegments are the System V shared memory segments of the image, made
// again with their ids before the processes attach them (sysvAttach).
type sysvSegments struct {
	log     *slog.Logger
	entries map[int]*ipcshm.IpcShmEntry
	created []int // made by this restore: removed if it fails
}

// buildSysv makes every segment of the image with its id, key, owner,
// mode and contents. A segment that still exists with the same key and
// size and no attachment (the dumped tree was its only user) is taken
// over and filled again; any other one with that id is refused.
func buildSysv(r *store.Reader, log *slog.Logger) (*sysvSegments, error) {
	sv := &sysvSegments{log: log, entries: map[int]*ipcshm.IpcShmEntry{}}
	err := eachRecord(r, images.SysvShm, func() *ipcshm.IpcShmEntry { return &ipcshm.IpcShmEntry{} },
		func(id uint32, e *ipcshm.IpcShmEntry) error {
			if e.GetDesc() == nil || e.GetDesc().GetId() != id || e.GetSize() == 0 || e.GetSize() > maxSysvSize {
				return badImage("System V segment %d: bad record", id)
			}
			sv.entries[int(id)] = e
			return nil
		})
	if err != nil {
		return nil, err
	}
	for id, e := range sv.entries {
		if err := sv.make(r, id, e); err != nil {
			sv.abort()
			return nil, fmt.Errorf("System V segment %d (key %#x): %w", id, e.GetDesc().GetKey(), err)
		}
	}
	return sv, nil
}

func (sv *sysvSegments) make(r *store.Reader, id int, e *ipcshm.IpcShmEntry) error {
	d := e.GetDesc()
	if st, err := linux.ShmStat(id); err == nil {
		if st.Key != d.GetKey() || st.Size != e.GetSize() || st.Nattch != 0 {
			return fmt.Errorf("%w with key %#x, %d bytes, %d attachments", ErrSysvInUse, st.Key, st.Size, st.Nattch)
		}
		sv.log.Info("taking over the System V segment left by the dumped tree", "id", id, "key", d.GetKey())
	} else {
		if err := linux.ShmCreateWithID(id, d.GetKey(), e.GetSize(), d.GetMode(), d.GetUid(), d.GetGid()); err != nil {
			return err
		}
		sv.created = append(sv.created, id)
	}
	b, err := linux.ShmAttach(id, false)
	if err != nil {
		return err
	}
	defer linux.ShmDetach(b)
	clear(b)
	return r.SubRecords(images.SysvShmBytes, uint32(id), func(off uint64, raw []byte) error {
		var piece wrapperspb.BytesValue
		if err := images.UnmarshalRecord(raw, &piece); err != nil {
			return err
		}
		if off > uint64(len(b)) || uint64(len(piece.Value)) > uint64(len(b))-off {
			return badImage("%d bytes at offset %d of a %d-byte segment", len(piece.Value), off, len(b))
		}
		copy(b[off:], piece.Value)
		return nil
	})
}

// finish removes again the segments that had been removed (SHM_DEST)
// while the tree had them attached: gone at the last detach, as before.
func (sv *sysvSegments) finish() {
	for id, e := range sv.entries {
		if e.GetDesc().GetMode()&linux.ShmDest != 0 {
			if err := linux.ShmRemove(id); err != nil {
				sv.log.Warn("cannot mark a restored System V segment removed", "id", id, "err", err)
			}
		}
	}
	sv.created = nil
}

// abort removes the segments this restore made.
func (sv *sysvSegments) abort() {
	for _, id := range sv.created {
		_ = linux.ShmRemove(id)
	}
	sv.created = nil
}

// sysvAttach attaches segment id at addr in the task, as the dumped
// process had it (shmat maps the whole segment).
func (rs *restorer) sysvAttach(id int, addr uint64, prot int) error {
	flag := 0
	if prot&linux.ProtWrite == 0 {
		flag |= linux.ShmRdonly
	}
	if prot&linux.ProtExec != 0 {
		flag |= linux.ShmExec
	}
	got, err := rs.leader().Syscall("shmat", linux.SysShmat, uint64(id), addr, uint64(flag))
	if err != nil {
		return fmt.Errorf("System V segment %d: %w", id, err)
	}
	if got != addr {
		return fmt.Errorf("System V segment %d attached at %#x instead", id, got)
	}
	return nil
}
