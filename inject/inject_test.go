package inject_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// startSleep runs `sleep secs` as our child with extra files as fds 3...
func startSleep(t *testing.T, secs string, extra ...*os.File) *exec.Cmd {
	return startSleepTB(t, secs, extra...)
}

func startSleepB(b *testing.B) *exec.Cmd { return startSleepTB(b, "100") }

func startSleepTB(t testing.TB, secs string, extra ...*os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", secs)
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Wait until it runs sleep (not Go's pre-exec child) and sleeps.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := proc.ReadStat(cmd.Process.Pid)
		if err == nil && st.Comm == "sleep" && st.State == 'S' {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep %d never went to sleep", cmd.Process.Pid)
		}
		time.Sleep(time.Millisecond)
	}
}

func seize(t *testing.T, tr *inject.Tracer, pid int, opts inject.SeizeOptions) *inject.Task {
	t.Helper()
	task, err := tr.Seize(pid, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.FindSyscallInsn(); err != nil {
		t.Fatal(err)
	}
	return task
}

func release(t *testing.T, task *inject.Task) {
	t.Helper()
	if err := task.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := task.Detach(); err != nil {
		t.Fatal(err)
	}
}

// TestSyscallAndRelease injects system calls into a sleeping process and
// checks that it still finishes its sleep normally afterwards: the
// interrupted clock_nanosleep is restarted, not cut short.
func TestSyscallAndRelease(t *testing.T) {
	testutil.RequirePriv(t)
	cmd := startSleep(t, "1")
	start := time.Now()
	tr := inject.NewTracer()
	defer tr.Close()
	task := seize(t, tr, cmd.Process.Pid, 0)
	got, err := task.Syscall("getpid", linux.SysGetpid)
	if err != nil {
		t.Fatal(err)
	}
	if int(got) != cmd.Process.Pid {
		t.Errorf("injected getpid = %d, want %d", got, cmd.Process.Pid)
	}
	_, err = task.Syscall("close", linux.SysClose, 9999)
	if !errors.Is(err, linux.EBADF) {
		t.Errorf("injected close(9999): err = %v, want EBADF", err)
	}
	release(t, task)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sleep after injection: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("sleep 1 ended after %v: the interrupted sleep was not restarted", d)
	}
}

func TestScratchMemory(t *testing.T) {
	testutil.RequirePriv(t)
	cmd := startSleep(t, "100")
	pid := cmd.Process.Pid
	tr := inject.NewTracer()
	defer tr.Close()
	task := seize(t, tr, pid, 0)
	base, err := task.MapScratch(0, inject.ScratchSize, true)
	if err != nil {
		t.Fatal(err)
	}
	if task.SyscallInsn() != base {
		t.Errorf("executable scratch at %v, syscall instruction at %v", base, task.SyscallInsn())
	}
	msg := "hello from the tracer"
	a, err := task.PutString(msg)
	if err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(msg))
	if err := task.ReadMem(a, back); err != nil {
		t.Fatal(err)
	}
	if string(back) != msg {
		t.Errorf("read back %q, want %q", back, msg)
	}
	// A syscall run from the scratch page: open the string as a path.
	if _, err := task.Open("/nonexistent/crlazy", linux.ORdonly, 0); !errors.Is(err, linux.ENOENT) {
		t.Errorf("open of a missing file inside the target: %v, want ENOENT", err)
	}
	// The scratch page can unmap itself: the munmap returns to the next
	// (now unmapped) instruction, where the single-step stops.
	if err := task.UnmapScratch(); err != nil {
		t.Fatal(err)
	}
	if _, err := task.Syscall("getpid", linux.SysGetpid); !errors.Is(err, inject.ErrNoSyscallInsn) {
		t.Errorf("syscall after the scratch page went: %v, want ErrNoSyscallInsn", err)
	}
	if err := task.FindSyscallInsn(); err != nil {
		t.Fatal(err)
	}
	if got, err := task.Syscall("getpid", linux.SysGetpid); err != nil || int(got) != pid {
		t.Errorf("getpid after FindSyscallInsn = %d, %v", got, err)
	}
	maps, err := proc.ReadMaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.Start == uint64(base) {
			t.Errorf("scratch mapping still at %x after unmap", m.Start)
		}
	}
	release(t, task)
}

