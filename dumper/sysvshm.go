package dumper

import (
	"fmt"
	"sort"

	ipcdesc "github.com/checkpoint-restore/go-criu/v8/crit/images/ipc-desc"
	ipcshm "github.com/checkpoint-restore/go-criu/v8/crit/images/ipc-shm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// sysvVMA records a System V shared memory attachment ("/SYSV<key>"
// mapping, whose inode number is the segment id): the segment once for the
// tree, with its contents (read at write time through an attachment of
// crlazy's own), and the area by the segment's id. Only whole-segment
// attachments (what shmat makes) are supported.
func (c *collector) sysvVMA(m proc.Mapping, e *vma.VmaEntry, ft *fileTable) (uint32, area, error) {
	id := int(m.Inode)
	info, err := linux.ShmStat(id)
	if err != nil {
		return 0, area{}, fmt.Errorf("%s: System V segment %d: %w", vmaWhat(m), id, err)
	}
	if m.Offset != 0 || m.End-m.Start != alignUp(info.Size) {
		return 0, area{}, unsupported(fmt.Sprintf("a partial attachment of System V segment %d (%d bytes) is not supported", id, info.Size), "%s", vmaWhat(m))
	}
	if ft.mem.sysv == nil {
		ft.mem.sysv = map[int]*ipcshm.IpcShmEntry{}
	}
	if ft.mem.sysv[id] == nil {
		ft.mem.sysv[id] = &ipcshm.IpcShmEntry{
			Desc: &ipcdesc.IpcDescEntry{Key: proto.Uint32(info.Key), Uid: proto.Uint32(info.UID), Gid: proto.Uint32(info.GID),
				Cuid: proto.Uint32(info.CUID), Cgid: proto.Uint32(info.CGID), Mode: proto.Uint32(info.Mode), Id: proto.Uint32(uint32(id))},
			Size: proto.Uint64(info.Size),
		}
	}
	e.Shmid = proto.Uint64(uint64(id))
	return images.VmaAreaRegular | images.VmaAreaSysvipc, area{}, nil
}

// writeSysv stores every segment and its non-zero contents.
func (mt *memTable) writeSysv(w *store.Writer) error {
	ids := make([]int, 0, len(mt.sysv))
	for id := range mt.sysv {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		e := mt.sysv[id]
		if err := w.PutRecord(images.SysvShm, uint32(id), e); err != nil {
			return err
		}
		b, err := linux.ShmAttach(id, true)
		if err != nil {
			return fmt.Errorf("System V segment %d: %w", id, err)
		}
		err = putSysvBytes(w, uint32(id), b[:min(uint64(len(b)), e.GetSize())])
		if derr := linux.ShmDetach(b); err == nil {
			err = derr
		}
		if err != nil {
			return fmt.Errorf("System V segment %d: %w", id, err)
		}
	}
	return nil
}

func putSysvBytes(w *store.Writer, id uint32, b []byte) error {
	for off := 0; off < len(b); off += images.SysvShmBytesMax {
		piece := b[off:min(off+images.SysvShmBytesMax, len(b))]
		if allZero(piece) {
			continue
		}
		if err := w.PutSubRecord(images.SysvShmBytes, id, uint64(off), wrapperspb.Bytes(append([]byte(nil), piece...))); err != nil {
			return err
		}
	}
	return nil
}
