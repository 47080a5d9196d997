package dumper

import (
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

// write stores every record and then the pages.
func (c *collector) write(w *store.Writer, pages PageSink) error {
	img := c.img
	pid := uint32(c.pid)
	inv := &inventory.InventoryEntry{
		ImgVersion:  proto.Uint32(criuImgVersion),
		FdinfoPerId: proto.Bool(true),
		RootIds:     img.ids,
	}
	records := []struct {
		kind images.Kind
		id   uint32
		msg  proto.Message
	}{
		{images.Inventory, 0, inv},
		{images.Pstree, pid, img.pstree},
		{images.Core, pid, img.core},
		{images.Ids, pid, img.ids},
		{images.Mm, pid, img.mm},
		{images.Fs, pid, img.fs},
	}
	for _, r := range records {
		if err := w.PutRecord(r.kind, r.id, r.msg); err != nil {
			return err
		}
	}
	for _, f := range img.files.entries {
		if err := w.PutRecord(images.Files, f.GetId(), f); err != nil {
			return err
		}
	}
	for _, fd := range img.fdinfos {
		if err := w.PutSubRecord(images.Fdinfo, pid, uint64(fd.GetFd()), fd); err != nil {
			return err
		}
	}
	return c.dumpPages(w, pages, pid)
}
