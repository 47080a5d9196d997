package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ErrNoProcess reports that the process or thread whose /proc file was read
// does not exist (any more). It matches fs.ErrNotExist as well, so
// errors.Is(err, fs.ErrNotExist) holds for a missing process too; only
// errors.Is(err, ErrNoProcess) tells it apart from a missing file of a live
// process (a closed fd, a kernel without the file).
var ErrNoProcess error = noProcessError{}

type noProcessError struct{}

func (noProcessError) Error() string { return "process does not exist" }

// Is makes ErrNoProcess match fs.ErrNotExist.
func (noProcessError) Is(target error) bool { return target == fs.ErrNotExist }

// ErrMalformed is wrapped by every parser error: the text did not have the
// format this package expects.
var ErrMalformed = errors.New("malformed")

// malformed returns an error wrapping ErrMalformed and, when non-nil, cause.
func malformed(what string, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, cause)
}

// lineErr prefixes err with a 1-based line number.
func lineErr(n int, err error) error {
	return fmt.Errorf("line %d: %w", n, err)
}

// wrapRead wraps err from reading path, a file under the process directory
// dir ("/proc/42" or "/proc/42/task/43"), as "read <path>: ...". The
// *fs.PathError layer is dropped because the path is already in the message.
// ESRCH (the task was reaped while its file was open) and ENOENT with dir
// gone both become ErrNoProcess. An empty dir skips that check.
func wrapRead(dir, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if processGone(dir, err) {
		return fmt.Errorf("read %s: %w: %w", path, ErrNoProcess, err)
	}
	return fmt.Errorf("read %s: %w", path, err)
}

func processGone(dir string, err error) bool {
	if dir == "" {
		return false
	}
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	_, serr := os.Lstat(dir)
	return errors.Is(serr, fs.ErrNotExist)
}
