package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/crlazy/crlazy/restorer"
)

// inheritFdSpec is criu's --inherit-fd argument: fd[N]:KEY.
var inheritFdSpec = regexp.MustCompile(`^fd\[(\d+)\]:(.+)$`)

// parseInheritFds turns the --inherit-fd arguments into descriptors of
// this process; a malformed one, or one naming a descriptor crlazy was
// not given, is a usage error.
func parseInheritFds(specs []string) ([]restorer.InheritFd, error) {
	var out []restorer.InheritFd
	for _, s := range specs {
		m := inheritFdSpec.FindStringSubmatch(s)
		if m == nil {
			return nil, fmt.Errorf("--inherit-fd %q: want fd[N]:KEY, KEY pipe:[INODE] or a file's path", s)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 1<<20 {
			return nil, fmt.Errorf("--inherit-fd %q: bad descriptor number", s)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/self/fd/%d", n)); err != nil {
			return nil, fmt.Errorf("--inherit-fd %q: crlazy has no descriptor %d (give it one: %d<...)", s, n, n)
		}
		out = append(out, restorer.InheritFd{Fd: n, Key: m[2], File: os.NewFile(uintptr(n), "inherit-fd "+m[0])})
	}
	return out, nil
}

// daemonInheritArgs rewrites the command line for the background crlazy
// of a detached lazy restore, which gets the inherited descriptors as
// extra files from descriptor first on: each --inherit-fd names its new
// number.
func daemonInheritArgs(args []string, inh []restorer.InheritFd, first int) ([]string, []*os.File) {
	if len(inh) == 0 {
		return args, nil
	}
	out := make([]string, 0, len(args))
	skip := false
	for i, a := range args {
		switch {
		case skip:
			skip = false
		case a == "--inherit-fd" && i+1 < len(args):
			skip = true
		case strings.HasPrefix(a, "--inherit-fd="):
		default:
			out = append(out, a)
		}
	}
	files := make([]*os.File, len(inh))
	for i, in := range inh {
		files[i] = in.File
		out = append(out, "--inherit-fd", fmt.Sprintf("fd[%d]:%s", first+i, in.Key))
	}
	return out, files
}
