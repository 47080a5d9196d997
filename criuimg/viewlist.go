package criuimg

import (
	"fmt"

	"github.com/crlazy/crlazy/images"
	"google.golang.org/protobuf/proto"
)

// The CRIU image type (go-criu magic name) of each record kind, and the
// file each goes to. Kinds without an entry here (none today) are not
// shown.
var kindImage = map[images.Kind]string{
	images.Inventory: "INVENTORY",
	images.Pstree:    "PSTREE",
	images.Core:      "CORE",
	images.Mm:        "MM",
	images.Fdinfo:    "FDINFO",
	images.Files:     "FILES",
	images.Fs:        "FS",
	images.Ids:       "IDS",
	images.Creds:     "CREDS",
	images.Sigacts:   "SIGACT",
	images.Seccomp:   "SECCOMP",
	// memfd.img and remap-fpath.img in a CRIU directory (not listed yet).
	images.MemfdInode: "MEMFD_INODE",
	images.RemapFpath: "REMAP_FPATH",
}

// list names every image of the store.
func (v *View) list(procs []*process) error {
	v.add("inventory.img", v.records(images.Inventory, []uint32{0}))
	v.add("pstree.img", v.allRecords(images.Pstree))
	v.add("files.img", v.allRecords(images.Files))
	optional := map[images.Kind]map[uint32]bool{}
	// Zombies have no mm or fs; only seccomp'd processes have filters.
	for _, k := range []images.Kind{images.Creds, images.Sigacts, images.Mm, images.Fs, images.Seccomp} {
		ids, err := v.r.IDs(k)
		if err != nil {
			return err
		}
		optional[k] = idSet(ids)
	}
	seenFiles := map[uint32]bool{}
	for _, p := range procs {
		v.listProcess(p, optional, seenFiles)
	}
	return nil
}

func idSet(ids []uint32) map[uint32]bool {
	s := make(map[uint32]bool, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

func (v *View) listProcess(p *process, optional map[images.Kind]map[uint32]bool, seenFiles map[uint32]bool) {
	threads := p.pstree.GetThreads()
	if len(threads) == 0 {
		threads = []uint32{p.pid}
	}
	for _, tid := range threads {
		v.add(fmt.Sprintf("core-%d.img", tid), v.records(images.Core, []uint32{tid}))
		if optional[images.Creds][tid] {
			v.add(fmt.Sprintf("creds-%d.img", tid), v.records(images.Creds, []uint32{tid}))
		}
	}
	ids := p.ids
	v.add(fmt.Sprintf("ids-%d.img", p.pid), v.records(images.Ids, []uint32{p.pid}))
	if optional[images.Mm][ids.GetVmId()] {
		v.add(fmt.Sprintf("mm-%d.img", p.pid), v.records(images.Mm, []uint32{ids.GetVmId()}))
		v.add(fmt.Sprintf("pagemap-%d.img", p.pid), v.pagemap(p))
		v.add(fmt.Sprintf("pages-%d.img", p.pagesID), v.pages(p))
	}
	if optional[images.Fs][ids.GetFsId()] {
		v.add(fmt.Sprintf("fs-%d.img", p.pid), v.records(images.Fs, []uint32{ids.GetFsId()}))
	}
	if optional[images.Seccomp][p.pid] {
		v.add(fmt.Sprintf("seccomp-%d.img", p.pid), v.records(images.Seccomp, []uint32{p.pid}))
	}
	if !seenFiles[ids.GetFilesId()] {
		seenFiles[ids.GetFilesId()] = true
		v.add(fmt.Sprintf("fdinfo-%d.img", ids.GetFilesId()), v.subRecords(images.Fdinfo, ids.GetFilesId()))
	}
	if optional[images.Sigacts][ids.GetSighandId()] {
		v.add(fmt.Sprintf("sigacts-%d.img", p.pid), v.subRecords(images.Sigacts, ids.GetSighandId()))
	}
}

// records builds an image of the records (k, id) for each of ids.
func (v *View) records(k images.Kind, ids []uint32) func() (*content, error) {
	return func() (*content, error) {
		msgs := make([]proto.Message, 0, len(ids))
		for _, id := range ids {
			m := k.New()
			if err := v.r.Record(k, id, m); err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
		return encodeContent(kindImage[k], msgs)
	}
}

// allRecords builds an image of every record of kind k, in id order.
func (v *View) allRecords(k images.Kind) func() (*content, error) {
	return func() (*content, error) {
		ids, err := v.r.IDs(k)
		if err != nil {
			return nil, err
		}
		return v.records(k, ids)()
	}
}

// subRecords builds an image of the sub-records of (k, id), in sub order.
func (v *View) subRecords(k images.Kind, id uint32) func() (*content, error) {
	return func() (*content, error) {
		var msgs []proto.Message
		err := v.r.SubRecords(k, id, func(sub uint64, raw []byte) error {
			m := k.New()
			if err := images.UnmarshalRecord(raw, m); err != nil {
				return fmt.Errorf("%s %d/%d: %w", k, id, sub, err)
			}
			msgs = append(msgs, m)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return encodeContent(kindImage[k], msgs)
	}
}

func encodeContent(name string, msgs []proto.Message) (*content, error) {
	b, err := Encode(name, msgs...)
	if err != nil {
		return nil, err
	}
	return &content{data: b}, nil
}

// layout builds p's pages layout once; pagemap and pages images share it.
func (v *View) layout(p *process) (*pagesLayout, error) {
	p.once.Do(func() { p.layout, p.err = buildPages(v.r, p.ids.GetVmId()) })
	return p.layout, p.err
}

func (v *View) pagemap(p *process) func() (*content, error) {
	return func() (*content, error) {
		l, err := v.layout(p)
		if err != nil {
			return nil, err
		}
		b, err := l.pagemapImage(p.pagesID)
		if err != nil {
			return nil, err
		}
		return &content{data: b}, nil
	}
}

func (v *View) pages(p *process) func() (*content, error) {
	return func() (*content, error) {
		l, err := v.layout(p)
		if err != nil {
			return nil, err
		}
		return &content{pages: l}, nil
	}
}
