// Package stub builds and starts crlazy's stub process: a tiny static
// executable that announces itself and then sleeps in pause() forever. A
// restore turns a clone of it into the restored process by injection; the
// feature probes of `crlazy check` use it as a harmless ptrace target.
package stub

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/crlazy/crlazy/internal/linux"
)

// The stub is a minimal static x86_64 ELF: one read+execute PT_LOAD
// segment holding
//
//	mov $1,%eax; mov $1,%edi; lea msg(%rip),%rsi; mov $1,%edx; syscall
//	loop: mov $34,%eax; syscall; jmp loop      # pause() forever
//	msg: 'r'
//
// It writes one byte to stdout (so that we know it runs) and waits. A
// restored process starts as a clone of it and is then rebuilt by
// injection; nothing of the stub survives.
const (
	stubBase    = 0x10000
	elfHdrSize  = 64
	progHdrSize = 56
	stubCodeOff = elfHdrSize + progHdrSize
)

var stubCode = []byte{
	0xb8, 0x01, 0x00, 0x00, 0x00, // mov $1,%eax (write)
	0xbf, 0x01, 0x00, 0x00, 0x00, // mov $1,%edi
	0x48, 0x8d, 0x35, 0x10, 0x00, 0x00, 0x00, // lea 0x10(%rip),%rsi
	0xba, 0x01, 0x00, 0x00, 0x00, // mov $1,%edx
	0x0f, 0x05, // syscall
	0xb8, 0x22, 0x00, 0x00, 0x00, // loop: mov $34,%eax (pause)
	0x0f, 0x05, // syscall
	0xeb, 0xf7, // jmp loop
	'r',
}

// ELF returns the stub executable.
func ELF() []byte {
	size := stubCodeOff + len(stubCode)
	b := make([]byte, size)
	le := binary.LittleEndian
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(b[16:], 2)  // e_type ET_EXEC
	le.PutUint16(b[18:], 62) // e_machine EM_X86_64
	le.PutUint32(b[20:], 1)  // e_version
	le.PutUint64(b[24:], stubBase+stubCodeOff)
	le.PutUint64(b[32:], elfHdrSize) // e_phoff
	le.PutUint16(b[52:], elfHdrSize)
	le.PutUint16(b[54:], progHdrSize)
	le.PutUint16(b[56:], 1) // e_phnum
	ph := b[elfHdrSize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[16:], stubBase)
	le.PutUint64(ph[24:], stubBase)
	le.PutUint64(ph[32:], uint64(size))
	le.PutUint64(ph[40:], uint64(size))
	le.PutUint64(ph[48:], linux.PageSize)
	copy(b[stubCodeOff:], stubCode)
	return b
}

// Start execs the stub from a memfd and returns once it runs (it has
// written its byte). The caller owns the process: kill and wait for it.
func Start() (*exec.Cmd, error) {
	mfd, err := linux.MemfdCreate("crlazy-stub", true)
	if err != nil {
		return nil, err
	}
	defer mfd.Close()
	if _, err := mfd.Write(ELF()); err != nil {
		return nil, fmt.Errorf("write stub: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command("/proc/self/fd/3")
	cmd.ExtraFiles = []*os.File{mfd}
	cmd.Stdout = pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("start stub: %w", err)
	}
	var one [1]byte
	if _, err := io.ReadFull(pr, one[:]); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("stub did not start: %w", err)
	}
	return cmd, nil
}
