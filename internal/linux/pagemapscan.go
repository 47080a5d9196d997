package linux

import (
	"fmt"
	"os"
	"runtime"
)

// The PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux 6.7), declared by hand
// from include/uapi/linux/fs.h; neither x/sys/unix nor Debian 12's headers
// have it. Both structs are all-u64: no padding.

// pmScanArg mirrors struct pm_scan_arg.
type pmScanArg struct {
	Size              uint64 // sizeof(struct pm_scan_arg)
	Flags             uint64
	Start             uint64
	End               uint64
	WalkEnd           uint64 // written by the kernel: where the walk stopped
	Vec               uint64 // address of a page_region array
	VecLen            uint64
	MaxPages          uint64 // 0: no limit
	CategoryInverted  uint64
	CategoryMask      uint64
	CategoryAnyofMask uint64
	ReturnMask        uint64
}

// PageRegion mirrors struct page_region: the pages [Start, End) share the
// categories Categories (masked by the scan's return mask).
type PageRegion struct {
	Start      uint64
	End        uint64
	Categories uint64
}

// pagemapScanReq is PAGEMAP_SCAN, _IOWR('f', 16, struct pm_scan_arg).
var pagemapScanReq = iowr('f', 16, sizeOf[pmScanArg]())

// Page categories (PAGE_IS_*), for the category masks and PageRegion.
const (
	PageIsWPAllowed = 1 << 0
	PageIsWritten   = 1 << 1
	PageIsFile      = 1 << 2
	PageIsPresent   = 1 << 3
	PageIsSwapped   = 1 << 4
	PageIsPFNZero   = 1 << 5
	PageIsHuge      = 1 << 6
	PageIsSoftDirty = 1 << 7
	PageIsGuard     = 1 << 8
)

// Flags of PagemapScan.
const (
	// PMScanWPMatching write-protects the matching pages (uffd WP_ASYNC).
	PMScanWPMatching = 1 << 0
	// PMScanCheckWPAsync fails with EPERM unless the range is registered
	// with a WP_ASYNC userfaultfd.
	PMScanCheckWPAsync = 1 << 1
)

// PagemapScan scans [start, end) of the process whose pagemap is open in
// pagemapFile and fills out with the regions of pages that match: a page
// matches when all categories of catMask (after flipping those in
// catInverted) are set and, if catAnyof is not zero, at least one of
// catAnyof. Categories are reported masked by retMask. It returns the
// number of regions filled and the address where the walk stopped, which
// is below end when out filled up: scan again from there.
func PagemapScan(pagemapFile *os.File, start, end uint64, flags, catInverted, catMask, catAnyof, retMask uint64, out []PageRegion) (n int, walkEnd uint64, err error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	a := pmScanArg{
		Size:              uint64(sizeOf[pmScanArg]()),
		Flags:             flags,
		Start:             start,
		End:               end,
		Vec:               pinnedAddr(&pin, out),
		VecLen:            uint64(len(out)),
		CategoryInverted:  catInverted,
		CategoryMask:      catMask,
		CategoryAnyofMask: catAnyof,
		ReturnMask:        retMask,
	}
	ret, err := ioctlPtrRet(pagemapFile, "ioctl PAGEMAP_SCAN", pagemapScanReq, &a)
	if err != nil {
		return 0, a.WalkEnd, fmt.Errorf("scan %s %#x-%#x: %w", pagemapFile.Name(), start, end, err)
	}
	return int(ret), a.WalkEnd, nil
}
