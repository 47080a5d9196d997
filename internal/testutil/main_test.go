package testutil

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// fakeTB records what a helper reports instead of failing the real test, so
// that failure paths can be tested. Fatal and Skip end the goroutine like
// the testing package does; run a body with runFake.
type fakeTB struct {
	testing.TB // nil: a method not overridden below panics, failing the real test

	mu      sync.Mutex
	failed  bool
	skipped bool
	msgs    []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) note(flag *bool, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*flag = true
	f.msgs = append(f.msgs, msg)
}

func (f *fakeTB) Errorf(format string, args ...any) { f.note(&f.failed, fmt.Sprintf(format, args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.note(&f.failed, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.note(&f.skipped, fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.note(&f.skipped, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (f *fakeTB) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.msgs, "\n")
}

// runFake runs body with a new fakeTB on its own goroutine and returns the
// fakeTB once body returned, failed or skipped.
func runFake(body func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(f)
	}()
	<-done
	return f
}
