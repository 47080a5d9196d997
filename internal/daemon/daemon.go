// Package daemon runs the rest of a command in the background: the
// command re-executes itself as a daemon (a process group of its own,
// stdio on /dev/null) that reports one line on a status pipe once it is ready;
// the foreground process waits for that line and exits.
//
// crlazy restore -d --lazy-pages uses it: the daemon restores the process
// (so it is its tracer and holds its userfaultfd) and serves its pages
// after the foreground has returned.
package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// envVar marks the daemon's environment; statusFd is its status pipe.
const (
	envVar   = "CRLAZY_DAEMON_STATUS_FD"
	statusFd = 3
	okPrefix = "ok "
)

// ErrNoReport is returned when the daemon exits without reporting.
var ErrNoReport = errors.New("daemon exited without reporting")

// IsDaemon reports whether this process is a daemon started by Spawn.
func IsDaemon() bool { return os.Getenv(envVar) != "" }

// ExtraFd is the descriptor of the daemon that gets Spawn's first extra
// file; the others follow.
const ExtraFd = statusFd + 1

// Spawn starts this program again with args as a daemon and waits for its
// report: the text after "ok " on success, an error with its message
// otherwise. The daemon also gets extra, from descriptor ExtraFd on.
func Spawn(args []string, extra ...*os.File) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer pr.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", envVar, statusFd))
	cmd.ExtraFiles = append([]*os.File{pw}, extra...)
	// A process group of its own, but the caller's session: a restored
	// process whose session was the caller's (a service started from a
	// shell) stays in it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return "", fmt.Errorf("start daemon: %w", err)
	}
	// The daemon outlives us; it is not ours to wait for.
	_ = cmd.Process.Release()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil && line == "" {
		return "", ErrNoReport
	}
	line = strings.TrimSuffix(line, "\n")
	if rest, ok := strings.CutPrefix(line, okPrefix); ok {
		return rest, nil
	}
	return "", errors.New(line)
}

// Report sends the daemon's one status line to the process that spawned
// it: ok with a message, or the error. Later calls do nothing.
func Report(msg string, err error) {
	f := os.NewFile(statusFd, "daemon-status")
	if f == nil || !IsDaemon() {
		return
	}
	os.Unsetenv(envVar)
	if err != nil {
		fmt.Fprintln(f, strings.ReplaceAll(err.Error(), "\n", " "))
	} else {
		fmt.Fprintln(f, okPrefix+msg)
	}
	f.Close()
}
