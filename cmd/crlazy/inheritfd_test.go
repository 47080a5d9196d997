package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestInheritFd: a process writes into a pipe whose reading end is
// outside the dumped tree (here the test reads it; in life a logger, or
// a container runtime holding a job's stdio). Restored with
// --inherit-fd fd[3]:pipe:[INODE] and that pipe as crlazy's descriptor 3,
// it goes on writing into the same pipe, eagerly and with a detached lazy
// restore (whose background crlazy gets the descriptor under another
// number). Bad --inherit-fd arguments are refused before anything runs.
func TestInheritFd(t *testing.T) {
	testutil.RequirePriv(t)
	for _, mode := range []struct {
		name  string
		extra []string
	}{{"eager", nil}, {"lazy", []string{"--lazy-pages"}}} {
		t.Run(mode.name, func(t *testing.T) { testInheritFd(t, mode.extra) })
	}
}

func testInheritFd(t *testing.T, extra []string) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(w.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("pipe:[%d]", st.Ino)
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	tick := regexp.MustCompile(`^tick (\d+) `)
	next := func() int {
		t.Helper()
		deadline := time.After(lineTimeout)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the pipe was closed")
				}
				if m := tick.FindStringSubmatch(l); m != nil {
					return atoi(t, m[1])
				}
			case <-deadline:
				t.Fatalf("no tick through the pipe within %v", lineTimeout)
			}
		}
	}

	cmd := exec.Command(testutil.BuildVictim(t, "memcount"), "16")
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	before := next()
	dir := filepath.Join(t.TempDir(), "img")
	mustCrlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", dir, "-v", "4", "-o", dir+".dump.log")
	_ = cmd.Wait()
	log, _ := os.ReadFile(dir + ".dump.log")
	if !strings.Contains(string(log), "--inherit-fd fd[N]:"+key) {
		t.Errorf("the dump log does not name --inherit-fd fd[N]:%s:\n%s", key, log)
	}

	for _, bad := range []struct{ arg, want string }{
		{"3:" + key, `want fd\[N\]:KEY`},
		{"fd[9]:" + key, `crlazy has no descriptor 9`},
		{"fd[3]:pipe:[1]", `no descriptor of the image is pipe:\[1\]`},
		{"fd[3]:socket:[1]", `only pipe:\[INODE\] and file paths can be inherited`},
	} {
		out, code := crlazyWith(t, []*os.File{w}, append([]string{"restore", "-D", dir, "-d", "--inherit-fd", bad.arg}, extra...)...)
		if code == 0 || !regexp.MustCompile(bad.want).MatchString(out) {
			t.Errorf("restore --inherit-fd %s: exit %d, %q; want failure matching %q", bad.arg, code, out, bad.want)
		}
		testutil.CheckNoLeftovers(t, pid)
	}

	pidfile := filepath.Join(t.TempDir(), "pid")
	args := append([]string{"restore", "-D", dir, "-d", "--pidfile", pidfile, "--inherit-fd", "fd[3]:" + key,
		"-v", "4", "-o", dir + ".restore.log"}, extra...)
	if out, code := crlazyWith(t, []*os.File{w}, args...); code != 0 {
		log, _ := os.ReadFile(dir + ".restore.log")
		t.Fatalf("restore: exit %d: %s\n%s", code, out, log)
	}
	testutil.Adopt(t, pid)
	for range 3 {
		if n := next(); n <= before {
			t.Fatalf("tick %d through the pipe after restore, %d before", n, before)
		}
	}
}

// crlazyWith runs crlazy with extra descriptors from 3 on.
func crlazyWith(t *testing.T, extra []*os.File, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testutil.BuildCrlazy(t), args...)
	cmd.ExtraFiles = extra
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}
