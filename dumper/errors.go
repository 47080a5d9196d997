package dumper

import (
	"errors"
	"fmt"
)

// ErrNoProcess is returned when the pid to dump does not exist.
var ErrNoProcess = errors.New("no such process")

// UnsupportedError says what about the process this version cannot save.
type UnsupportedError struct {
	What   string // the object: "fd 3 (socket:[123])", "vma 7f00-7f10 /memfd:x"
	Reason string // why: "sockets are not supported yet"
}

func (e *UnsupportedError) Error() string {
	if e.What == "" {
		return e.Reason
	}
	return e.What + ": " + e.Reason
}

func unsupported(reason, whatFormat string, args ...any) error {
	return &UnsupportedError{What: fmt.Sprintf(whatFormat, args...), Reason: reason}
}
