package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/imagefs"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

// mountTimeout bounds the wait for a mount to appear or go.
const mountTimeout = 20 * time.Second

// mountStore mounts the store in dir with `crlazy mount` (in the
// background) and returns the mount point and the server's pid. At
// cleanup it unmounts with `crlazy umount` if still mounted and checks
// that neither the mount nor the server is left.
func mountStore(t *testing.T, dir string) (string, int) {
	t.Helper()
	mnt := t.TempDir()
	pidfile := filepath.Join(t.TempDir(), "pid")
	mustCrlazy(t, "mount", "-D", dir, mnt, "--pidfile", pidfile, "-v", "4", "-o", dir+".mount.log")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid := atoi(t, strings.TrimSpace(string(b)))
	testutil.Adopt(t, pid)
	if !mounted(t, mnt) {
		t.Fatalf("crlazy mount returned but %s is not mounted", mnt)
	}
	t.Cleanup(func() {
		if mounted(t, mnt) {
			if out, code := crlazy(t, "umount", mnt); code != 0 {
				t.Errorf("crlazy umount: exit %d\n%s", code, out)
			}
		}
		if mounted(t, mnt) {
			t.Errorf("%s still mounted", mnt)
		}
		testutil.CheckNoLeftovers(t, pid)
	})
	return mnt, pid
}

// mounted reports whether a crlazy view is mounted at mnt.
func mounted(t *testing.T, mnt string) bool {
	t.Helper()
	_, err := imagefs.FindMount(mnt)
	if err != nil && !errors.Is(err, imagefs.ErrNotMounted) {
		t.Fatal(err)
	}
	return err == nil
}

// waitMounted polls until mnt is mounted (or not), failing after
// mountTimeout.
func waitMounted(t *testing.T, mnt string, want bool) {
	t.Helper()
	deadline := time.Now().Add(mountTimeout)
	for mounted(t, mnt) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: mounted=%v after %v", mnt, !want, mountTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var memshapeReady = regexp.MustCompile(`^ready (\d+) ([0-9a-f]+) (\d+) ([0-9a-f]+)$`)

// TestMountVictim dumps a victim whose memory has a known shape (with
// --leave-running, so that it stays as it was) and checks the mounted
// view against the victim itself, show --json and crit.
func TestMountVictim(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "memshape"), "1024")
	m := v.WaitLine(t, memshapeReady, lineTimeout)
	dir := dump(t, v, "--leave-running")
	mnt, _ := mountStore(t, dir)
	pidDir := filepath.Join(mnt, strconv.Itoa(v.Pid))
	checkAgainstProcess(t, v.Pid, dir, filepath.Join(pidDir, "memory"))
	area, _ := strconv.ParseUint(m[2], 16, 64)
	pages, _ := strconv.ParseUint(m[3], 10, 64)
	checkShape(t, filepath.Join(pidDir, "memory", fmt.Sprintf("%x-%x.rw-p", area, area+pages*4096)), area, pages)
	checkJSONAgainstShow(t, dir, pidDir)
	checkCrit(t, filepath.Join(mnt, "criu"), v.Pid)
	checkTools(t, mnt)
	if err := os.WriteFile(filepath.Join(pidDir, "mm.json"), nil, 0); !errors.Is(err, linux.EROFS) {
		t.Errorf("writing mm.json: %v, want EROFS", err)
	}
}

// smallStore dumps a small memshape victim and returns its store.
func smallStore(t *testing.T) string {
	t.Helper()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "memshape"), "64")
	v.WaitLine(t, memshapeReady, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	return dir
}

// TestUmountDeadServer unmounts a view whose server was killed and one
// whose server is stopped: neither may hang or stay mounted.
func TestUmountDeadServer(t *testing.T) {
	testutil.RequirePriv(t)
	dir := smallStore(t)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		mnt, pid := mountStore(t, dir)
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatal(err)
		}
		mustCrlazy(t, "umount", mnt)
		if mounted(t, mnt) {
			t.Errorf("%s still mounted after umount of a server sent %v", mnt, sig)
		}
		if sig == syscall.SIGSTOP {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestMountForeground serves a mount in the foreground and stops it with
// SIGTERM while a file is open: the mount leaves the tree at once, the
// open file still reads, and the server exits when it is closed.
func TestMountForeground(t *testing.T) {
	testutil.RequirePriv(t)
	dir := smallStore(t)
	mnt := t.TempDir()
	cmd := exec.Command(testutil.BuildCrlazy(t), "mount", "--foreground", "-D", dir, mnt)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed once cmd.Wait returned, with waitErr
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if mounted(t, mnt) {
			linux.Unmount(mnt, true)
		}
	})
	waitMounted(t, mnt, true)
	f, err := os.Open(filepath.Join(mnt, "criu", "mm-"+pidOfStore(t, mnt)+".img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitMounted(t, mnt, false)
	if b, err := io.ReadAll(f); err != nil || len(b) == 0 {
		t.Errorf("reading an open file after the lazy unmount: %d bytes, %v", len(b), err)
	}
	f.Close()
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("crlazy mount --foreground: %v\n%s", waitErr, out.String())
		}
	case <-time.After(mountTimeout):
		t.Fatalf("crlazy mount --foreground still runs after SIGTERM and the last close\n%s", out.String())
	}
}

// pidOfStore returns the pid directory name of a mounted one-process
// store.
func pidOfStore(t *testing.T, mnt string) string {
	t.Helper()
	ents, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			return e.Name()
		}
	}
	t.Fatalf("no pid directory in %s", mnt)
	return ""
}
