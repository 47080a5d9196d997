package images

// VMA status bits of vma_entry.status, with CRIU's values so that images
// read the same in crit (criu/include/image.h defines them; the schema
// only says "mmap.status").
const (
	VmaAreaRegular  = 1 << 0 // an area crlazy restores
	VmaAreaStack    = 1 << 1
	VmaAreaVsyscall = 1 << 2
	VmaAreaVdso     = 1 << 3
	VmaAreaHeap     = 1 << 5
	VmaFilePrivate  = 1 << 6
	VmaFileShared   = 1 << 7
	VmaAnonShared   = 1 << 8
	VmaAnonPrivate  = 1 << 9
	VmaAreaSysvipc  = 1 << 10
	VmaAreaVvar     = 1 << 12
	VmaAreaMemfd    = 1 << 14
)

// Pagemap entry flags (pagemap_entry.flags). PagemapPresent, PagemapLazy
// and PagemapParent have CRIU's values; PagemapZero is crlazy's: the run
// was present but all zeros, so no chunk holds it (a hole).
const (
	PagemapParent  = 1 << 0
	PagemapLazy    = 1 << 1
	PagemapPresent = 1 << 2
	PagemapZero    = 1 << 8
)
