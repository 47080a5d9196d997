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
	pagesAll                         // every page (shared anonymous memory)
)

// area is one memory area to save.
type area struct {
	start, end uint64
	mode       pageMode
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
		e, mode, err := c.classifyVMA(m, img.files)
		if err != nil {
			return err
		}
		img.mm.Vmas = append(img.mm.Vmas, e)
		if mode != pagesNone {
			img.areas = append(img.areas, area{start: m.Start, end: m.End, mode: mode})
		}
	}
	c.stats.VMAs += len(maps)
	return nil
}

func vmaWhat(m proc.Mapping) string {
	return fmt.Sprintf("vma %x-%x %s", m.Start, m.End, m.Path)
}

func (c *collector) classifyVMA(m proc.Mapping, ft *fileTable) (*vma.VmaEntry, pageMode, error) {
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
	status, mode, err := c.vmaKind(m, e, &flags, ft)
	if err != nil {
		return nil, 0, err
	}
	e.Flags = proto.Uint32(flags)
	e.Status = proto.Uint32(status)
	return e, mode, nil
}

func (c *collector) vmaKind(m proc.Mapping, e *vma.VmaEntry, flags *uint32, ft *fileTable) (uint32, pageMode, error) {
	const anonPriv = images.VmaAreaRegular | images.VmaAnonPrivate
	switch {
	case m.Path == "[vsyscall]":
		return images.VmaAreaVsyscall, pagesNone, nil
	case m.Path == "[vdso]":
		return images.VmaAreaRegular | images.VmaAreaVdso, pagesNone, nil
	case m.Path == "[vvar]" || m.Path == "[vvar_vclock]":
		return images.VmaAreaRegular | images.VmaAreaVvar, pagesNone, nil
	case m.Path == "[heap]":
		*flags |= linux.MapAnonymous
		return anonPriv | images.VmaAreaHeap, pagesAnon, nil
	case m.Path == "[stack]":
		*flags |= linux.MapAnonymous
		return anonPriv | images.VmaAreaStack, pagesAnon, nil
	case m.IsSpecial():
		return 0, 0, unsupported("this kind of memory area is not supported yet", "%s", vmaWhat(m))
	case m.VmFlags.Has(proc.VmIO) || m.VmFlags.Has(proc.VmPFNMap) || m.VmFlags.Has(proc.VmHugeTLB):
		return 0, 0, unsupported("device, PFN and hugetlb mappings are not supported yet", "%s", vmaWhat(m))
	case m.Inode == 0 && !m.Shared:
		*flags |= linux.MapAnonymous
		return anonPriv, pagesAnon, nil
	case m.Shared && (m.Inode == 0 || (m.Path == "/dev/zero" && m.Deleted) || strings.HasPrefix(m.Path, "[anon_shmem:")):
		*flags |= linux.MapAnonymous
		return images.VmaAreaRegular | images.VmaAnonShared, pagesAll, nil
	case strings.HasPrefix(m.Path, "/SYSV"):
		return 0, 0, unsupported("System V shared memory is not supported yet", "%s", vmaWhat(m))
	case strings.HasPrefix(m.Path, "/memfd:"):
		return 0, 0, unsupported("memfd mappings are not supported yet", "%s", vmaWhat(m))
	case m.Deleted:
		return 0, 0, unsupported("mappings of deleted files are not supported yet", "%s", vmaWhat(m))
	}
	return c.fileVMA(m, e, ft)
}

// fileVMA records a mapping of a file on disk.
func (c *collector) fileVMA(m proc.Mapping, e *vma.VmaEntry, ft *fileTable) (uint32, pageMode, error) {
	st, err := linux.Stat(fmt.Sprintf("/proc/%d/map_files/%x-%x", c.pid, m.Start, m.End))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", vmaWhat(m), err)
	}
	if st.Mode&linux.SIfmt != linux.SIfreg {
		return 0, 0, unsupported("mappings of non-regular files are not supported yet", "%s", vmaWhat(m))
	}
	openFlags := uint32(linux.ORdonly)
	if m.Shared && m.VmFlags.Has(proc.VmMayWrite) {
		openFlags = linux.ORdwr
	}
	e.Shmid = proto.Uint64(uint64(ft.byIdentity(m.Path, st, linux.ORdonly)))
	e.Fdflags = proto.Uint32(openFlags)
	if m.Shared {
		return images.VmaAreaRegular | images.VmaFileShared, pagesNone, nil
	}
	return images.VmaAreaRegular | images.VmaFilePrivate, pagesFilePrivate, nil
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
