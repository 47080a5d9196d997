package linux

import (
	"os"
	"testing"
	"unsafe"
)

func TestPrctlMMMapSize(t *testing.T) {
	size, err := PrctlMMMapSize()
	if err != nil {
		t.Fatal(err)
	}
	if want := unsafe.Sizeof(PrctlMMMap{}); uintptr(size) != want {
		t.Errorf("kernel's prctl_mm_map is %d bytes, PrctlMMMap %d", size, want)
	}
}

func TestDupFile(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	d, err := DupFile(r)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	same, err := KcmpFile(os.Getpid(), int(d.Fd()), os.Getpid(), int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Errorf("kcmp says the duplicate is another open file")
	}
}
