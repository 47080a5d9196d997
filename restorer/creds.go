package restorer

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/creds"
	"github.com/crlazy/crlazy/internal/linux"
)

// capLastCapPath says how many capabilities this kernel knows.
const capLastCapPath = "/proc/sys/kernel/cap_last_cap"

// restoreCreds sets securebits, the bounding set, groups, ids, the
// capability sets, ambient capabilities and no_new_privs. It runs last
// among the injected steps, because it takes away the root privilege the
// others need. The order is the kernel's: securebits and the bounding set
// need CAP_SETPCAP, so they go first; KEEPCAPS keeps the permitted set
// through setresuid; capset then sets exactly the image's sets; ambient
// capabilities need them in permitted and inheritable.
func (tt *threadRestore) restoreCreds() error {
	c := tt.core.GetThreadCore().GetCreds()
	if c == nil {
		return nil
	}
	t := tt.task
	defer t.ReleaseArgs(t.ArgMark())
	steps := []func(*creds.CredsEntry) error{
		tt.restoreSecurebits, tt.restoreBounding, tt.restoreIDs, tt.restoreCaps, tt.restoreAmbient,
	}
	for _, step := range steps {
		if err := step(c); err != nil {
			return err
		}
	}
	keep := uint64(0)
	if c.GetSecbits()&linux.SecbitKeepCaps != 0 {
		keep = 1
	}
	if _, err := t.Syscall("PR_SET_KEEPCAPS", linux.SysPrctl, linux.PrSetKeepcaps, keep, 0, 0, 0); err != nil {
		return err
	}
	if c.GetNoNewPrivs() != 0 {
		_, err := t.Syscall("PR_SET_NO_NEW_PRIVS", linux.SysPrctl, linux.PrSetNoNewPrivs, 1, 0, 0, 0)
		return err
	}
	return nil
}

func (tt *threadRestore) restoreSecurebits(c *creds.CredsEntry) error {
	cur, err := tt.task.Syscall("PR_GET_SECUREBITS", linux.SysPrctl, linux.PrGetSecurebits, 0, 0, 0, 0)
	if err != nil || uint32(cur) == c.GetSecbits() {
		return err
	}
	_, err = tt.task.Syscall("PR_SET_SECUREBITS", linux.SysPrctl, linux.PrSetSecurebits, uint64(c.GetSecbits()), 0, 0, 0)
	return err
}

// restoreBounding drops from the bounding set what the image lacks.
func (tt *threadRestore) restoreBounding(c *creds.CredsEntry) error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	bnd := caps64(c.GetCapBnd())
	for capNo := 0; capNo <= last; capNo++ {
		if bnd&(1<<capNo) != 0 {
			continue
		}
		if _, err := tt.task.Syscall("PR_CAPBSET_DROP", linux.SysPrctl, linux.PrCapbsetDrop, uint64(capNo), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", capNo, err)
		}
	}
	return nil
}

func (tt *threadRestore) restoreIDs(c *creds.CredsEntry) error {
	t := tt.task
	groups := make([]byte, 4*len(c.GetGroups()))
	for i, g := range c.GetGroups() {
		binary.LittleEndian.PutUint32(groups[4*i:], g)
	}
	ga := linux.Addr(0)
	if len(groups) > 0 {
		var err error
		if ga, err = t.PutArg(groups); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		nr   int
		args []uint64
	}{
		{"PR_SET_KEEPCAPS", linux.SysPrctl, []uint64{linux.PrSetKeepcaps, 1, 0, 0, 0}},
		{"setgroups", linux.SysSetgroups, []uint64{uint64(len(c.GetGroups())), uint64(ga)}},
		{"setresgid", linux.SysSetresgid, []uint64{uint64(c.GetGid()), uint64(c.GetEgid()), uint64(c.GetSgid())}},
		{"setfsgid", linux.SysSetfsgid, []uint64{uint64(c.GetFsgid())}},
		{"setresuid", linux.SysSetresuid, []uint64{uint64(c.GetUid()), uint64(c.GetEuid()), uint64(c.GetSuid())}},
		{"setfsuid", linux.SysSetfsuid, []uint64{uint64(c.GetFsuid())}},
	}
	for _, s := range steps {
		if _, err := t.Syscall(s.name, s.nr, s.args...); err != nil {
			return err
		}
	}
	return nil
}

// restoreCaps sets the effective, permitted and inheritable sets.
func (tt *threadRestore) restoreCaps(c *creds.CredsEntry) error {
	t := tt.task
	hdr := linux.CapUserHeader{Version: linux.CapVersion3}
	eff, prm, inh := caps64(c.GetCapEff()), caps64(c.GetCapPrm()), caps64(c.GetCapInh())
	data := [2]linux.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(prm), Inheritable: uint32(inh)},
		{Effective: uint32(eff >> 32), Permitted: uint32(prm >> 32), Inheritable: uint32(inh >> 32)},
	}
	ha, err := t.PutArg(linux.StructBytes(&hdr))
	if err != nil {
		return err
	}
	da, err := t.PutArg(linux.StructBytes(&data))
	if err != nil {
		return err
	}
	_, err = t.Syscall("capset", linux.SysCapset, uint64(ha), uint64(da))
	return err
}

func (tt *threadRestore) restoreAmbient(c *creds.CredsEntry) error {
	amb := caps64(c.GetCapAmb())
	for capNo := 0; capNo < 64; capNo++ {
		if amb&(1<<capNo) == 0 {
			continue
		}
		if _, err := tt.task.Syscall("PR_CAP_AMBIENT_RAISE", linux.SysPrctl, linux.PrCapAmbient,
			linux.PrCapAmbientRaise, uint64(capNo), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", capNo, err)
		}
	}
	return nil
}

// caps64 joins the two 32-bit words of an image capability set.
func caps64(w []uint32) uint64 {
	var v uint64
	for i, x := range w {
		if i < 2 {
			v |= uint64(x) << (32 * i)
		}
	}
	return v
}

func lastCap() (int, error) {
	b, err := os.ReadFile(capLastCapPath)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", capLastCapPath, err)
	}
	return n, nil
}
