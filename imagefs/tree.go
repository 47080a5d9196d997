package imagefs

import (
	"fmt"
	"strconv"
	"strings"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/mm"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"github.com/crlazy/crlazy/criuimg"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// entry is one node of the tree before it is handed to go-fuse: a
// directory (dir set, children in listing order) or a file (src set).
type entry struct {
	name     string
	dir      bool
	children []*entry
	src      source
	sparse   bool // memory and pages files
}

func dirEntry(name string) *entry { return &entry{name: name, dir: true} }

func (e *entry) addFile(name string, src source) { e.add(&entry{name: name, src: src}) }

func (e *entry) add(c *entry) { e.children = append(e.children, c) }

// treeBuilder reads what the names of the tree need: the process tree,
// each process's ids and mm (for its VMAs) and the file paths. Contents
// are built later, on first use.
type treeBuilder struct {
	r     *store.Reader
	js    jsonViews
	files map[uint32]string // file id -> path, to name file mappings
	mms   map[uint32]*mmData
}

// buildTree describes the whole tree of the store r holds.
func buildTree(r *store.Reader) (*entry, error) {
	b := &treeBuilder{r: r, js: jsonViews{r}, mms: map[uint32]*mmData{}}
	if err := b.loadFiles(); err != nil {
		return nil, err
	}
	root := dirEntry("")
	root.addFile("header.json", newBytes(b.js.header()))
	root.addFile("inventory.json", newBytes(b.js.record(images.Inventory, 0)))
	root.addFile("pstree.json", newBytes(b.js.all(images.Pstree)))
	root.addFile("files.json", newBytes(b.js.all(images.Files)))
	pids, err := r.IDs(images.Pstree)
	if err != nil {
		return nil, err
	}
	opt, err := b.optionalKinds()
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		d, err := b.process(pid, opt)
		if err != nil {
			return nil, fmt.Errorf("pid %d: %w", pid, err)
		}
		root.add(d)
	}
	crit, err := b.criuDir()
	if err != nil {
		return nil, err
	}
	root.add(crit)
	return root, nil
}

func (b *treeBuilder) loadFiles() error {
	ids, err := b.r.IDs(images.Files)
	if err != nil {
		return err
	}
	b.files = make(map[uint32]string, len(ids))
	for _, id := range ids {
		f := &fdinfo.FileEntry{}
		if err := b.r.Record(images.Files, id, f); err != nil {
			return err
		}
		b.files[id] = f.GetReg().GetName()
	}
	return nil
}

// optionalKinds lists the ids that have records of the kinds a dump may
// leave out: creds and signal actions (in the core today), mm and fs (not
// for a zombie), seccomp (only with filters).
func (b *treeBuilder) optionalKinds() (map[images.Kind]map[uint32]bool, error) {
	out := map[images.Kind]map[uint32]bool{}
	for _, k := range []images.Kind{images.Creds, images.Sigacts, images.Mm, images.Fs, images.Seccomp} {
		ids, err := b.r.IDs(k)
		if err != nil {
			return nil, err
		}
		out[k] = map[uint32]bool{}
		for _, id := range ids {
			out[k][id] = true
		}
	}
	return out, nil
}

// process describes <pid>/: a JSON file per record and memory/.
func (b *treeBuilder) process(pid uint32, opt map[images.Kind]map[uint32]bool) (*entry, error) {
	ps, ids, m := &pstree.PstreeEntry{}, &criucore.TaskKobjIdsEntry{}, &mm.MmEntry{}
	if err := b.r.Record(images.Pstree, pid, ps); err != nil {
		return nil, err
	}
	if err := b.r.Record(images.Ids, pid, ids); err != nil {
		return nil, err
	}
	hasMm := opt[images.Mm][ids.GetVmId()]
	if hasMm {
		if err := b.r.Record(images.Mm, ids.GetVmId(), m); err != nil {
			return nil, err
		}
	}
	d := dirEntry(strconv.FormatUint(uint64(pid), 10))
	for _, tid := range threads(ps) {
		suffix := ""
		if tid != pid {
			suffix = "-" + strconv.FormatUint(uint64(tid), 10)
		}
		d.addFile("core"+suffix+".json", newBytes(b.js.record(images.Core, tid)))
		if opt[images.Creds][tid] {
			d.addFile("creds"+suffix+".json", newBytes(b.js.record(images.Creds, tid)))
		}
	}
	d.addFile("ids.json", newBytes(b.js.record(images.Ids, pid)))
	if hasMm {
		d.addFile("mm.json", newBytes(b.js.record(images.Mm, ids.GetVmId())))
		d.addFile("pagemap.json", newBytes(b.js.subs(images.Pagemap, ids.GetVmId())))
	}
	d.addFile("fds.json", newBytes(b.js.fds(ids.GetFilesId())))
	if opt[images.Fs][ids.GetFsId()] {
		d.addFile("fs.json", newBytes(b.js.record(images.Fs, ids.GetFsId())))
	}
	if opt[images.Seccomp][pid] {
		d.addFile("seccomp.json", newBytes(b.js.record(images.Seccomp, pid)))
	}
	if opt[images.Sigacts][ids.GetSighandId()] {
		d.addFile("sigacts.json", newBytes(b.js.subs(images.Sigacts, ids.GetSighandId())))
	}
	if hasMm {
		d.add(b.memory(ids.GetVmId(), m))
	}
	return d, nil
}

func threads(ps *pstree.PstreeEntry) []uint32 {
	if t := ps.GetThreads(); len(t) > 0 {
		return t
	}
	return []uint32{ps.GetPid()}
}

// memory describes memory/: one file per VMA.
func (b *treeBuilder) memory(mmID uint32, m *mm.MmEntry) *entry {
	data := b.mms[mmID]
	if data == nil {
		data = &mmData{r: b.r, mm: mmID}
		b.mms[mmID] = data
	}
	d := dirEntry("memory")
	for _, v := range m.GetVmas() {
		if v.GetEnd() <= v.GetStart() {
			continue // a damaged record; nothing to show
		}
		src := &memSource{r: b.r, mm: data, start: v.GetStart(), end: v.GetEnd()}
		d.add(&entry{name: memoryName(v, b.files), src: src, sparse: true})
	}
	return d
}

// criuDir describes criu/: the store as CRIU images.
func (b *treeBuilder) criuDir() (*entry, error) {
	v, err := criuimg.NewView(b.r)
	if err != nil {
		return nil, err
	}
	d := dirEntry("criu")
	for _, f := range v.Files() {
		d.add(&entry{name: f.Name, src: viewSource{f}, sparse: strings.HasPrefix(f.Name, "pages-")})
	}
	return d, nil
}
