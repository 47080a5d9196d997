package proc

import (
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// TestPagemapSelf maps untouched anonymous memory spanning more than one
// read chunk, touches a few pages and checks exactly those are present.
func TestPagemapSelf(t *testing.T) {
	const pages = pagemapChunk + 808
	mem, err := syscall.Mmap(-1, 0, pages*PageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	touched := map[int]bool{0: true, pagemapChunk - 1: true, pagemapChunk: true, pages - 1: true}
	for i := range touched {
		mem[i*PageSize] = 1
	}
	p, err := OpenPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	entries := make([]PagemapEntry, pages)
	if err := p.Read(uint64(uintptr(unsafe.Pointer(&mem[0]))), entries); err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Present() != touched[i] {
			t.Errorf("page %d: present %v, want %v (%#x)", i, e.Present(), touched[i], uint64(e))
		}
		if touched[i] && (!e.Exclusive() || e.File()) {
			t.Errorf("page %d: private anonymous page %#x not exclusive or marked file", i, uint64(e))
		}
	}
}
