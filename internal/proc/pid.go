package proc

import (
	"os"
	"strconv"
	"strings"
)

// ReadComm reads /proc/PID/comm. Only the trailing newline the kernel adds
// is removed: a comm may itself end in blanks.
func ReadComm(pid int) (string, error) {
	b, err := readFile(pidDir(pid), "comm")
	return strings.TrimSuffix(string(b), "\n"), err
}

// ReadLink reads the symlink /proc/PID/<name>, e.g. "exe", "cwd", "root"
// or "ns/net". The target of a deleted exe ends in " (deleted)".
func ReadLink(pid int, name string) (string, error) {
	return readLink(pidDir(pid), name)
}

// ReadMapFile reads /proc/PID/map_files/<start>-<end>, the exact path of a
// file mapping (Mapping.Path is ambiguous for names with newlines). It
// needs CAP_SYS_ADMIN in the target's user namespace.
func ReadMapFile(pid int, m Mapping) (string, error) {
	name := "map_files/" + strconv.FormatUint(m.Start, 16) + "-" + strconv.FormatUint(m.End, 16)
	return readLink(pidDir(pid), name)
}

// ReadPersonality reads /proc/PID/personality, a hex number such as
// "00000000" (PER_LINUX) or "00400000" (ADDR_NO_RANDOMIZE).
func ReadPersonality(pid int) (uint32, error) {
	dir := pidDir(pid)
	b, err := readFile(dir, "personality")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 16, 32)
	if err != nil {
		return 0, wrapRead(dir, dir+"/personality", malformed("personality", err))
	}
	return uint32(v), nil
}

// ReadIntFile reads a file holding one decimal integer and a newline, such
// as /proc/sys/kernel/pid_max. It is not tied to a process, so a missing
// file is never ErrNoProcess.
func ReadIntFile(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, wrapRead("", path, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, wrapRead("", path, malformed("integer", err))
	}
	return v, nil
}
