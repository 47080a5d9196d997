package criuimg

import (
	"fmt"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/regfile"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// Signals that have no action to dump: CRIU's sigacts images skip them
// when they list signals 1..sigMax in order.
const (
	sigKill = 9
	sigStop = 19
	sigMax  = 64
)

func (im *importer) writeAll(inv *inventory.InventoryEntry, procs []*pstree.PstreeEntry) error {
	if err := im.put(images.Inventory, 0, inv); err != nil {
		return err
	}
	if err := im.writeFiles(); err != nil {
		return err
	}
	for _, p := range procs {
		if err := im.writeProcess(p); err != nil {
			return fmt.Errorf("pid %d: %w", p.GetPid(), err)
		}
		im.stats.Processes++
	}
	return nil
}

// put writes the record (k, id) unless an earlier process wrote it.
func (im *importer) put(k images.Kind, id uint32, m proto.Message) error {
	key := images.Key{Type: images.KeyRecord, Kind: k, ID: id}.String()
	if im.done[key] {
		return nil
	}
	if err := im.w.PutRecord(k, id, m); err != nil {
		return err
	}
	im.done[key] = true
	im.stats.Records++
	return nil
}

// writeFiles stores files.img, or the regular files of the older
// reg-files.img when there is no files.img.
func (im *importer) writeFiles() error {
	if !im.exists("files.img") && im.exists("reg-files.img") {
		return im.writeRegFiles()
	}
	img, err := ReadFile(im.path("files.img"), "FILES")
	if err != nil {
		return err
	}
	for i := range img.Entries {
		f := &fdinfo.FileEntry{}
		if err := img.Unmarshal(i, f); err != nil {
			return err
		}
		if err := im.put(images.Files, f.GetId(), f); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) writeRegFiles() error {
	img, err := ReadFile(im.path("reg-files.img"), "REG_FILES")
	if err != nil {
		return err
	}
	for i := range img.Entries {
		r := &regfile.RegFileEntry{}
		if err := img.Unmarshal(i, r); err != nil {
			return err
		}
		f := &fdinfo.FileEntry{Type: fdinfo.FdTypes_REG.Enum(), Id: proto.Uint32(r.GetId()), Reg: r}
		if err := im.put(images.Files, r.GetId(), f); err != nil {
			return err
		}
	}
	return nil
}

// writeProcess stores the records and pages of one process.
func (im *importer) writeProcess(p *pstree.PstreeEntry) error {
	pid := p.GetPid()
	if err := im.put(images.Pstree, pid, p); err != nil {
		return err
	}
	if err := im.writeThreads(p); err != nil {
		return err
	}
	ids := &criucore.TaskKobjIdsEntry{}
	if err := im.readOne(fmt.Sprintf("ids-%d.img", pid), "IDS", ids); err != nil {
		return err
	}
	if err := im.put(images.Ids, pid, ids); err != nil {
		return err
	}
	for _, one := range []struct {
		name, typ string
		kind      images.Kind
		id        uint32
	}{
		{fmt.Sprintf("mm-%d.img", pid), "MM", images.Mm, ids.GetVmId()},
		{fmt.Sprintf("fs-%d.img", pid), "FS", images.Fs, ids.GetFsId()},
	} {
		m := one.kind.New()
		if err := im.readOne(one.name, one.typ, m); err != nil {
			return err
		}
		if err := im.put(one.kind, one.id, m); err != nil {
			return err
		}
	}
	if err := im.writeFdinfo(ids.GetFilesId()); err != nil {
		return err
	}
	if err := im.writeSigacts(pid, ids.GetSighandId()); err != nil {
		return err
	}
	return im.writePages(pid, ids.GetVmId())
}

// writeThreads stores the core (and creds, in images that keep them
// apart) of every thread.
func (im *importer) writeThreads(p *pstree.PstreeEntry) error {
	threads := p.GetThreads()
	if len(threads) == 0 {
		threads = []uint32{p.GetPid()}
	}
	for _, tid := range threads {
		core := &criucore.CoreEntry{}
		if err := im.readOne(fmt.Sprintf("core-%d.img", tid), "CORE", core); err != nil {
			return err
		}
		if err := im.put(images.Core, tid, core); err != nil {
			return err
		}
		name := fmt.Sprintf("creds-%d.img", tid)
		if !im.exists(name) {
			continue
		}
		creds := images.Creds.New()
		if err := im.readOne(name, "CREDS", creds); err != nil {
			return err
		}
		if err := im.put(images.Creds, tid, creds); err != nil {
			return err
		}
	}
	return nil
}

// writeFdinfo stores fdinfo-<files id>.img, one sub-record per fd.
func (im *importer) writeFdinfo(filesID uint32) error {
	key := fmt.Sprintf("fdinfo/%d", filesID)
	if im.done[key] {
		return nil
	}
	im.done[key] = true
	img, err := ReadFile(im.path(fmt.Sprintf("fdinfo-%d.img", filesID)), "FDINFO")
	if err != nil {
		return err
	}
	for i := range img.Entries {
		fd := &fdinfo.FdinfoEntry{}
		if err := img.Unmarshal(i, fd); err != nil {
			return err
		}
		if err := im.w.PutSubRecord(images.Fdinfo, filesID, uint64(fd.GetFd()), fd); err != nil {
			return err
		}
		im.stats.Records++
	}
	return nil
}

// writeSigacts stores sigacts-<pid>.img of images that keep signal
// actions apart from the core: its entries are signals 1..64 in order,
// without SIGKILL and SIGSTOP.
func (im *importer) writeSigacts(pid, sighandID uint32) error {
	name := fmt.Sprintf("sigacts-%d.img", pid)
	key := fmt.Sprintf("sigacts/%d", sighandID)
	if im.done[key] || !im.exists(name) {
		return nil
	}
	im.done[key] = true
	img, err := ReadFile(im.path(name), "SIGACT")
	if err != nil {
		return err
	}
	sig := uint64(0)
	for i := range img.Entries {
		for sig++; sig == sigKill || sig == sigStop; sig++ {
		}
		if sig > sigMax {
			return fmt.Errorf("%s: more than %d signals: %w", name, sigMax-2, store.ErrCorrupt)
		}
		sa := images.Sigacts.New()
		if err := img.Unmarshal(i, sa); err != nil {
			return err
		}
		if err := im.w.PutSubRecord(images.Sigacts, sighandID, sig, sa); err != nil {
			return err
		}
		im.stats.Records++
	}
	return nil
}
