package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

// ptyTerm is a terminal the test owns: a pty whose master it reads line
// by line (a shell's terminal, as a terminal emulator would be).
type ptyTerm struct {
	master, slave *os.File
	mu            sync.Mutex
	lines         []string      // guarded by mu
	more          chan struct{} // signalled when a line arrives
}

func newPty(t *testing.T) *ptyTerm {
	t.Helper()
	m, idx, err := linux.OpenPtmx()
	if err != nil {
		t.Fatal(err)
	}
	if err := linux.SetPtyLocked(m, false); err != nil {
		t.Fatal(err)
	}
	s, err := linux.OpenFile(linux.PtsPath(idx), linux.ORdwr)
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyTerm{master: m, slave: s, more: make(chan struct{}, 1)}
	go p.read()
	t.Cleanup(func() { s.Close(); m.Close() })
	return p
}

// read collects the master's lines until every slave is closed.
func (p *ptyTerm) read() {
	sc := bufio.NewScanner(p.master)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, strings.TrimRight(sc.Text(), "\r"))
		p.mu.Unlock()
		select {
		case p.more <- struct{}{}:
		default:
		}
	}
}

// waitLine consumes lines until one matches re and returns its
// submatches; a FAIL line fails the test.
func (p *ptyTerm) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(lineTimeout)
	for {
		p.mu.Lock()
		for len(p.lines) > 0 {
			l := p.lines[0]
			p.lines = p.lines[1:]
			if strings.HasPrefix(l, "FAIL") {
				p.mu.Unlock()
				t.Fatalf("terminal: %s", l)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		p.mu.Unlock()
		select {
		case <-p.more:
		case <-deadline:
			t.Fatalf("terminal: no line matching %q within %v", re, lineTimeout)
		}
	}
}

// startOn starts a command on the terminal as a session leader whose
// controlling terminal it is, as a login shell is.
func (p *ptyTerm) startOn(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.slave, p.slave, p.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

var shellTick = regexp.MustCompile(`^tick (\d+) fg (\d) echo (\d)$`)

// TestShellJob: a job of a shell, on the shell's terminal (ECHO turned
// off, in the foreground), is refused without --shell-job and, dumped
// with it, restored by `crlazy restore --shell-job` run on another
// terminal: the job is in the foreground of the new terminal with its
// termios (ECHO off: a line typed is not echoed) and reads what is typed
// there.
func TestShellJob(t *testing.T) {
	testutil.RequirePriv(t)
	t.Run("eager", func(t *testing.T) { testShellJob(t) })
	t.Run("lazy", func(t *testing.T) { testShellJob(t, "--lazy-pages") })
}

func testShellJob(t *testing.T, extra ...string) {
	bin := testutil.BuildVictim(t, "tty_shell")
	old := newPty(t)
	shell := old.startOn(t, "/bin/sh", "-c", bin+"; exit 0")
	pid := atoi(t, old.waitLine(t, regexp.MustCompile(`^ready (\d+)$`))[1])
	if tick := old.waitLine(t, shellTick); tick[2] != "1" || tick[3] != "0" {
		t.Fatalf("before the dump: %q, want fg 1 echo 0", tick[0])
	}
	dir := filepath.Join(t.TempDir(), "img")
	out, code := crlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", dir)
	wantFailure(t, out, code, `fd 0 \(/dev/pts/\d+\): a terminal outside the dumped tree .*dump with --shell-job`)
	old.waitLine(t, shellTick)
	mustCrlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", dir, "--shell-job", "-v", "4", "-o", dir+".dump.log")
	_ = shell.Wait() // the shell reaps the job and exits
	testutil.WaitGone(t, pid, lineTimeout)

	term := newPty(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	restore := term.startOn(t, testutil.BuildCrlazy(t), append([]string{"restore", "-D", dir, "--shell-job",
		"--pidfile", pidfile, "-v", "4", "-o", dir + ".restore.log"}, extra...)...)
	tick := term.waitLine(t, shellTick)
	if tick[2] != "1" || tick[3] != "0" {
		log, _ := os.ReadFile(dir + ".restore.log")
		t.Fatalf("after restore: %q, want fg 1 echo 0; log:\n%s", tick[0], log)
	}
	testutil.Adopt(t, pid)
	if _, err := term.master.WriteString("hello\n"); err != nil {
		t.Fatal(err)
	}
	got := term.waitLine(t, regexp.MustCompile(`^(got hello|hello)$`))
	if got[0] != "got hello" {
		t.Errorf("the typed line was echoed: ECHO is on again")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := restore.Wait(); restore.ProcessState.ExitCode() != 128+int(syscall.SIGKILL) {
		log, _ := os.ReadFile(dir + ".restore.log")
		t.Errorf("restore ended with %v, want exit %d (the job was killed); log:\n%s", err, 128+int(syscall.SIGKILL), log)
	}
}

var ptyOK = regexp.MustCompile(`^pty (\d+) ok (\d+)$`)

// TestTTYPty: a pty inside the tree (the parent holds the master, the
// child has the slave as controlling terminal, ECHO off, a window size):
// after restore the child still has its controlling terminal, is in its
// foreground, keeps termios and window size, and the pty its number.
func TestTTYPty(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "tty_pty"))
		ready := v.WaitLine(t, regexp.MustCompile(`^ready \d+ \d+ (\d+)$`), lineTimeout)
		before := v.WaitLine(t, ptyOK, lineTimeout)
		checkpoint(t, v)
		after := waitProgress(t, v, ptyOK, 1, before)
		waitProgress(t, v, ptyOK, 1, []string{"", strconv.Itoa(atoi(t, after[1]) + 100)})
		if after[2] != ready[1] {
			t.Errorf("the pty is number %s after restore, was %s", after[2], ready[1])
		}
	})
}
