package linux

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestFlockSize(t *testing.T) {
	if n := unsafe.Sizeof(Flock{}); n != 32 {
		t.Errorf("struct flock is %d bytes, want 32", n)
	}
	if off := unsafe.Offsetof(Flock{}.Start); off != 8 {
		t.Errorf("l_start at %d, want 8", off)
	}
	if off := unsafe.Offsetof(Flock{}.Pid); off != 24 {
		t.Errorf("l_pid at %d, want 24", off)
	}
}

// TestLockHelpers takes locks through one description and sees them from
// another: an OFD lock conflicts with a second description, a flock too.
func TestLockHelpers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	a, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := TryFlock(a, LockEx); err != nil {
		t.Fatal(err)
	}
	if err := TryFlock(b, LockSh); !errors.Is(err, EWOULDBLOCK) {
		t.Errorf("flock of a second description: %v, want EWOULDBLOCK", err)
	}
	lk := Flock{Type: FWrlck, Start: 0, Len: 10}
	if err := GetLock(b, true, &lk); err != nil || lk.Type != FUnlck {
		t.Errorf("F_OFD_GETLK without locks: %+v, %v", lk, err)
	}
}