func TestStealAndInstallFD(t *testing.T) {
	testutil.RequirePriv(t)
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	cmd := startSleep(t, "100", w1)
	w1.Close()
	pid := cmd.Process.Pid
	tr := inject.NewTracer()
	defer tr.Close()
	task := seize(t, tr, pid, 0)
	defer release(t, task)

	stolen, err := task.StealFD(3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stolen.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	stolen.Close()
	var b [1]byte
	if _, err := r1.Read(b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("read through the stolen descriptor: %q, %v", b, err)
	}

	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	defer w2.Close()
	if _, err := task.MapScratch(0, inject.ScratchSize, false); err != nil {
		t.Fatal(err)
	}
	defer task.UnmapScratch()
	before, err := proc.ListFds(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.InstallFD(w2, 7, false); err != nil {
		t.Fatal(err)
	}
	want, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w2.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := proc.ReadFdLink(pid, 7)
	if err != nil || got != want {
		t.Fatalf("fd 7 in the target is %q (%v), want %q", got, err, want)
	}
	info, err := proc.ReadFdinfo(pid, 7)
	if err != nil {
		t.Fatal(err)
	}
	if info.Flags&linux.OCloexec != 0 {
		t.Errorf("installed fd 7 has O_CLOEXEC; asked for none")
	}
	after, err := proc.ListFds(pid)
	if err != nil {
		t.Fatal(err)
	}
	wantFds := append(before, 7)
	slices.Sort(wantFds)
	if !slices.Equal(after, wantFds) {
		t.Errorf("target fds after install = %v, want %v: a temporary descriptor leaked", after, wantFds)
	}
}

// TestForkEvent injects fork() into a process traced with TRACEFORK and
// takes over the child.
func TestForkEvent(t *testing.T) {
	testutil.RequirePriv(t)
	cmd := startSleep(t, "100")
	tr := inject.NewTracer()
	defer tr.Close()
	task := seize(t, tr, cmd.Process.Pid, inject.SeizeOptions(linux.PtraceOTraceFork|linux.PtraceOExitKill))
	defer release(t, task)
	const sysFork = 57
	pid, err := task.Syscall("fork", sysFork)
	if err != nil {
		t.Fatal(err)
	}
	if len(task.Forked) != 1 || task.Forked[0] != int(pid) {
		t.Fatalf("fork returned %d, fork events saw %v", pid, task.Forked)
	}
	child, err := tr.Adopt(int(pid))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := child.Syscall("getppid", 110); err == nil {
		t.Errorf("child without a syscall instruction ran getppid: %d", got)
	}
	child.SetSyscallInsn(task.SyscallInsn())
	ppid, err := child.Syscall("getppid", 110)
	if err != nil || int(ppid) != cmd.Process.Pid {
		t.Errorf("child getppid = %d, %v; want %d", ppid, err, cmd.Process.Pid)
	}
	if err := child.Kill(); err != nil {
		t.Fatal(err)
	}
	// The child is the sleep's, not ours: the sleep reaps it when it runs.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Logf("child %d already gone", pid)
	}
}

func TestSeizeMissing(t *testing.T) {
	testutil.RequirePriv(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	tr := inject.NewTracer()
	defer tr.Close()
	_, err := tr.Seize(cmd.Process.Pid, 0)
	if !errors.Is(err, inject.ErrTargetGone) {
		t.Fatalf("seize of an exited pid: %v, want ErrTargetGone", err)
	}
}

func TestTargetKilledDuringInjection(t *testing.T) {
	testutil.RequirePriv(t)
	cmd := startSleep(t, "100")
	tr := inject.NewTracer()
	defer tr.Close()
	task := seize(t, tr, cmd.Process.Pid, 0)
	if err := task.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := task.Syscall("getpid", linux.SysGetpid); !errors.Is(err, inject.ErrTargetGone) {
		t.Fatalf("syscall into a killed task: %v, want ErrTargetGone", err)
	}
}
