package linux

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestUnmountNotMounted checks that umount2 of a plain directory fails
// with EINVAL (not mounted) or, without privilege, EPERM, and names the
// path: nothing else is touched.
func TestUnmountNotMounted(t *testing.T) {
	dir := t.TempDir()
	for _, detach := range []bool{false, true} {
		err := Unmount(dir, detach)
		var pe *os.PathError
		if !errors.As(err, &pe) || pe.Path != dir || !(errors.Is(err, EINVAL) || errors.Is(err, EPERM)) {
			t.Errorf("Unmount(%s, %v) = %v, want EINVAL or EPERM naming the path", dir, detach, err)
		}
	}
	if err := Unmount(filepath.Join(dir, "missing"), false); !errors.Is(err, ENOENT) && !errors.Is(err, EPERM) {
		t.Errorf("Unmount of a missing path = %v, want ENOENT", err)
	}
}
