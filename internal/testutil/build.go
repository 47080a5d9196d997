package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	modulePath = "github.com/crlazy/crlazy"
	victimsDir = "testdata/victims"
	crlazyPkg  = "./cmd/crlazy"
	// goFallback is where Go lives on the project's machines when it is not on PATH.
	goFallback = "/usr/local/go/bin/go"
)

// victimCFlags are the flags every victim is compiled with, victimLibs
// the libraries it is linked with (after the source).
var (
	victimCFlags = []string{"-O2", "-g", "-Wall", "-pthread"}
	victimLibs   = []string{"-lm"}
)

var (
	errNoRepoRoot = errors.New("no go.mod of " + modulePath + " above the working directory")
	errNoCC       = errors.New("no C compiler: $CC, cc and gcc are not on PATH")
	errBadName    = errors.New("victim name must be a plain file name")
)

var repoRoot = sync.OnceValues(findRepoRoot)

// RepoRoot returns the root of the crlazy checkout the test runs in (the
// directory of its go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	return root
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getwd: %w", err)
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoRepoRoot
		}
		dir = parent
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(mod) == modulePath
		}
	}
	return false
}

var findCC = sync.OnceValues(func() (string, error) {
	names := []string{"cc", "gcc"}
	if env := os.Getenv("CC"); env != "" {
		names = []string{env}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errNoCC
})

// CC returns the path of the C compiler ($CC, else cc, else gcc). Without
// one it skips t, or fails it when CRLAZY_REQUIRE_PRIV=1.
func CC(t testing.TB) string {
	t.Helper()
	cc, err := findCC()
	if err != nil {
		skipOrFatal(t, "%v", err)
	}
	return cc
}

// BuildVictim compiles testdata/victims/NAME.c once per test binary and
// returns the path of the executable. It is safe for parallel tests.
func BuildVictim(t testing.TB, name string) string {
	t.Helper()
	cc := CC(t)
	root := RepoRoot(t)
	if name == "" || filepath.Base(name) != name || strings.HasPrefix(name, ".") {
		t.Fatalf("build victim %q: %v", name, errBadName)
	}
	return cached(t, "victim "+name, func(dir string) (string, error) {
		out := filepath.Join(dir, name)
		src := filepath.Join(root, victimsDir, name+".c")
		args := append(append([]string{}, victimCFlags...), "-o", out, src)
		args = append(args, victimLibs...)
		return out, run(exec.Command(cc, args...))
	})
}

// BuildGoVictim builds the Go program testdata/victims/NAME once per test
// binary and returns the path of the executable. It is safe for parallel
// tests.
func BuildGoVictim(t testing.TB, name string) string {
	t.Helper()
	root := RepoRoot(t)
	if name == "" || filepath.Base(name) != name || strings.HasPrefix(name, ".") {
		t.Fatalf("build Go victim %q: %v", name, errBadName)
	}
	return cached(t, "go victim "+name, func(dir string) (string, error) {
		out := filepath.Join(dir, name)
		cmd := exec.Command(goTool(), "build", "-o", out, "./"+victimsDir+"/"+name)
		cmd.Dir = root
		return out, run(cmd)
	})
}

// BuildCrlazy builds ./cmd/crlazy once per test binary and returns the path
// of the executable. It is safe for parallel tests.
func BuildCrlazy(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	return cached(t, "crlazy", func(dir string) (string, error) {
		out := filepath.Join(dir, "crlazy")
		cmd := exec.Command(goTool(), "build", "-o", out, crlazyPkg)
		cmd.Dir = root
		return out, run(cmd)
	})
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return goFallback
}

// run runs cmd and returns its output in the error when it fails.
func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}
