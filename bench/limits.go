package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/stub"
)

// The machine's limits: what the kernel and hardware do with nothing of
// crlazy in the way. Each returns GB/s (or a latency) measured now.

const (
	copyChunk = 1 << 20 // bytes per call of the copy loops
	mib       = 1 << 20
	gib       = 1 << 30
)

func gbps(bytes uint64, secs float64) float64 { return float64(bytes) / secs / 1e9 }

// memcpyRate copies n bytes between two buffers already touched (Go's
// copy is memmove) and returns the best of three GB/s.
func memcpyRate(n int) float64 {
	src, dst := make([]byte, n), make([]byte, n)
	for i := 0; i < n; i += pageSize {
		src[i], dst[i] = byte(i/pageSize)|1, 1
	}
	best := 0.0
	for range 3 {
		start := time.Now()
		copy(dst, src)
		best = max(best, gbps(uint64(n), time.Since(start).Seconds()))
	}
	return best
}

// readAll reads mapping m of process pid with process_vm_readv, a MiB a
// call: what a dump's reader does.
func readAll(pid int, m proc.Mapping) error {
	buf := make([]byte, copyChunk)
	for a := m.Start; a < m.End; a += copyChunk {
		n := min(copyChunk, m.End-a)
		if _, err := linux.ProcessVMReadv(pid, buf[:n], []linux.RemoteRange{{Addr: linux.Addr(a), Len: n}}); err != nil {
			return fmt.Errorf("process_vm_readv pid %d at %#x: %w", pid, a, err)
		}
	}
	return nil
}

// largestMapping is the biggest mapping of pid: a victim's memory.
func largestMapping(pid int) (proc.Mapping, error) {
	maps, err := proc.ReadMaps(pid)
	if err != nil {
		return proc.Mapping{}, err
	}
	var big proc.Mapping
	for _, m := range maps {
		if m.Len() > big.Len() {
			big = m
		}
	}
	return big, nil
}

// readvRate reads the largest mapping of each of pids and returns GB/s.
func readvRate(pids []int) (float64, error) {
	var total uint64
	var secs float64
	for _, pid := range pids {
		m, err := largestMapping(pid)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if err := readAll(pid, m); err != nil {
			return 0, err
		}
		secs += time.Since(start).Seconds()
		total += m.Len()
	}
	return gbps(total, secs), nil
}

// writeFresh maps n bytes (rounded up to a MiB) in a stub process and
// fills them with process_vm_writev, as an eager restore does; it returns
// the seconds the copy took. The memory is fresh: the first touch of each
// page is part of the cost, as in a restore.
func writeFresh(n uint64) (float64, error) {
	n = (n + copyChunk - 1) / copyChunk * copyChunk
	cmd, err := stub.Start()
	if err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	tr := inject.NewTracer()
	defer tr.Close()
	t, err := tr.Seize(cmd.Process.Pid, linux.PtraceOExitKill)
	if err != nil {
		return 0, err
	}
	defer t.Kill()
	if err := t.FindSyscallInsn(); err != nil {
		return 0, err
	}
	addr, err := t.Mmap(0, n, linux.ProtRead|linux.ProtWrite, linux.MapPrivate|linux.MapAnonymous, -1, 0)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, copyChunk)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	start := time.Now()
	for off := uint64(0); off < n; off += copyChunk {
		r := []linux.RemoteRange{{Addr: addr + linux.Addr(off), Len: copyChunk}}
		if _, err := linux.ProcessVMWritev(cmd.Process.Pid, buf, r); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

// uffdCopyRate maps n bytes in this process, registers them with a
// userfaultfd and fills them with UFFDIO_COPY in chunk-byte copies, as a
// lazy restore's prefetch does with nothing else in the way; it returns
// GB/s.
func uffdCopyRate(n, chunk uint64) (float64, error) {
	f, err := linux.UserfaultfdOpen(linux.ONonblock)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, _, err := linux.UffdAPI(f, 0); err != nil {
		return 0, err
	}
	mem, addr, err := linux.MmapAnon(int(n))
	if err != nil {
		return 0, err
	}
	defer linux.Munmap(mem)
	if _, err := linux.UffdRegister(f, uint64(addr), n, linux.UffdRegisterModeMissing); err != nil {
		return 0, err
	}
	src := make([]byte, chunk)
	for i := range src {
		src[i] = byte(i*31 + 7)
	}
	start := time.Now()
	for off := uint64(0); off < n; off += chunk {
		if _, err := linux.UffdCopy(f, uint64(addr)+off, src, 0); err != nil {
			return 0, err
		}
	}
	return gbps(n, time.Since(start).Seconds()), nil
}

// writeFile writes n bytes (rounded up to a MiB) to a new file in dir
// with write(2), syncs it and removes it: what a dump into a store in
// that directory cannot beat.
func writeFile(dir string, n uint64) error {
	f, err := os.Create(filepath.Join(dir, "baseline"))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, copyChunk)
	for i := range buf {
		buf[i] = byte(i*13 + 1)
	}
	for off := uint64(0); off < n; off += copyChunk {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}
