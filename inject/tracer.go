package inject

import (
	"errors"
	"runtime"
	"sync"
)

// ErrTracerClosed is returned by calls on a closed Tracer.
var ErrTracerClosed = errors.New("tracer is closed")

// Tracer runs every ptrace request on one locked OS thread. A Tracer must
// stay open while any task it seized is attached: when the thread exits
// the kernel detaches (or, with PTRACE_O_EXITKILL, kills) its tracees.
//
// Methods are safe for concurrent use; requests are serialized.
type Tracer struct {
	calls chan func()
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// NewTracer starts the tracer thread.
func NewTracer() *Tracer {
	tr := &Tracer{calls: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	go tr.loop()
	return tr
}

func (tr *Tracer) loop() {
	runtime.LockOSThread()
	// The thread is never unlocked: it exits with this goroutine, taking
	// any leftover ptrace links with it.
	defer close(tr.done)
	for {
		select {
		case f := <-tr.calls:
			f()
		case <-tr.quit:
			return
		}
	}
}

// do runs f on the tracer thread and waits for it.
func (tr *Tracer) do(f func() error) error {
	errc := make(chan error, 1)
	select {
	case tr.calls <- func() { errc <- f() }:
	case <-tr.done:
		return ErrTracerClosed
	}
	return <-errc
}

// Close stops the tracer thread. Tasks still attached are released by the
// kernel (killed if seized with PTRACE_O_EXITKILL).
func (tr *Tracer) Close() {
	tr.once.Do(func() { close(tr.quit) })
	<-tr.done
}
