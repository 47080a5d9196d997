package feature

import (
	"errors"
	"fmt"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

var (
	errWrongPid  = errors.New("injected getpid returned another pid")
	errNoVdso    = errors.New("no vdso mapping")
	errVdsoGone  = errors.New("no vdso after ARCH_MAP_VDSO_64")
	errMMMapSize = errors.New("kernel's struct prctl_mm_map differs from ours")
)

// vdsoAreas are the mappings ARCH_MAP_VDSO_64 recreates.
var vdsoAreas = map[string]bool{"[vdso]": true, "[vvar]": true, "[vvar_vclock]": true}

// probePtrace seizes a stub, injects getpid and lets the stub go.
func probePtrace() (string, error) {
	s, err := startStub(0)
	if err != nil {
		return "", err
	}
	defer s.stop()
	pid, err := s.task.Syscall("getpid", linux.SysGetpid)
	if err != nil {
		return "", err
	}
	if int(pid) != s.task.TID {
		return "", fmt.Errorf("%w: %d, want %d", errWrongPid, pid, s.task.TID)
	}
	if err := s.task.Restore(); err != nil {
		return "", err
	}
	if err := s.task.Detach(); err != nil {
		return "", err
	}
	return "seized a stub, injected getpid, detached", nil
}

// probeClone3 makes a seized stub clone a child with a chosen free pid,
// as the restorer does.
func probeClone3() (string, error) {
	s, err := startStub(linux.PtraceOTraceFork | linux.PtraceOTraceClone)
	if err != nil {
		return "", err
	}
	defer s.stop()
	pids, err := freePids(maxCloneTries)
	if err != nil {
		return "", err
	}
	var pid int
	for _, pid = range pids {
		_, err = s.withChild(pid, func(*inject.Task) error { return nil })
		if !errors.Is(err, linux.EEXIST) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("a stub cloned a child with pid %d", pid), nil
}

// probeMapVdso makes a seized stub clone a child, unmaps the child's vdso
// and vvar areas and maps them again elsewhere with ARCH_MAP_VDSO_64,
// as the restorer does; the child is then killed.
func probeMapVdso() (string, error) {
	s, err := startStub(linux.PtraceOTraceFork | linux.PtraceOTraceClone)
	if err != nil {
		return "", err
	}
	defer s.stop()
	var size uint64
	_, err = s.withChild(0, func(child *inject.Task) error {
		var err error
		size, err = remapVdso(child)
		return err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("remapped the vdso (%d bytes) of a stub's child", size), nil
}

// remapVdso unmaps the vdso areas of t and maps a new vdso where they
// started, returning the size of the vdso image.
func remapVdso(t *inject.Task) (uint64, error) {
	areas, err := vdsoMaps(t.TID)
	if err != nil {
		return 0, err
	}
	if len(areas) == 0 {
		return 0, errNoVdso
	}
	for _, m := range areas {
		if err := t.Munmap(linux.Addr(m.Start), m.Len()); err != nil {
			return 0, err
		}
	}
	size, err := t.Syscall("arch_prctl ARCH_MAP_VDSO_64", linux.SysArchPrctl, linux.ArchMapVdso64, areas[0].Start)
	if err != nil {
		return 0, err
	}
	after, err := vdsoMaps(t.TID)
	if err != nil {
		return 0, err
	}
	if len(after) == 0 {
		return 0, errVdsoGone
	}
	return size, nil
}

func vdsoMaps(pid int) ([]proc.Mapping, error) {
	maps, err := proc.ReadMaps(pid)
	if err != nil {
		return nil, err
	}
	var areas []proc.Mapping
	for _, m := range maps {
		if vdsoAreas[m.Path] {
			areas = append(areas, m)
		}
	}
	return areas, nil
}

// probePrSetMMMap asks the kernel for the size of struct prctl_mm_map,
// which works only with CONFIG_CHECKPOINT_RESTORE, and compares it with
// the restorer's.
func probePrSetMMMap() (string, error) {
	size, err := linux.PrctlMMMapSize()
	if err != nil {
		return "", err
	}
	ours := len(linux.StructBytes(&linux.PrctlMMMap{}))
	if int(size) != ours {
		return "", fmt.Errorf("%w: %d bytes, ours %d", errMMMapSize, size, ours)
	}
	return fmt.Sprintf("PR_SET_MM_MAP_SIZE is %d", size), nil
}
