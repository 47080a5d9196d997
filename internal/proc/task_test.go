package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

func TestListTasksSelf(t *testing.T) {
	tids, err := ListTasks(os.Getpid())
	if err != nil || !slices.Contains(tids, os.Getpid()) || !slices.IsSorted(tids) {
		t.Fatalf("tasks %v, %v", tids, err)
	}
}

// startCat starts a cat blocked on its stdin; closing the returned pipe
// and waiting ends it.
func startCat(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("cat")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return cmd
}

func TestChildren(t *testing.T) {
	a, b := startCat(t), startCat(t)
	kids, err := Children(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kids, a.Process.Pid) || !slices.Contains(kids, b.Process.Pid) || !slices.IsSorted(kids) {
		t.Errorf("children %v, want %d and %d", kids, a.Process.Pid, b.Process.Pid)
	}
	if kids, err := Children(a.Process.Pid); err != nil || len(kids) != 0 {
		t.Errorf("children of cat: %v, %v", kids, err)
	}
}

func TestErrNoProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid // reaped: /proc/pid is gone
	calls := map[string]func() error{
		"maps":    func() error { _, err := ReadMaps(pid); return err },
		"status":  func() error { _, err := ReadStatus(pid); return err },
		"stat":    func() error { _, err := ReadStat(pid); return err },
		"limits":  func() error { _, err := ReadLimits(pid); return err },
		"fds":     func() error { _, err := ListFds(pid); return err },
		"fdlink":  func() error { _, err := ReadFdLink(pid, 0); return err },
		"tasks":   func() error { _, err := ListTasks(pid); return err },
		"kids":    func() error { _, err := Children(pid); return err },
		"comm":    func() error { _, err := ReadComm(pid); return err },
		"auxv":    func() error { _, err := ReadAuxv(pid); return err },
		"pagemap": func() error { _, err := OpenPagemap(pid); return err },
		"task":    func() error { _, err := ReadTaskStat(os.Getpid(), pid); return err },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, ErrNoProcess) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v; want ErrNoProcess and fs.ErrNotExist", name, err)
		}
	}
	want := fmt.Sprintf("read /proc/%d/maps: process does not exist: no such file or directory", pid)
	if _, err := ReadMaps(pid); err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// A /proc file opened before its task was reaped reads as ESRCH.
func TestWrapReadESRCH(t *testing.T) {
	err := wrapRead("/proc/1", "/proc/1/stat", &fs.PathError{Op: "read", Path: "/proc/1/stat", Err: syscall.ESRCH})
	if !errors.Is(err, ErrNoProcess) || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%v", err)
	}
	if got, want := err.Error(), "read /proc/1/stat: process does not exist: no such process"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	// A missing file of a live process is not ErrNoProcess.
	err = wrapRead("/proc/1", "/proc/1/nosuch", &fs.PathError{Op: "open", Err: syscall.ENOENT})
	if errors.Is(err, ErrNoProcess) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v", err)
	}
}

func TestPidFilesSelf(t *testing.T) {
	pid := os.Getpid()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadLink(pid, "exe"); err != nil || got != exe {
		t.Errorf("exe %q, %v; want %q", got, err, exe)
	}
	wd, _ := os.Getwd()
	if got, err := ReadLink(pid, "cwd"); err != nil || got != wd {
		t.Errorf("cwd %q, %v; want %q", got, err, wd)
	}
	if p, err := ReadPersonality(pid); err != nil || p&0xff != 0 {
		t.Errorf("personality %#x, %v", p, err)
	}
	if n, err := ReadIntFile("/proc/sys/kernel/pid_max"); err != nil || n < 300 {
		t.Errorf("pid_max %d, %v", n, err)
	}
	_, err = ReadIntFile("/proc/sys/kernel/no_such_file")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoProcess) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadMapFileSelf(t *testing.T) {
	ms, err := ReadMaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	for _, m := range ms {
		if m.Path != exe {
			continue
		}
		got, err := ReadMapFile(os.Getpid(), m)
		if errors.Is(err, fs.ErrPermission) {
			t.Skip("map_files needs CAP_SYS_ADMIN")
		}
		if err != nil || got != exe {
			t.Errorf("map file %q, %v", got, err)
		}
		return
	}
	t.Fatal("executable not mapped")
}
