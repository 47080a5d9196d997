package feature

import (
	"errors"
	"fmt"
	"os"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// scanPages is the size of the mapping the PAGEMAP_SCAN probe scans.
const scanPages = 4

var (
	errNoUffdCopy   = errors.New("registered range does not allow UFFDIO_COPY")
	errScanMismatch = errors.New("scan does not report the one touched page")
	errNoSoftDirty  = errors.New("pagemap bit 55 is not set on a freshly written page (CONFIG_MEM_SOFT_DIRTY off)")
)

// uffdFeatures maps the names of the features the probes ask for to
// their UFFD_FEATURE_* bits.
var uffdFeatures = map[string]uint64{
	"EVENT_FORK":    linux.UffdFeatureEventFork,
	"EVENT_REMAP":   linux.UffdFeatureEventRemap,
	"EVENT_REMOVE":  linux.UffdFeatureEventRemove,
	"EVENT_UNMAP":   linux.UffdFeatureEventUnmap,
	"MISSING_SHMEM": linux.UffdFeatureMissingShmem,
	"WP_ASYNC":      linux.UffdFeatureWPAsync,
}

// newUffdProbe returns the probe of one userfaultfd feature: a handshake
// that requests it alone.
func newUffdProbe(feature string, use string) *Probe {
	bit := uffdFeatures[feature]
	return newProbe("uffd "+feature, needs(use), func() (string, error) {
		f, err := linux.UserfaultfdOpen(0)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, _, err := linux.UffdAPI(f, bit); err != nil {
			return "", fmt.Errorf("request %s: %w", feature, err)
		}
		return "handshake accepts it", nil
	})
}

// probeUserfaultfd opens a userfaultfd, does the handshake and registers
// a page of this process for missing faults.
func probeUserfaultfd() (string, error) {
	f, err := linux.UserfaultfdOpen(0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	features, _, err := linux.UffdAPI(f, 0)
	if err != nil {
		return "", err
	}
	mem, addr, err := linux.MmapAnon(linux.PageSize)
	if err != nil {
		return "", err
	}
	defer linux.Munmap(mem)
	ioctls, err := linux.UffdRegister(f, uint64(addr), linux.PageSize, linux.UffdRegisterModeMissing)
	if err != nil {
		return "", err
	}
	if err := linux.UffdUnregister(f, uint64(addr), linux.PageSize); err != nil {
		return "", err
	}
	if ioctls&linux.UffdIoctlCopy == 0 {
		return "", fmt.Errorf("%w: ioctls %#x", errNoUffdCopy, ioctls)
	}
	return fmt.Sprintf("features %#x; registered a page for missing faults", features), nil
}

// probePagemapScan writes one page of a fresh mapping and checks that
// PAGEMAP_SCAN on /proc/self/pagemap reports exactly that page present.
func probePagemapScan() (string, error) {
	mem, addr, err := linux.MmapAnon(scanPages * linux.PageSize)
	if err != nil {
		return "", err
	}
	defer linux.Munmap(mem)
	mem[linux.PageSize] = 1
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return "", err
	}
	defer pm.Close()
	start, end := uint64(addr), uint64(addr)+scanPages*linux.PageSize
	out := make([]linux.PageRegion, scanPages)
	n, _, err := linux.PagemapScan(pm, start, end, 0, 0, linux.PageIsPresent, 0, linux.PageIsPresent, out)
	if err != nil {
		return "", err
	}
	want := linux.PageRegion{Start: start + linux.PageSize, End: start + 2*linux.PageSize, Categories: linux.PageIsPresent}
	if n != 1 || out[0] != want {
		return "", fmt.Errorf("%w: %d regions %v", errScanMismatch, n, out[:n])
	}
	return "found the one present page of a fresh mapping", nil
}

// probeSoftDirty writes a fresh page and reads its pagemap entry: with
// CONFIG_MEM_SOFT_DIRTY the page is soft-dirty.
func probeSoftDirty() (string, error) {
	mem, addr, err := linux.MmapAnon(linux.PageSize)
	if err != nil {
		return "", err
	}
	defer linux.Munmap(mem)
	mem[0] = 1
	pm, err := proc.OpenPagemap(os.Getpid())
	if err != nil {
		return "", err
	}
	defer pm.Close()
	e := make([]proc.PagemapEntry, 1)
	if err := pm.Read(uint64(addr), e); err != nil {
		return "", err
	}
	if !e[0].SoftDirty() {
		return "", errNoSoftDirty
	}
	return "a fresh page is soft-dirty (criu's pre-dump uses it; crlazy does not)", nil
}
