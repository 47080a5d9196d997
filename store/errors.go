package store

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// Errors of this package. Callers test them with errors.Is.
var (
	// ErrStoreExists: Create was given a directory that already holds a
	// store (or stray badger files).
	ErrStoreExists = errors.New("directory already holds a crlazy store")
	// ErrCRIUImages: the directory holds CRIU image files (*.img).
	ErrCRIUImages = errors.New("this is a CRIU image directory, not a crlazy store")
	// ErrNotStore: the directory is not a badger database of crlazy.
	ErrNotStore = errors.New("not a crlazy store")
	// ErrIncomplete: the store's header says the dump did not finish.
	ErrIncomplete = errors.New("dump did not complete")
	// ErrLocked: another process has the store open for writing.
	ErrLocked = errors.New("store is open for writing by another process (dump in progress?)")
	// ErrCorrupt is matched by every *CorruptError.
	ErrCorrupt = errors.New("store is corrupt")
	// ErrNotFound: no record under the key asked for.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a Writer was asked to write the same key twice.
	ErrDuplicate = errors.New("key written twice")
	// ErrBadChunk: PutChunk was given a chunk that cannot be stored.
	ErrBadChunk = errors.New("bad chunk")
	// ErrClosed: the Writer or Reader was already committed, aborted or
	// closed.
	ErrClosed = errors.New("store closed")
)

// CorruptError reports damaged or unreadable store files: a badger error
// on open or read, a checksum mismatch, a missing or extra key, a value
// of impossible size, or a panic inside badger. It matches ErrCorrupt.
type CorruptError struct {
	What string // what was being read, or what is wrong
	Err  error  // the underlying error, if any
}

func (e *CorruptError) Error() string {
	if e.Err == nil {
		return "store is corrupt or unreadable: " + e.What
	}
	// badger's messages may span lines (errors.Join); keep ours on one.
	return "store is corrupt or unreadable: " + e.What + ": " + strings.ReplaceAll(e.Err.Error(), "\n", "; ")
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }

func corrupt(err error, format string, args ...any) error {
	return &CorruptError{What: fmt.Sprintf(format, args...), Err: err}
}

// callerPanic carries a panic raised by a caller's callback through our
// recover, so that it is re-raised rather than turned into an error.
type callerPanic struct{ v any }

// faultAddr is implemented by the runtime error of a memory fault (for
// example SIGBUS on a store file truncated under a mapping).
type faultAddr interface{ Addr() uintptr }

// guard is deferred by every exported function that calls into badger.
// It turns a panic inside badger (corrupt input that badger does not
// check) and a memory fault on a mapped store file into a *CorruptError
// in *errp, and re-raises panics of caller callbacks. It also makes
// memory faults recoverable for the duration of the call. poison, if
// not nil, is told about the error: badger may have been left holding
// locks. Call it as
//
//	defer guard(&err, "what", poison)()
func guard(errp *error, what string, poison func(error)) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		p := recover()
		if p == nil {
			return
		}
		if cp, ok := p.(callerPanic); ok {
			panic(cp.v)
		}
		*errp = corrupt(panicError(p), "%s", what)
		if poison != nil {
			poison(*errp)
		}
	}
}

// panicError turns a recovered panic value into a one-line error.
func panicError(p any) error {
	return fmt.Errorf("panic: %s", strings.Join(strings.Fields(fmt.Sprint(p)), " "))
}

// callUser runs a caller's callback. A panic in it is wrapped so that
// guard re-raises it, except a memory fault, which is the store's fault
// (a data slice points into a mapped store file) and becomes an error.
func callUser(fn func() error) error {
	done := false
	defer func() {
		if done {
			return
		}
		if p := recover(); p != nil {
			if _, ok := p.(faultAddr); ok {
				panic(p)
			}
			panic(callerPanic{p})
		}
	}()
	err := fn()
	done = true
	return err
}
