package pageserver

import (
	"bytes"
	"github.com/crlazy/crlazy/store"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf collects a server's log for a test to look at.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the log holds s, failing t after timeout.
func (l *logBuf) waitFor(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log has no %q:\n%s", s, l.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newLog() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// startServer starts a server on a loopback port with cfg and stops it
// at the end of the test; it returns the server and its log.
func startServer(t testing.TB, cfg Config) (*Server, *logBuf) {
	t.Helper()
	log, lb := newLog()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	cfg.Log = log
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, lb
}

// client returns a ClientConfig for s.
func client(s *Server) ClientConfig {
	return ClientConfig{Address: s.Addr().String(), RetryWindow: 2 * time.Second}
}

// openSource opens checkpoint name on s with the records of fx.
func openSource(t testing.TB, cfg ClientConfig, name string, fx *fixture) *Source {
	t.Helper()
	src, err := Open(cfg, name, fx.openLocal(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

type storeReader = store.Reader

func mustOpen(t testing.TB, dir string) *store.Reader {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// lastLine returns the last line of log that holds s.
func lastLine(log, s string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// waitCount waits until the log holds s at least n times.
func waitCount(t testing.TB, l *logBuf, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(l.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log has %q fewer than %d times:\n%s", s, n, l.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
