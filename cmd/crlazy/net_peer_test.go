package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peer is the client of net_server, outside the dumped tree: it sends
// "C<n>" lines every peerTick and checks that the server's lines are
// "S<n>" in order. Any error (a reset, EOF, a line out of order) is kept.
type peer struct {
	c      net.Conn
	mu     sync.Mutex
	cond   *sync.Cond
	got    int   // S lines received in order; guarded by mu
	err    error // the first error; guarded by mu
	paused bool  // the reader waits; guarded by mu
	stop   chan struct{}
}

func startPeer(t *testing.T, addr string) *peer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{c: c, stop: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() { close(p.stop); c.Close() })
	go p.write()
	go p.read()
	return p
}

func (p *peer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		select {
		case <-p.stop:
		default:
			p.err = err
		}
	}
	p.cond.Broadcast()
}

func (p *peer) write() {
	tick := time.NewTicker(peerTick)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if _, err := fmt.Fprintf(p.c, "C%d\n", n); err != nil {
			p.fail(fmt.Errorf("write line %d: %w", n, err))
			return
		}
	}
}

func (p *peer) read() {
	sc := bufio.NewScanner(p.c)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for {
		p.mu.Lock()
		for p.paused {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if !sc.Scan() {
			p.fail(fmt.Errorf("read after %d lines: %v (EOF if nil)", p.count(), sc.Err()))
			return
		}
		n, _, _ := strings.Cut(sc.Text(), " ")
		p.mu.Lock()
		if n != "S"+strconv.Itoa(p.got) && p.err == nil {
			p.err = fmt.Errorf("line %d is %.20q", p.got, sc.Text())
		}
		p.got++
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

func (p *peer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got
}

func (p *peer) pause(on bool) {
	p.mu.Lock()
	p.paused = on
	p.cond.Broadcast()
	p.mu.Unlock()
}

// waitGot waits until the peer has n lines in order, and fails on its
// first error.
func (p *peer) waitGot(t *testing.T, n int) {
	t.Helper()
	timer := time.AfterFunc(peerTimeout, func() { p.fail(fmt.Errorf("no line %d after %v", n, peerTimeout)) })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.got < n && p.err == nil {
		p.cond.Wait()
	}
	if p.err != nil {
		t.Fatalf("peer: %v", p.err)
	}
}
