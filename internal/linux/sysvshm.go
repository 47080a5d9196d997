package linux

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// System V shared memory: what crlazy needs to save a segment's contents
// and to make it again with the same id.
const (
	SysShmat  = unix.SYS_SHMAT
	ShmRdonly = unix.SHM_RDONLY
	ShmExec   = 0o100000 // SHM_EXEC
	ShmDest   = 0o1000   // SHM_DEST in the mode: removed, gone at the last detach
)

// shmNextID is the sysctl that chooses the id of the next segment.
const shmNextID = "/proc/sys/kernel/shm_next_id"

// ShmAttach maps segment id into crlazy (read-only or not) and returns
// its bytes; ShmDetach unmaps them.
func ShmAttach(id int, readOnly bool) ([]byte, error) {
	flag := 0
	if readOnly {
		flag = unix.SHM_RDONLY
	}
	b, err := unix.SysvShmAttach(id, 0, flag)
	return b, os.NewSyscallError(fmt.Sprintf("shmat %d", id), err)
}

// ShmDetach unmaps a segment ShmAttach mapped.
func ShmDetach(b []byte) error {
	return os.NewSyscallError("shmdt", unix.SysvShmDetach(b))
}

// ShmInfo is what IPC_STAT says of a segment.
type ShmInfo struct {
	Key                  uint32
	Mode                 uint32
	Size                 uint64
	UID, GID, CUID, CGID uint32
	Nattch               uint64
}

// ShmStat returns the state of segment id; ENOENT/EINVAL if there is none.
func ShmStat(id int) (ShmInfo, error) {
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return ShmInfo{}, os.NewSyscallError(fmt.Sprintf("shmctl %d IPC_STAT", id), err)
	}
	return ShmInfo{Key: uint32(ds.Perm.Key), Mode: uint32(ds.Perm.Mode), Size: ds.Segsz,
		UID: ds.Perm.Uid, GID: ds.Perm.Gid, CUID: ds.Perm.Cuid, CGID: ds.Perm.Cgid, Nattch: ds.Nattch}, nil
}

// ShmCreateWithID makes a segment with the given id, key, size and mode
// (shm_next_id, then shmget with IPC_EXCL), then gives it its owner.
func ShmCreateWithID(id int, key uint32, size uint64, mode, uid, gid uint32) error {
	if err := os.WriteFile(shmNextID, []byte(strconv.Itoa(id)), 0); err != nil {
		return err
	}
	got, err := unix.SysvShmGet(int(int32(key)), int(size), unix.IPC_CREAT|unix.IPC_EXCL|int(mode&0o777))
	_ = os.WriteFile(shmNextID, []byte("-1"), 0)
	if err != nil {
		return os.NewSyscallError(fmt.Sprintf("shmget key %#x", key), err)
	}
	if got != id {
		_, _ = unix.SysvShmCtl(got, unix.IPC_RMID, nil)
		return fmt.Errorf("shmget gave id %d, not %d (is shm_next_id honoured here?)", got, id)
	}
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return os.NewSyscallError("shmctl IPC_STAT", err)
	}
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = uid, gid, mode&0o777
	if _, err := unix.SysvShmCtl(id, unix.IPC_SET, &ds); err != nil {
		return os.NewSyscallError("shmctl IPC_SET", err)
	}
	return nil
}

// ShmRemove marks segment id removed (IPC_RMID).
func ShmRemove(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return os.NewSyscallError("shmctl IPC_RMID", err)
}
