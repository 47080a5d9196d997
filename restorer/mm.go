package restorer

import (
	"encoding/binary"
	"fmt"

	"github.com/crlazy/crlazy/internal/linux"
)

// maxAuxvWords bounds the saved auxiliary vector (the kernel keeps
// AT_VECTOR_SIZE = 2*(2+20+AT_VECTOR_SIZE_ARCH) words).
const maxAuxvWords = 2 * (2 + 20 + 3)

// restoreMM sets the mm fields /proc/PID/stat shows (code, data, brk,
// stack, args, environment), the saved auxv and the exe link in one
// prctl(PR_SET_MM, PR_SET_MM_MAP).
func (rs *restorer) restoreMM() error {
	m := rs.img.mm
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	auxv := m.GetMmSavedAuxv()
	if len(auxv) > maxAuxvWords {
		return badImage("saved auxv has %d words, at most %d", len(auxv), maxAuxvWords)
	}
	raw := make([]byte, 8*len(auxv))
	for i, w := range auxv {
		binary.LittleEndian.PutUint64(raw[8*i:], w)
	}
	auxvAddr := linux.Addr(0)
	if len(raw) > 0 {
		var err error
		if auxvAddr, err = t.PutArg(raw); err != nil {
			return err
		}
	}
	exeFd, err := rs.openExe()
	if err != nil {
		return fmt.Errorf("open exe: %w", err)
	}
	defer t.Close(exeFd)
	mm := linux.PrctlMMMap{
		StartCode: m.GetMmStartCode(), EndCode: m.GetMmEndCode(),
		StartData: m.GetMmStartData(), EndData: m.GetMmEndData(),
		StartBrk: m.GetMmStartBrk(), Brk: m.GetMmBrk(), StartStack: m.GetMmStartStack(),
		ArgStart: m.GetMmArgStart(), ArgEnd: m.GetMmArgEnd(),
		EnvStart: m.GetMmEnvStart(), EnvEnd: m.GetMmEnvEnd(),
		Auxv: uint64(auxvAddr), AuxvSize: uint32(len(raw)), ExeFd: uint32(exeFd),
	}
	b := linux.StructBytes(&mm)
	a, err := t.PutArg(b)
	if err != nil {
		return err
	}
	if _, err := t.Syscall("prctl PR_SET_MM_MAP", linux.SysPrctl, linux.PrSetMM, linux.PrSetMMMap, uint64(a), uint64(len(b)), 0); err != nil {
		return err
	}
	return nil
}

// openExe opens the process's executable in the leader, read-only: by
// its path, or, if it had been deleted, the ghost file made again.
func (rs *restorer) openExe() (int, error) {
	t, id := rs.leader(), rs.img.mm.GetExeFileId()
	if mem := rs.files.mem; mem.remapped(id) {
		g := mem.ghosts[mem.remaps[id]]
		if !g.readOnly {
			// The kernel refuses as an executable a file open for
			// writing anywhere (ETXTBSY, reported as EACCES): from
			// here on crlazy's own description of it is read-only.
			ro, err := linux.Reopen(g.f, linux.ORdonly)
			if err != nil {
				return -1, err
			}
			g.f.Close()
			g.f, g.readOnly = ro, true
		}
		f, err := mem.view(g, g.f, linux.ORdonly)
		if err != nil {
			return -1, err
		}
		return newMapFds().install(t, f)
	}
	return t.Open(rs.img.files[id].GetReg().GetName(), linux.ORdonly|linux.OCloexec, 0)
}
