package inject_test

import (
	"testing"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

// BenchmarkSyscall measures one injected getpid.
func BenchmarkSyscall(b *testing.B) {
	testutil.RequirePriv(b)
	cmd := startSleepB(b)
	tr := inject.NewTracer()
	defer tr.Close()
	task, err := tr.Seize(cmd.Process.Pid, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = task.Restore()
		_ = task.Detach()
	}()
	if err := task.FindSyscallInsn(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := task.Syscall("getpid", linux.SysGetpid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyscallPinned is BenchmarkSyscall with the task pinned to the
// tracer's CPU.
func BenchmarkSyscallPinned(b *testing.B) {
	testutil.RequirePriv(b)
	cmd := startSleepB(b)
	tr := inject.NewTracer()
	defer tr.Close()
	task, err := tr.Seize(cmd.Process.Pid, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = task.Restore()
		_ = task.Detach()
	}()
	if err := task.Pin(); err != nil {
		b.Fatal(err)
	}
	if err := task.FindSyscallInsn(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	err = tr.Run(func() error {
		for range b.N {
			if _, err := task.Syscall("getpid", linux.SysGetpid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
