package inject

import (
	"errors"
	"runtime"
	"sync"

	"github.com/crlazy/crlazy/internal/linux"
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

	// pinned and cpu belong to the tracer thread (see Task.Pin).
	pinned bool
	cpu    int
	tid    int // the tracer thread's id, set before the loop runs
}

// NewTracer starts the tracer thread.
func NewTracer() *Tracer {
	tr := &Tracer{calls: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	started := make(chan struct{})
	go tr.loop(started)
	<-started
	return tr
}

func (tr *Tracer) loop(started chan<- struct{}) {
	runtime.LockOSThread()
	tr.tid = linux.Gettid()
	close(started)
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

// do runs f on the tracer thread and waits for it. Called from the tracer
// thread itself (inside Run), it just calls f.
func (tr *Tracer) do(f func() error) error {
	if linux.Gettid() == tr.tid {
		return f()
	}
	errc := make(chan error, 1)
	select {
	case tr.calls <- func() { errc <- f() }:
	case <-tr.done:
		return ErrTracerClosed
	}
	return <-errc
}

// Run runs fn on the tracer thread: every ptrace request fn makes
// (through Task methods) is then issued directly, without a hand-over
// between threads, and with a pinned Task the tracer and the task share
// one CPU. fn must not wait for goroutines that use this Tracer.
func (tr *Tracer) Run(fn func() error) error {
	return tr.do(fn)
}

// Close stops the tracer thread. Tasks still attached are released by the
// kernel (killed if seized with PTRACE_O_EXITKILL).
func (tr *Tracer) Close() {
	tr.once.Do(func() { close(tr.quit) })
	<-tr.done
}
