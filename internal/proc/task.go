package proc

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ListTasks returns the thread ids of pid from /proc/PID/task, sorted.
func ListTasks(pid int) ([]int, error) {
	return listInts(pidDir(pid), "task")
}

// Children returns the union of /proc/PID/task/*/children, sorted: the
// processes whose parent is any thread of pid. A thread that exits while
// being read is skipped; the process itself vanishing is ErrNoProcess.
// The list is only stable while pid cannot fork or reap (frozen or stopped).
func Children(pid int) ([]int, error) {
	tids, err := ListTasks(pid)
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, tid := range tids {
		k, err := taskChildren(pid, tid)
		if errors.Is(err, ErrNoProcess) {
			continue
		}
		if err != nil {
			return nil, err
		}
		kids = append(kids, k...)
	}
	if _, err := os.Lstat(pidDir(pid)); err != nil {
		return nil, wrapRead(pidDir(pid), pidDir(pid), err)
	}
	slices.Sort(kids)
	return slices.Compact(kids), nil
}

// taskChildren parses /proc/PID/task/TID/children, "pid pid ... ".
func taskChildren(pid, tid int) ([]int, error) {
	dir := taskDir(pid, tid)
	b, err := readFile(dir, "children")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, w := range strings.Fields(string(b)) {
		k, err := strconv.Atoi(w)
		if err != nil {
			return nil, wrapRead(dir, dir+"/children", malformed("child pid", err))
		}
		kids = append(kids, k)
	}
	return kids, nil
}
