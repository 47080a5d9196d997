package pageserver

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// outage is how long the server is away in TestRetryReconnect.
const outage = 300 * time.Millisecond

// listenAt starts a server on addr and stops it at cleanup.
func listenAt(t *testing.T, addr, dir string) *Server {
	t.Helper()
	log, _ := newLog()
	s, err := Listen(Config{Address: addr, Dir: dir, Log: log})
	if err != nil {
		t.Error(err)
		return nil
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRetryReconnect stops the server and starts it again on the same
// address a moment later: the client's calls go through.
func TestRetryReconnect(t *testing.T) {
	fx := newFixture(4242, 12, 0x7f0000003000)
	dir := fx.checkpointDir(t, "ckpt")
	s1 := listenAt(t, "127.0.0.1:0", dir)
	addr := s1.Addr().String()
	src := openSource(t, ClientConfig{Address: addr, RetryWindow: 10 * time.Second}, "ckpt", fx)
	conformRange(t, src, fx, fx.base, fx.end()) // a bulk connection to lose too
	s1.Close()
	back := make(chan struct{})
	time.AfterFunc(outage, func() { listenAt(t, addr, dir); close(back) })
	start := time.Now()
	if err := checkEveryPage(src, fx, 0); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < outage {
		t.Fatalf("served in %v while the server was away for %v", time.Since(start), outage)
	}
	<-back
	conformRange(t, src, fx, fx.base, fx.end())
}

// TestRetryGivesUp stops the server for good: calls fail with
// ErrUnavailable once the retry window is over.
func TestRetryGivesUp(t *testing.T) {
	const window = 300 * time.Millisecond
	fx := newFixture(4242, 13, 0x7f0000003000)
	s := listenAt(t, "127.0.0.1:0", fx.checkpointDir(t, "ckpt"))
	src := openSource(t, ClientConfig{Address: s.Addr().String(), RetryWindow: window}, "ckpt", fx)
	s.Close()
	start := time.Now()
	_, err := src.FindChunk(fx.pid, fx.base, func(uint64, []byte) error { return nil })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("FindChunk: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took < window || took > 10*window {
		t.Fatalf("gave up after %v, window %v", took, window)
	}
	err = src.ChunksIn(fx.pid, fx.base, fx.end(), func(uint64, []byte) error { return nil })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ChunksIn: %v, want ErrUnavailable", err)
	}
	src.Close()
	if _, err := src.FindChunk(fx.pid, fx.base, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("FindChunk after Close: %v, want ErrClosed", err)
	}
}

// TestStreamResume cuts bulk connections in the middle of a stream: the
// stream resumes after the last chunk delivered, nothing twice, nothing
// lost.
func TestStreamResume(t *testing.T) {
	fx := newFixture(4242, 14, 0x7f0000003000)
	s := listenAt(t, "127.0.0.1:0", fx.checkpointDir(t, "ckpt"))
	p := newCutProxy(t, s.Addr().String(), 300<<10, 2)
	src := openSource(t, ClientConfig{Address: p.addr(), RetryWindow: 5 * time.Second}, "ckpt", fx)
	conformRange(t, src, fx, fx.base, fx.end())
	if p.cuts.Load() != 0 {
		t.Fatalf("%d cuts not made: the stream never carried enough", p.cuts.Load())
	}
}

// cutProxy forwards connections to a server and cuts the first few that
// carry more than limit bytes from the server.
type cutProxy struct {
	ln     net.Listener
	target string
	limit  int64
	cuts   atomic.Int32 // cuts still to make
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string, limit int64, cuts int32) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, limit: limit}
	p.cuts.Store(cuts)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); p.down(c, s); c.Close() }()
	}
}

// down copies from the server to the client, and cuts both ends once
// the connection carried limit bytes, if a cut is left.
func (p *cutProxy) down(c, s net.Conn) {
	var n int64
	buf := make([]byte, 32<<10)
	for {
		k, err := s.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				return
			}
			n += int64(k)
		}
		if err != nil {
			return
		}
		if n > p.limit && p.take() {
			s.Close()
			return
		}
	}
}

// take claims one of the cuts left.
func (p *cutProxy) take() bool {
	for {
		left := p.cuts.Load()
		if left <= 0 {
			return false
		}
		if p.cuts.CompareAndSwap(left, left-1) {
			return true
		}
	}
}
