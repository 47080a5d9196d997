package feature

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// optional are the probes this project's machines fail by design.
var optional = map[*Probe]bool{SoftDirty: true}

// TestProbesSucceedHere runs every probe without its cache and checks it
// works on this machine (everything but soft-dirty, KERNEL-FACTS), and
// that it leaves no descriptor and no child behind.
func TestProbesSucceedHere(t *testing.T) {
	testutil.RequirePriv(t)
	for _, p := range Probes() {
		t.Run(strings.ReplaceAll(p.Name(), " ", "_"), func(t *testing.T) {
			fds, kids := openFds(t), children(t)
			r := p.probe()
			if !r.OK && !optional[p] {
				t.Errorf("%s: %s", r.Name, r.Detail)
			}
			if r.Detail == "" {
				t.Errorf("%s: empty detail", r.Name)
			}
			if got := openFds(t); !slices.Equal(got, fds) {
				t.Errorf("descriptors before %v, after %v", fds, got)
			}
			if got := children(t); !slices.Equal(got, kids) {
				t.Errorf("children before %v, after %v", kids, got)
			}
		})
	}
}

// TestSoftDirtyInformational checks soft-dirty is shown for information
// only: missing it must not make any operation fail.
func TestSoftDirtyInformational(t *testing.T) {
	if len(SoftDirty.neededBy) != 0 {
		t.Errorf("soft-dirty is needed by %v", SoftDirty.neededBy)
	}
}

// openFds lists this process's descriptors.
func openFds(t *testing.T) []string {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The directory's own descriptor is in the listing; it is closed
	// again, and the same number comes back next time.
	slices.Sort(names)
	return names
}

// children lists the children of every thread of this process, zombies
// included.
func children(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		kids = append(kids, strings.Fields(string(b))...)
	}
	slices.Sort(kids)
	return kids
}
