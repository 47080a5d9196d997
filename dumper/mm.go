package dumper

import (
	"fmt"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"google.golang.org/protobuf/proto"
)

// pageMode says which pages of an area go into the store.
type pageMode int

const (
	pagesNone        pageMode = iota // contents come from the kernel or a file
	pagesAnon                        // pages present or swapped
	pagesFilePrivate                 // anonymous (copied-on-write) pages of a private file mapping
	pagesShared                      // the given ranges of a shared memory object's mapping
)

// area is one memory area to save.
type area struct {
	start, end uint64
	mode       pageMode
	// ranges (pagesShared) are the address ranges to save: the pages of
	// the object this mapping is the first to cover that hold data
	// (mem_objects.go).
	ranges [][2]uint64
}

// vmAdvice maps VmFlags to the madvise advice that sets them.
var vmAdvice = []struct {
	flag   proc.VmFlags
	advice int
}{
	{proc.VmDontCopy, linux.MadvDontfork},
	{proc.VmDontDump, linux.MadvDontdump},
	{proc.VmHugePage, linux.MadvHugepage},
	{proc.VmNoHugePage, linux.MadvNohugepage},
	{proc.VmWipeOnFork, linux.MadvWipeonfork},
	{proc.VmMergeable, linux.MadvMergeable},
}

// collectMemory records every VMA and plans which pages to save.
func (c *collector) collectMemory(img *image) error {
	maps, err := proc.ReadSmaps(c.pid)
	if err != nil {
		return err
	}
	for _, m := range maps {
		e, a, err := c.classifyVMA(m, img.files)
		if err != nil {
			return err
		}
		img.mm.Vmas = append(img.mm.Vmas, e)
		if a.mode != pagesNone {
			a.start, a.end = m.Start, m.End
			img.areas = append(img.areas, a)
		}
	}
	c.stats.VMAs += len(maps)
	return nil
}

func vmaWhat(m proc.Mapping) string {
	return fmt.Sprintf("vma %x-%x %s", m.Start, m.End, m.Path)
}

func (c *collector) classifyVMA(m proc.Mapping, ft *fileTable) (*vma.VmaEntry, area, error) {
	e := &vma.VmaEntry{
		Start: proto.Uint64(m.Start),
		End:   proto.Uint64(m.End),
		Pgoff: proto.Uint64(m.Offset),
		Shmid: proto.Uint64(0),
		Prot:  proto.Uint32(prot(m)),
		Fd:    proto.Int64(-1),
		Madv:  proto.Uint64(madvBits(m.VmFlags)),
	}
	flags := uint32(linux.MapPrivate)
	if m.Shared {
		flags = linux.MapShared
	}
	if m.VmFlags.Has(proc.VmGrowsDown) {
		flags |= linux.MapGrowsdown
	}
	if m.VmFlags.Has(proc.VmNoReserve) {
		flags |= linux.MapNoreserve
	}
	if m.VmFlags.Has(proc.VmLocked) { // mlock(2)ed: locked again at restore
		flags |= linux.MapLocked
	}
	status, a, err := c.vmaKind(m, e, &flags, ft)
	if err != nil {
		return nil, area{}, err
	}
	e.Flags = proto.Uint32(flags)
	e.Status = proto.Uint32(status)
	return e, a, nil
}

