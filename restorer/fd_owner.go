package restorer

import (
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// loadOwners reads the owners of the descriptions in signal-driven mode
// (O_ASYNC) and checks that each names a description of the image and a
// process or thread of the tree.
func (tf *treeFiles) loadOwners(r *store.Reader) error {
	return eachRecord(r, images.FileOwner, func() *fown.FownEntry { return &fown.FownEntry{} },
		func(id uint32, e *fown.FownEntry) error {
			switch pid := int(e.GetPid()); {
			case tf.files[id] == nil:
				return badImage("owner of file %d, which is not in the image", id)
			case e.GetPidType() != linux.FOwnerPid && e.GetPidType() != linux.FOwnerTid:
				return badImage("file %d: owner of type %d", id, e.GetPidType())
			case pid != 0 && !tf.tids[pid]:
				return badImage("file %d: owner pid %d is not in the image", id, pid)
			case e.GetSignum() > 64:
				return badImage("file %d: owner signal %d", id, e.GetSignum())
			}
			if tf.owners == nil {
				tf.owners = map[uint32]*fown.FownEntry{}
			}
			tf.owners[id] = e
			return nil
		})
}

// restoreOwners puts the descriptions of this process that were in
// signal-driven mode back in it, once each, through the descriptor first
// names: the owner and signal first, then O_ASYNC, which starts the
// delivery. The owner exists: the whole tree is made before any fd.
func (rs *restorer) restoreOwners(first map[uint32]int) error {
	t := rs.leader()
	for id, fd := range first {
		e := rs.files.owners[id]
		if e == nil || rs.files.ownersDone[id] {
			continue
		}
		err := func() error {
			defer t.ReleaseArgs(t.ArgMark())
			ex, err := t.PutArg(linux.FOwnerExBytes(int(e.GetPidType()), int(e.GetPid())))
			if err != nil {
				return err
			}
			if _, err := t.Syscall("fcntl F_SETOWN_EX", linux.SysFcntl, uint64(fd), linux.FSetownEx, uint64(ex)); err != nil {
				return err
			}
			if _, err := t.Syscall("fcntl F_SETSIG", linux.SysFcntl, uint64(fd), linux.FSetsig, uint64(e.GetSignum())); err != nil {
				return err
			}
			fl, err := t.Syscall("fcntl F_GETFL", linux.SysFcntl, uint64(fd), linux.FGetfl, 0)
			if err != nil {
				return err
			}
			_, err = t.Syscall("fcntl F_SETFL", linux.SysFcntl, uint64(fd), linux.FSetfl, fl|linux.OAsync)
			return err
		}()
		if err != nil {
			return fmt.Errorf("fd %d: signal-driven I/O to pid %d: %w", fd, e.GetPid(), err)
		}
		if rs.files.ownersDone == nil {
			rs.files.ownersDone = map[uint32]bool{}
		}
		rs.files.ownersDone[id] = true
	}
	return nil
}
