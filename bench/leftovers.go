package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// removeLeftovers cleans up after earlier runs under parent whose
// benchmark process is gone (interrupted, killed): it kills the processes
// running binaries from their work directories, unmounts their mounts and
// removes the directories, saying so on w. Processes are picked by PID
// and executable path, never by name; a run still going is left alone.
func removeLeftovers(parent string, w io.Writer) {
	dirs, _ := filepath.Glob(filepath.Join(parent, workPrefix+"*"))
	for _, d := range dirs {
		if ownerAlive(d) {
			continue
		}
		for _, pid := range pidsWithExePrefix(d + "/") {
			fmt.Fprintf(w, "bench: killing process %d left by an earlier run\n", pid)
			_ = linux.Kill(pid, int(linux.SIGKILL))
		}
		for _, mnt := range mountsUnder(d + "/") {
			fmt.Fprintf(w, "bench: unmounting %s left by an earlier run\n", mnt)
			_ = linux.Unmount(mnt, true)
		}
		fmt.Fprintf(w, "bench: removing %s left by an earlier run\n", d)
		_ = os.RemoveAll(d)
	}
}

// ownerFile, in a work directory, holds "PID STARTTIME" of the benchmark
// process that made it.
const ownerFile = "owner"

func writeOwner(dir string) error {
	st, err := proc.ReadStat(os.Getpid())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d %d\n", st.Pid, st.StartTime), 0o644)
}

// ownerAlive reports whether the process that made work directory dir
// still runs (a directory without an owner file is taken as alive for an
// hour, in case its run is just starting).
func ownerAlive(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		fi, serr := os.Stat(dir)
		return serr == nil && time.Since(fi.ModTime()) < time.Hour
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(data), "%d %d", &pid, &start); err != nil {
		return false
	}
	st, err := proc.ReadStat(pid)
	// A zombie counts as dead: PID 1 reaps orphans late here.
	return err == nil && st.StartTime == start && st.State != 'Z' && st.State != 'X'

}

// pidsWithExePrefix lists the processes whose executable lies under prefix.
func pidsWithExePrefix(prefix string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasPrefix(exe, prefix) {
			out = append(out, pid)
		}
	}
	return out
}

// mountsUnder lists the mount points under prefix, deepest first.
func mountsUnder(prefix string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], prefix) {
			out = append([]string{fields[4]}, out...)
		}
	}
	return out
}
