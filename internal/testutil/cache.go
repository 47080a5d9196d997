package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	cachePrefix = "crlazy-testutil-"
	// staleCacheAge is how old the build directory of a dead test binary must
	// be before another binary removes it. It is long because a binary in
	// another PID namespace may look dead while it runs.
	staleCacheAge = 6 * time.Hour
)

// buildResult is the outcome of one build, shared by every test that asks.
type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	builds sync.Map // build key -> *buildResult

	cache struct {
		sync.Mutex
		dir string // guarded by the mutex; "" until the first build
	}
)

// cached returns the output of build for key, running build at most once per
// test binary in the shared build directory.
func cached(t testing.TB, key string, build func(dir string) (string, error)) string {
	t.Helper()
	dir, err := cacheDir()
	if err != nil {
		t.Fatalf("build %s: %v", key, err)
	}
	v, _ := builds.LoadOrStore(key, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() { b.path, b.err = build(dir) })
	if b.err != nil {
		t.Fatalf("build %s: %v", key, b.err)
	}
	return b.path
}

func cacheDir() (string, error) {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir != "" {
		return cache.dir, nil
	}
	sweepStaleCaches(time.Now())
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", cachePrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("create build directory: %w", err)
	}
	cache.dir = dir
	return dir, nil
}

// RemoveBuildCache removes the directory of BuildVictim and BuildCrlazy. Main
// calls it after the tests; no build may be used after it.
func RemoveBuildCache() error {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir == "" {
		return nil
	}
	err := os.RemoveAll(cache.dir)
	cache.dir = ""
	if err != nil {
		return fmt.Errorf("remove build directory: %w", err)
	}
	return nil
}

// sweepStaleCaches removes build directories of test binaries that are gone
// and were last changed more than staleCacheAge before now.
func sweepStaleCaches(now time.Time) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), cachePrefix+"*"))
	for _, d := range dirs {
		pid, ok := cacheOwner(filepath.Base(d))
		if !ok || pidExists(pid) {
			continue
		}
		if fi, err := os.Stat(d); err == nil && now.Sub(fi.ModTime()) > staleCacheAge {
			os.RemoveAll(d)
		}
	}
}

// cacheOwner parses the PID out of a name made by cacheDir.
func cacheOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, cachePrefix)
	if !ok {
		return 0, false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	return pid, err == nil && pid > 0
}

func pidExists(pid int) bool {
	_, err := os.Stat(procPath(pid))
	return !errors.Is(err, fs.ErrNotExist)
}

func procPath(pid int, elem ...string) string {
	return filepath.Join(append([]string{"/proc", strconv.Itoa(pid)}, elem...)...)
}
