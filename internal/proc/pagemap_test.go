package proc

import (
	"errors"
	"io"
	"os"
	"testing"
)

func TestPagemapEntryBits(t *testing.T) {
	e := PagemapEntry(1<<63 | 1<<61 | 1<<56 | 0x3b34)
	if !e.Present() || e.Swapped() || !e.File() || !e.Exclusive() || e.SoftDirty() || e.UffdWP() || e.Guard() || e.PFN() != 0x3b34 {
		t.Errorf("present entry %#x decoded wrong", uint64(e))
	}
	// Swapped page seen on 6.18: type 0, offset 1.
	s := PagemapEntry(1<<62 | 1<<57 | 1<<55 | 1<<5)
	if s.Present() || !s.Swapped() || !s.UffdWP() || !s.SoftDirty() || s.SwapType() != 0 || s.SwapOffset() != 1 {
		t.Errorf("swap entry %#x decoded wrong", uint64(s))
	}
	if g := PagemapEntry(1 << 58); !g.Guard() || g.Present() {
		t.Error("guard bit")
	}
	if all := PagemapEntry(^uint64(0)); all.PFN() != 1<<55-1 || all.SwapType() != 31 || all.SwapOffset() != 1<<50-1 {
		t.Errorf("masks: pfn %#x type %d offset %#x", all.PFN(), all.SwapType(), all.SwapOffset())
	}
}

func TestPagemapArgs(t *testing.T) {
	p, err := OpenPagemap(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Read(0x1001, make([]PagemapEntry, 1)); !errors.Is(err, ErrUnaligned) {
		t.Errorf("unaligned: %v", err)
	}
	if err := p.Read(^uint64(0)-PageSize+1, make([]PagemapEntry, 2)); !errors.Is(err, ErrRange) {
		t.Errorf("overflow: %v", err)
	}
	if err := p.Read(0x1000, nil); err != nil {
		t.Errorf("empty read: %v", err)
	}
	// [vsyscall] is above TASK_SIZE and has no pagemap entries.
	err = p.Read(0xffffffffff600000, make([]PagemapEntry, 1))
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrNoProcess) {
		t.Errorf("vsyscall: %v", err)
	}
}

func TestPagemapExitedProcess(t *testing.T) {
	cmd := startCat(t)
	p, err := OpenPagemap(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ms, err := ReadMaps(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var top uint64 // the top of the stack holds argv and is always present
	for _, m := range ms {
		if m.Path == "[stack]" {
			top = m.End - PageSize
		}
	}
	e := make([]PagemapEntry, 1)
	if err := p.Read(top, e); err != nil || !e[0].Present() {
		t.Fatalf("stack top of cat at %#x: %#x, %v", top, uint64(e[0]), err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	err = p.Read(top, e)
	if !errors.Is(err, ErrNoProcess) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("after exit: %v", err)
	}
}
