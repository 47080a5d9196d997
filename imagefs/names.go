package imagefs

import (
	"fmt"
	"path"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/vma"
	"github.com/crlazy/crlazy/images"
)

// VMA protection and mapping bits (mmap(2)), as vma_entry stores them.
const (
	protRead   = 0x1
	protWrite  = 0x2
	protExec   = 0x4
	mapShared  = 0x01
	maxNameLen = 255 // NAME_MAX
)

// memoryName names the memory file of v, as /proc/PID/maps would show
// it: "<start>-<end>.<perms>[.<name>]", addresses in hex, perms such as
// "rw-p", and the basename of the mapped file or heap, stack, vdso, vvar,
// vsyscall or shmem. files maps file ids to paths.
func memoryName(v *vma.VmaEntry, files map[uint32]string) string {
	name := fmt.Sprintf("%x-%x.%s", v.GetStart(), v.GetEnd(), perms(v))
	if what := vmaWhat(v, files); what != "" {
		name += "." + what
	}
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return name
}

func perms(v *vma.VmaEntry) string {
	b := []byte("---p")
	p := v.GetProt()
	if p&protRead != 0 {
		b[0] = 'r'
	}
	if p&protWrite != 0 {
		b[1] = 'w'
	}
	if p&protExec != 0 {
		b[2] = 'x'
	}
	if v.GetFlags()&mapShared != 0 {
		b[3] = 's'
	}
	return string(b)
}

// vmaWhat says what v maps, for its file name ("" for anonymous memory).
func vmaWhat(v *vma.VmaEntry, files map[uint32]string) string {
	st := v.GetStatus()
	switch {
	case st&(images.VmaFilePrivate|images.VmaFileShared) != 0:
		return safeName(path.Base(files[uint32(v.GetShmid())]))
	case st&images.VmaAreaHeap != 0:
		return "heap"
	case st&images.VmaAreaStack != 0:
		return "stack"
	case st&images.VmaAreaVdso != 0:
		return "vdso"
	case st&images.VmaAreaVvar != 0:
		return "vvar"
	case st&images.VmaAreaVsyscall != 0:
		return "vsyscall"
	case st&images.VmaAnonShared != 0:
		return "shmem"
	}
	return ""
}

// safeName keeps a file's basename usable as part of a file name.
func safeName(s string) string {
	if s == "." || s == "/" || s == "" {
		return "file"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, s)
}
