package dumper

import (
	"fmt"
	"sort"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// readOwner reads who a description in signal-driven mode (O_ASYNC,
// nginx's channels among others) signals, and with what, through a copy
// of the descriptor: the owner belongs to the open file description.
func (c *collector) readOwner(o *openFd) error {
	f, err := c.p.leader().StealFD(o.fd)
	if err != nil {
		return fmt.Errorf("%s: %w", o.what, err)
	}
	defer f.Close()
	own, err := linux.GetFileOwner(f)
	if err != nil {
		return fmt.Errorf("%s: %w", o.what, err)
	}
	if own.Type == linux.FOwnerPgrp && own.Pid != 0 {
		return unsupported(fmt.Sprintf("signal-driven I/O (O_ASYNC) to process group %d is not supported yet", own.Pid), "%s", o.what)
	}
	o.owner = &own
	return nil
}

// addOwner records the owner of description id the first time one of its
// descriptors shows it; the owner must be a process or thread of the tree.
func (ft *fileTable) addOwner(o openFd, id uint32) error {
	if o.owner == nil {
		return nil
	}
	if ft.owners == nil {
		ft.owners = map[uint32]*fown.FownEntry{}
	}
	if _, ok := ft.owners[id]; ok {
		return nil
	}
	if pid := o.owner.Pid; pid != 0 && !ft.tids[pid] {
		return unsupported(fmt.Sprintf("signal-driven I/O (O_ASYNC) signals pid %d, which is not in the dumped tree", pid), "%s", o.what)
	}
	z := proto.Uint32(0)
	ft.owners[id] = &fown.FownEntry{Uid: z, Euid: z, Signum: proto.Uint32(uint32(o.owner.Signal)),
		PidType: proto.Uint32(uint32(o.owner.Type)), Pid: proto.Uint32(uint32(o.owner.Pid))}
	return nil
}

// writeOwners stores the owners of the descriptions in signal-driven mode.
func (ft *fileTable) writeOwners(w *store.Writer) error {
	ids := make([]uint32, 0, len(ft.owners))
	for id := range ft.owners {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := w.PutRecord(images.FileOwner, id, ft.owners[id]); err != nil {
			return err
		}
	}
	return nil
}