func (c *collector) vmaKind(m proc.Mapping, e *vma.VmaEntry, flags *uint32, ft *fileTable) (uint32, area, error) {
	const anonPriv = images.VmaAreaRegular | images.VmaAnonPrivate
	anon := area{mode: pagesAnon}
	switch {
	case m.Path == "[vsyscall]":
		return images.VmaAreaVsyscall, area{}, nil
	case m.Path == "[vdso]":
		return images.VmaAreaRegular | images.VmaAreaVdso, area{}, nil
	case m.Path == "[vvar]" || m.Path == "[vvar_vclock]":
		return images.VmaAreaRegular | images.VmaAreaVvar, area{}, nil
	case m.Path == "[heap]":
		*flags |= linux.MapAnonymous
		return anonPriv | images.VmaAreaHeap, anon, nil
	case m.Path == "[stack]":
		*flags |= linux.MapAnonymous
		return anonPriv | images.VmaAreaStack, anon, nil
	case m.IsSpecial():
		return 0, area{}, unsupported("this kind of memory area is not supported yet", "%s", vmaWhat(m))
	case m.VmFlags.Has(proc.VmIO) || m.VmFlags.Has(proc.VmPFNMap) || m.VmFlags.Has(proc.VmHugeTLB):
		return 0, area{}, unsupported("device, PFN and hugetlb mappings are not supported yet", "%s", vmaWhat(m))
	case m.Inode == 0 && !m.Shared:
		*flags |= linux.MapAnonymous
		return anonPriv, anon, nil
	case m.Shared && (m.Inode == 0 || (m.Path == "/dev/zero" && m.Deleted) || strings.HasPrefix(m.Path, "[anon_shmem:")):
		*flags |= linux.MapAnonymous
		return c.anonSharedVMA(m, e, ft)
	case strings.HasPrefix(m.Path, "/SYSV"):
		return c.sysvVMA(m, e, ft) // sysvshm.go
	case strings.HasPrefix(m.Path, memfdPrefix) && m.Deleted:
		return c.memfdVMA(m, e, ft)
	}
	return c.fileVMA(m, e, ft)
}

// anonSharedVMA records a mapping of shared anonymous memory: by its
// object (shmid), whose pages it saves where it is the first to map them.
func (c *collector) anonSharedVMA(m proc.Mapping, e *vma.VmaEntry, ft *fileTable) (uint32, area, error) {
	obj, err := ft.mem.object(mapFilesPath(c.pid, m), false)
	if err != nil {
		return 0, area{}, fmt.Errorf("%s: %w", vmaWhat(m), err)
	}
	e.Shmid = proto.Uint64(uint64(obj.id))
	return images.VmaAreaRegular | images.VmaAnonShared, sharedArea(m, obj), nil
}

// fileVMA records a mapping of a file on disk (or of a deleted one, see
// fd_ghost.go).
func (c *collector) fileVMA(m proc.Mapping, e *vma.VmaEntry, ft *fileTable) (uint32, area, error) {
	st, err := linux.Stat(mapFilesPath(c.pid, m))
	if err != nil {
		return 0, area{}, fmt.Errorf("%s: %w", vmaWhat(m), err)
	}
	if st.Mode&linux.SIfmt != linux.SIfreg {
		return 0, area{}, unsupported("mappings of non-regular files are not supported yet", "%s", vmaWhat(m))
	}
	openFlags := uint32(linux.ORdonly)
	if m.Shared && m.VmFlags.Has(proc.VmMayWrite) {
		openFlags = linux.ORdwr
	}
	id := uint32(0)
	if m.Deleted {
		if id, err = c.deletedVMA(m, st, ft); err != nil {
			return 0, area{}, err
		}
	} else {
		id = ft.byIdentity(m.Path, st, linux.ORdonly)
	}
	e.Shmid = proto.Uint64(uint64(id))
	e.Fdflags = proto.Uint32(openFlags)
	if m.Shared {
		return images.VmaAreaRegular | images.VmaFileShared, area{}, nil
	}
	return images.VmaAreaRegular | images.VmaFilePrivate, area{mode: pagesFilePrivate}, nil
}

func prot(m proc.Mapping) uint32 {
	var p uint32
	if m.Read {
		p |= linux.ProtRead
	}
	if m.Write {
		p |= linux.ProtWrite
	}
	if m.Exec {
		p |= linux.ProtExec
	}
	return p
}

func madvBits(f proc.VmFlags) uint64 {
	var bits uint64
	for _, a := range vmAdvice {
		if f.Has(a.flag) {
			bits |= 1 << a.advice
		}
	}
	return bits
}
