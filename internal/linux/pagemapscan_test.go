package linux

import (
	"errors"
	"os"
	"slices"
	"testing"
	"unsafe"

	"github.com/crlazy/crlazy/internal/testutil"
)

func TestPagemapScanABI(t *testing.T) {
	if pagemapScanReq != 0xC0606610 {
		t.Errorf("PAGEMAP_SCAN = %#x, want 0xC0606610", pagemapScanReq)
	}
	if s := unsafe.Sizeof(pmScanArg{}); s != 96 {
		t.Errorf("sizeof(struct pm_scan_arg) = %d, want 96", s)
	}
	if s := unsafe.Sizeof(PageRegion{}); s != 24 {
		t.Errorf("sizeof(struct page_region) = %d, want 24", s)
	}
}

// openSelfPagemap opens /proc/self/pagemap; a kernel without PAGEMAP_SCAN
// (before 6.7) skips the test.
func openSelfPagemap(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	_, _, err = PagemapScan(f, 0, 0, 0, 0, 0, 0, PageIsPresent, nil)
	if errors.Is(err, ENOTTY) {
		testutil.RequireFeature(t, "PAGEMAP_SCAN", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// regionPages turns regions into page-index ranges relative to base.
func regionPages(rs []PageRegion, base uint64) [][2]uint64 {
	var out [][2]uint64
	for _, r := range rs {
		out = append(out, [2]uint64{(r.Start - base) / PageSize, (r.End - base) / PageSize})
	}
	return out
}

// TestPagemapScanPresent touches a few pages of a fresh mapping and finds
// exactly them with category PRESENT.
func TestPagemapScanPresent(t *testing.T) {
	pm := openSelfPagemap(t)
	const pages = 64
	mem, base := mapPages(t, pages)
	for _, p := range []int{0, 5, 6, 7, 40} {
		mem[p*PageSize] = 1
	}
	out := make([]PageRegion, 8)
	n, walkEnd, err := PagemapScan(pm, base, base+pages*PageSize, 0, 0, PageIsPresent, 0, PageIsPresent, out)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]uint64{{0, 1}, {5, 8}, {40, 41}}
	if got := regionPages(out[:n], base); !slices.Equal(got, want) {
		t.Errorf("present pages %v, want %v", got, want)
	}
	for _, r := range out[:n] {
		if r.Categories != PageIsPresent {
			t.Errorf("region %#x-%#x categories %#x, want PRESENT only", r.Start, r.End, r.Categories)
		}
	}
	if walkEnd != base+pages*PageSize {
		t.Errorf("walk ended at %#x, want %#x", walkEnd, base+pages*PageSize)
	}
	// With room for one region, the walk stops after the first.
	n, walkEnd, err = PagemapScan(pm, base, base+pages*PageSize, 0, 0, PageIsPresent, 0, PageIsPresent, out[:1])
	if err != nil || n != 1 || walkEnd > base+5*PageSize {
		t.Errorf("scan with one slot: n=%d walk end page %d, %v", n, (walkEnd-base)/PageSize, err)
	}
}

// TestPagemapScanWPAsync tracks writes with a WP_ASYNC userfaultfd, the
// dirty tracking incremental dumps use in place of soft-dirty.
func TestPagemapScanWPAsync(t *testing.T) {
	testutil.RequirePriv(t)
	pm := openSelfPagemap(t)
	const pages = 16
	mem, base := mapPages(t, pages)
	for i := range pages {
		mem[i*PageSize] = 1
	}
	f := newUffd(t, UffdFeatureWPAsync)
	if _, err := UffdRegister(f, base, pages*PageSize, UffdRegisterModeWP); err != nil {
		t.Fatal(err)
	}
	if err := UffdWriteprotect(f, base, pages*PageSize, UffdWriteprotectModeWP); err != nil {
		t.Fatal(err)
	}
	mem[3*PageSize] = 2
	mem[9*PageSize+7] = 2
	faultSink = mem[12*PageSize]
	out := make([]PageRegion, 8)
	flags := uint64(PMScanWPMatching | PMScanCheckWPAsync)
	n, _, err := PagemapScan(pm, base, base+pages*PageSize, flags, 0, PageIsWritten, 0, PageIsWritten, out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := regionPages(out[:n], base), [][2]uint64{{3, 4}, {9, 10}}; !slices.Equal(got, want) {
		t.Errorf("written pages %v, want %v", got, want)
	}
	// The scan re-protected what it reported.
	n, _, err = PagemapScan(pm, base, base+pages*PageSize, flags, 0, PageIsWritten, 0, PageIsWritten, out)
	if err != nil || n != 0 {
		t.Errorf("rescan: %d regions %v, %v; want none", n, regionPages(out[:n], base), err)
	}
}
