package criuimg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// ErrUnsupported is matched by errors for CRIU images that describe
// something crlazy cannot hold (parent images of incremental dumps, lazy
// pages left on a page server, another page size).
var ErrUnsupported = errors.New("not supported")

// ImportOptions configure Import. The zero value works.
type ImportOptions struct {
	// ToolVersion goes into the store header's tool_version ("" leaves it
	// empty).
	ToolVersion string
}

// ImportStats summarise an import.
type ImportStats struct {
	Processes int
	Records   int
	PagesData uint64 // non-zero pages stored as chunks
	PagesZero uint64 // zero pages recorded as zero runs
	Chunks    uint64
}

// importer carries one import.
type importer struct {
	src   string
	w     *store.Writer
	stats ImportStats
	done  map[string]bool // record keys written, for records shared by processes
}

// Import turns the CRIU image directory src into a new crlazy store in
// dst (which must not hold one). It reads inventory.img, pstree.img,
// files.img (or the older reg-files.img) and, per process, core-<tid>,
// creds-<tid> (if present), ids, mm, fs, fdinfo-<files id>, sigacts (if
// present), pagemap and pages images; other images are ignored. On error
// no store is left in dst.
func Import(src, dst string, opts ImportOptions) (st ImportStats, err error) {
	im := &importer{src: src, done: map[string]bool{}}
	inv, procs, err := im.readTree()
	if err != nil {
		return st, fmt.Errorf("import %s: %w", src, err)
	}
	hdr, err := im.header(procs, opts)
	if err != nil {
		return st, fmt.Errorf("import %s: %w", src, err)
	}
	if im.w, err = store.Create(dst, hdr); err != nil {
		return st, fmt.Errorf("import %s: %w", src, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, im.w.Abort())
		}
	}()
	if err := im.writeAll(inv, procs); err != nil {
		return im.stats, fmt.Errorf("import %s: %w", src, err)
	}
	if err := im.w.Commit(); err != nil {
		return im.stats, fmt.Errorf("import %s: %w", src, err)
	}
	return im.stats, nil
}

// path returns the path of an image in src.
func (im *importer) path(name string) string { return filepath.Join(im.src, name) }

// exists reports whether src has the image name.
func (im *importer) exists(name string) bool {
	_, err := os.Stat(im.path(name))
	return err == nil
}

// readOne reads an image that holds exactly one entry into m.
func (im *importer) readOne(name, typ string, m proto.Message) error {
	img, err := ReadFile(im.path(name), typ)
	if err != nil {
		return err
	}
	if len(img.Entries) != 1 {
		return fmt.Errorf("%s: %d entries, want 1: %w", name, len(img.Entries), store.ErrCorrupt)
	}
	return img.Unmarshal(0, m)
}

// readTree reads the inventory and the process tree.
func (im *importer) readTree() (*inventory.InventoryEntry, []*pstree.PstreeEntry, error) {
	if !im.exists("inventory.img") {
		return nil, nil, fmt.Errorf("no inventory.img: not a CRIU image directory: %w", fs.ErrNotExist)
	}
	inv := &inventory.InventoryEntry{}
	if err := im.readOne("inventory.img", nameInventory, inv); err != nil {
		return nil, nil, err
	}
	img, err := ReadFile(im.path("pstree.img"), "PSTREE")
	if err != nil {
		return nil, nil, err
	}
	var procs []*pstree.PstreeEntry
	for i := range img.Entries {
		p := &pstree.PstreeEntry{}
		if err := img.Unmarshal(i, p); err != nil {
			return nil, nil, err
		}
		procs = append(procs, p)
	}
	if len(procs) == 0 {
		return nil, nil, fmt.Errorf("pstree.img lists no process: %w", store.ErrCorrupt)
	}
	return inv, procs, nil
}

// header describes the new store; the architecture and xsave features
// come from the cores.
func (im *importer) header(procs []*pstree.PstreeEntry, opts ImportOptions) (*crlazypb.Header, error) {
	h := &crlazypb.Header{ToolVersion: opts.ToolVersion, PageSize: images.PageSize, ChunkSize: images.ChunkMaxBytes}
	core := &criucore.CoreEntry{}
	if err := im.readOne(fmt.Sprintf("core-%d.img", procs[0].GetPid()), "CORE", core); err != nil {
		return nil, err
	}
	h.Arch = archName(core.GetMtype())
	h.Xfeatures = core.GetThreadInfo().GetFpregs().GetXsave().GetXstateBv()
	return h, nil
}

// archName turns CRIU's machine type into uname's spelling, which the
// restorer compares with the host's.
func archName(m criucore.CoreEntryMarch) string {
	switch m {
	case criucore.CoreEntry_X86_64:
		return "x86_64"
	case criucore.CoreEntry_AARCH64:
		return "aarch64"
	}
	return strings.ToLower(m.String())
}
