package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
)

// rttPollMs bounds how long the reference fault handler sleeps in poll
// before it looks at its stop channel.
const rttPollMs = 20

// faultRoundTrip measures the shortest a demand fault can be served
// here: a thread of this process reads count fresh pages registered with
// a userfaultfd, one per chunk bytes, and a goroutine answers each fault
// (poll, read the message, UFFDIO_COPY of the chunk around it), as a
// lazy restore's handler does at best. It returns each read's latency.
func faultRoundTrip(chunk uint64, count int) ([]time.Duration, error) {
	f, err := linux.UserfaultfdOpen(linux.ONonblock)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, _, err := linux.UffdAPI(f, 0); err != nil {
		return nil, err
	}
	size := chunk * uint64(count)
	mem, addr, err := linux.MmapAnon(int(size))
	if err != nil {
		return nil, err
	}
	defer linux.Munmap(mem)
	if _, err := linux.UffdRegister(f, uint64(addr), size, linux.UffdRegisterModeMissing); err != nil {
		return nil, err
	}
	stop, errc := make(chan struct{}), make(chan error, 1)
	go func() { errc <- serveFaults(f, uint64(addr), chunk, stop) }()
	lat := touchEach(mem, chunk, count)
	close(stop)
	return lat, <-errc
}

// touchEach reads one byte every stride bytes of mem from a locked thread
// and times each read.
func touchEach(mem []byte, stride uint64, count int) []time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, count)
	var sink byte
	for i := range count {
		start := time.Now()
		sink += mem[uint64(i)*stride]
		lat[i] = time.Since(start)
	}
	runtime.KeepAlive(sink)
	return lat
}

// serveFaults answers the faults on f until stop is closed.
func serveFaults(f *os.File, base, chunk uint64, stop chan struct{}) error {
	fd, err := linux.RawFd(f)
	if err != nil {
		return err
	}
	src := make([]byte, chunk)
	for i := range src {
		src[i] = byte(i*13 + 5)
	}
	msgs := make([]linux.UffdMsg, 16)
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if ready, err := linux.PollReadable([]int{fd}, rttPollMs); err != nil || !ready[0] {
			if err != nil {
				return err
			}
			continue
		}
		n, err := linux.UffdTryReadMsgs(f, msgs)
		if err != nil {
			return err
		}
		for _, m := range msgs[:n] {
			if m.Event() != linux.UffdEventPagefault {
				continue
			}
			dst := base + (m.PagefaultAddress()-base)/chunk*chunk
			if _, err := linux.UffdCopy(f, dst, src, 0); err != nil && !errors.Is(err, linux.EEXIST) {
				return fmt.Errorf("uffdio copy %#x: %w", dst, err)
			}
		}
	}
}

// tcpRate sends n bytes over a loopback TCP connection (Go's defaults,
// as the page server's) in MiB writes and returns GB/s.
func tcpRate(n uint64) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.CopyN(io.Discard, c, int64(n))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, copyChunk)
	start := time.Now()
	for sent := uint64(0); sent < n; sent += copyChunk {
		if _, err := c.Write(buf[:min(copyChunk, n-sent)]); err != nil {
			return 0, err
		}
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return gbps(n, time.Since(start).Seconds()), nil
}

// tcpRoundTrip times count request/response exchanges over loopback TCP:
// 16 bytes out, chunk bytes back, as a page-server fault at best.
func tcpRoundTrip(chunk, count int) ([]time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	go answer(ln, chunk)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	req, resp := make([]byte, 16), make([]byte, chunk)
	lat := make([]time.Duration, count)
	for i := range lat {
		start := time.Now()
		if _, err := c.Write(req); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return nil, err
		}
		lat[i] = time.Since(start)
	}
	return lat, nil
}

// answer serves one connection of tcpRoundTrip until it closes.
func answer(ln net.Listener, chunk int) {
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	req, resp := make([]byte, 16), make([]byte, chunk)
	for {
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// fileReadRate reads every regular file in dir with MiB reads and
// returns GB/s: reading the store from the page cache, right after it
// was written.
func fileReadRate(dir string) (float64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, copyChunk)
	var total uint64
	start := time.Now()
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		n, err := readFile(dir+"/"+e.Name(), buf)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return gbps(total, time.Since(start).Seconds()), nil
}

// readFile reads path to the end with reads of len(buf) and returns the
// bytes read.
func readFile(path string, buf []byte) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total uint64
	for {
		n, err := f.Read(buf)
		total += uint64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
