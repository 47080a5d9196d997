package stub

import (
	"bytes"
	"debug/elf"
	"testing"
)

// TestELFParses checks the hand-built executable with Go's ELF reader.
func TestELFParses(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(ELF()))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Fatalf("machine %v type %v", f.Machine, f.Type)
	}
	if len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_LOAD || f.Progs[0].Flags != elf.PF_R|elf.PF_X {
		t.Fatalf("program headers %+v", f.Progs)
	}
	if f.Entry != stubBase+stubCodeOff {
		t.Errorf("entry %#x", f.Entry)
	}
}

// TestStartRuns starts the stub and checks it stays alive in pause().
func TestStartRuns(t *testing.T) {
	cmd, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if cmd.ProcessState != nil {
		t.Fatalf("stub exited: %v", cmd.ProcessState)
	}
}
