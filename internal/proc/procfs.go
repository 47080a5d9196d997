package proc

import (
	"bufio"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Root is the procfs mount point every path is built from.
const Root = "/proc"

// maxLine bounds one line of a /proc text file. The longest legitimate lines
// are "Groups:" in status (NGROUPS_MAX = 65536 ids) and a maps line whose
// PATH_MAX path has every byte escaped; both fit well below 1 MiB.
const maxLine = 1 << 20

// pidDir returns "/proc/<pid>".
func pidDir(pid int) string {
	return Root + "/" + strconv.Itoa(pid)
}

// taskDir returns "/proc/<pid>/task/<tid>".
func taskDir(pid, tid int) string {
	return pidDir(pid) + "/task/" + strconv.Itoa(tid)
}

// readParsed opens dir/name and hands it to parse, wrapping every error
// (open, read, parse) as "read <path>: ...".
func readParsed[T any](dir, name string, parse func(io.Reader) (T, error)) (T, error) {
	path := dir + "/" + name
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, wrapRead(dir, path, err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return v, wrapRead(dir, path, err)
	}
	return v, nil
}

// readFile reads dir/name whole, wrapping errors like readParsed.
func readFile(dir, name string) ([]byte, error) {
	path := dir + "/" + name
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, wrapRead(dir, path, err)
	}
	return b, nil
}

// readLink reads the symlink dir/name, wrapping errors like readParsed.
func readLink(dir, name string) (string, error) {
	path := dir + "/" + name
	s, err := os.Readlink(path)
	if err != nil {
		return "", wrapRead(dir, path, err)
	}
	return s, nil
}

// newScanner returns a line scanner limited to maxLine bytes per line.
func newScanner(r io.Reader) *bufio.Scanner {
	s := bufio.NewScanner(r)
	s.Buffer(nil, maxLine)
	return s
}

// forEachLine calls fn with every line of r and its 1-based number; an
// error from fn or from reading is returned prefixed with the line number.
func forEachLine(r io.Reader, fn func(line string) error) error {
	s := newScanner(r)
	n := 0
	for s.Scan() {
		n++
		if err := fn(s.Text()); err != nil {
			return lineErr(n, err)
		}
	}
	if err := s.Err(); errors.Is(err, bufio.ErrTooLong) {
		return lineErr(n+1, malformed("line longer than "+strconv.Itoa(maxLine)+" bytes", err))
	} else if err != nil {
		return lineErr(n+1, err)
	}
	return nil
}

// cutField splits s at the first ':' into a key and a value with
// surrounding blanks trimmed ("VmFlags: rd wr " -> "VmFlags", "rd wr").
func cutField(s string) (key, val string, ok bool) {
	key, val, ok = strings.Cut(s, ":")
	return key, strings.Trim(val, " \t"), ok
}

// listInts reads the directory path and returns its entries that are
// decimal numbers, sorted ascending.
func listInts(dir, name string) ([]int, error) {
	path := dir + "/" + name
	f, err := os.Open(path)
	if err != nil {
		return nil, wrapRead(dir, path, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, wrapRead(dir, path, err)
	}
	return sortedInts(names), nil
}

// sortedInts returns the decimal numbers among names, sorted and without
// duplicates; other names are skipped.
func sortedInts(names []string) []int {
	out := make([]int, 0, len(names))
	for _, n := range names {
		if v, err := strconv.Atoi(n); err == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
