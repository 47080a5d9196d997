package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/crlazy/crlazy/internal/linux"
)

// workPrefix names the work directories of runs: a leftover of an
// interrupted run is recognised by it (its processes run binaries from
// there).
const workPrefix = "crlazy-bench-"

// victimSource is the C victim every workload runs.
const victimSource = "testdata/victims/bench_touch.c"

var errNotRoot = errors.New("the benchmark needs root (ptrace, userfaultfd, FUSE)")

// harness is the state of one run: its work directory, the binaries it
// built and what it must undo. Its methods are called from one goroutine,
// except cleanup, which a signal may also call.
type harness struct {
	opts   options
	work   string // the run's work directory, removed at the end
	crlazy string // the crlazy binary
	victim string // the bench_touch binary
	prog   *progress

	mu       sync.Mutex // guards undo and done
	undo     []func()   // run in reverse order by cleanup
	done     bool
	sigStop  func()
	sigClean chan struct{}
}

func newHarness(o options, stderr io.Writer) (*harness, error) {
	if os.Geteuid() != 0 {
		return nil, errNotRoot
	}
	h := &harness{opts: o, prog: newProgress(stderr)}
	if err := linux.SetChildSubreaper(true); err != nil {
		return nil, fmt.Errorf("become a subreaper: %w", err)
	}
	parent := o.workdir
	if parent == "" {
		parent = os.TempDir()
	}
	removeLeftovers(parent, stderr)
	work, err := os.MkdirTemp(parent, workPrefix)
	if err != nil {
		return nil, err
	}
	h.work = work
	h.atCleanup(func() { _ = os.RemoveAll(work) })
	if err := writeOwner(work); err != nil {
		h.cleanup()
		return nil, err
	}
	h.catchSignals()
	if err := h.build(); err != nil {
		h.cleanup()
		return nil, err
	}
	return h, nil
}

// atCleanup registers f to run at cleanup (last registered, first run).
func (h *harness) atCleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.undo = append(h.undo, f)
}

// cleanup undoes everything registered, once.
func (h *harness) cleanup() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.done = true
	for i := len(h.undo) - 1; i >= 0; i-- {
		h.undo[i]()
	}
	if h.sigStop != nil {
		h.sigStop()
	}
}

// catchSignals cleans up and exits on SIGINT or SIGTERM.
func (h *harness) catchSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	stop := make(chan struct{})
	h.sigStop = func() { signal.Stop(ch); close(stop) }
	go func() {
		select {
		case s := <-ch:
			h.prog.linef("interrupted (%v): cleaning up", s)
			h.cleanup()
			os.Exit(exitInterrupts)
		case <-stop:
		}
	}()
}

// build compiles the victim and, unless given, crlazy into the work
// directory.
func (h *harness) build() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(h.work, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		return err
	}
	h.prog.step("building the victim and crlazy")
	h.victim = filepath.Join(bin, "bench_touch")
	cc := exec.Command("cc", "-O2", "-g", "-Wall", "-pthread", "-o", h.victim, filepath.Join(root, victimSource))
	if err := runQuiet(cc); err != nil {
		return fmt.Errorf("build victim: %w", err)
	}
	h.crlazy = filepath.Join(bin, "crlazy")
	if h.opts.crlazy != "" {
		// A copy: the harness finds its own crlazy processes by path.
		return copyFile(h.opts.crlazy, h.crlazy)
	}
	gb := exec.Command(goTool(), "build", "-o", h.crlazy, "./cmd/crlazy")
	gb.Dir = root
	if err := runQuiet(gb); err != nil {
		return fmt.Errorf("build crlazy: %w", err)
	}
	return nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}

// runQuiet runs cmd and puts its output into the error if it fails.
func runQuiet(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// repoRoot is the directory above the working directory holding the
// module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(data), "module github.com/crlazy/crlazy\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no crlazy go.mod above the working directory (run from the repository)")
		}
		dir = up
	}
}
