package dumper

import (
	"fmt"
	"os"
	"time"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// criuImgVersion is inventory.img_version of CRIU images of this era
// (CRTOOLS_IMAGES_V1_1).
const criuImgVersion = 2

// Version is crlazy's version, recorded in every store header.
var Version = "0.1.0-dev"

func newHeader(xfeatures uint64) *crlazypb.Header {
	release, machine, _ := linux.Uname()
	host, _ := os.Hostname()
	return &crlazypb.Header{
		FormatVersion:   images.FormatVersion,
		ToolVersion:     Version,
		Arch:            machine,
		PageSize:        images.PageSize,
		Xfeatures:       xfeatures,
		KernelRelease:   release,
		CreatedUnixNano: time.Now().UnixNano(),
		ChunkSize:       images.ChunkMaxBytes,
		Hostname:        host,
	}
}

// write stores every record and then the pages of every process.
func (d *treeDump) write(w *store.Writer, pages PageSink) error {
	root := d.imgs[0]
	inv := &inventory.InventoryEntry{
		ImgVersion:  proto.Uint32(criuImgVersion),
		FdinfoPerId: proto.Bool(true),
		RootIds:     root.ids,
	}
	if err := w.PutRecord(images.Inventory, 0, inv); err != nil {
		return err
	}
	for _, img := range d.imgs {
		if err := writeProcess(w, img); err != nil {
			return fmt.Errorf("pid %d: %w", img.pid, err)
		}
	}
	if err := d.net.write(w); err != nil { // sets the sockets' ids first
		return err
	}
	for _, f := range d.files.entries {
		if err := w.PutRecord(images.Files, f.GetId(), f); err != nil {
			return err
		}
	}
	if err := d.files.writeOwners(w); err != nil {
		return err
	}
	if err := d.files.writePipes(w); err != nil {
		return err
	}
	if err := d.files.unix.writeUnix(w); err != nil { // queued data of UNIX sockets
		return err
	}
	if err := d.files.tty.write(w); err != nil { // terminals
		return err
	}
	if err := d.files.mem.write(w); err != nil { // shared memory, memfds, deleted files
		return err
	}
	if err := d.files.locks.write(w); err != nil { // file locks
		return err
	}
	free := newBufferPool()
	for _, img := range d.imgs {
		if img.mm == nil {
			continue // a zombie
		}
		if err := dumpPages(w, pages, img, free, &d.stats); err != nil {
			return fmt.Errorf("pid %d: %w", img.pid, err)
		}
	}
	return nil
}

// writeProcess stores the records of one process: pstree, a core per
// thread, ids, mm, and fs and fdinfo unless shared with an earlier one.
func writeProcess(w *store.Writer, img *image) error {
	pid := uint32(img.pid)
	if err := w.PutRecord(images.Pstree, pid, img.pstree); err != nil {
		return err
	}
	for i, core := range img.cores {
		if err := w.PutRecord(images.Core, img.pstree.GetThreads()[i], core); err != nil {
			return err
		}
	}
	if err := w.PutRecord(images.Ids, pid, img.ids); err != nil {
		return err
	}
	if img.mm != nil {
		if err := w.PutRecord(images.Mm, pid, img.mm); err != nil {
			return err
		}
	}
	if img.fs != nil {
		if err := w.PutRecord(images.Fs, pid, img.fs); err != nil {
			return err
		}
	}
	for _, fd := range img.fdinfos {
		if err := w.PutSubRecord(images.Fdinfo, pid, uint64(fd.GetFd()), fd); err != nil {
			return err
		}
	}
	if img.seccomp.entry != nil {
		if err := w.PutRecord(images.Seccomp, pid, img.seccomp.entry); err != nil {
			return err
		}
	}
	return nil
}
