package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

const (
	victimMiB   = 1024
	lineTimeout = 2 * time.Minute
)

func BenchmarkEager(b *testing.B) {
	testutil.RequirePriv(b)
	bin := testutil.BuildVictim(b, "memcount")
	for range b.N {
		b.StopTimer()
		// The first cycle warms the VM: memory the guest has never
		// touched costs a host fault per page (KERNEL-FACTS §11), which
		// would otherwise be what we measure.
		for cycle := range 2 {
			m := eagerCycle(b, bin)
			if cycle == 1 {
				m.report(b)
			}
		}
		b.StartTimer()
	}
}

// eagerMetrics are the figures of one dump/restore cycle.
type eagerMetrics struct {
	dump, restore, readv, writev, fileWrite float64 // GB/s
}

func (m eagerMetrics) report(b *testing.B) {
	b.ReportMetric(m.dump, "dump-GB/s")
	b.ReportMetric(m.restore, "restore-GB/s")
	b.ReportMetric(m.readv, "readv-GB/s")
	b.ReportMetric(m.writev, "writev-GB/s")
	b.ReportMetric(m.fileWrite, "filewrite-GB/s")
	b.ReportMetric(m.dump/m.fileWrite, "dump/filewrite")
	b.ReportMetric(m.dump/m.readv, "dump/readv")
	b.ReportMetric(m.restore/m.writev, "restore/writev")
}

// eagerCycle starts a 1 GiB victim, measures the baselines on it, dumps
// it, restores it and checks it runs.
func eagerCycle(b *testing.B, bin string) eagerMetrics {
	v := testutil.StartVictim(b, bin, strconv.Itoa(victimMiB))
	v.WaitLine(b, regexp.MustCompile(`^ready `), lineTimeout)
	region := bigRegion(b, v.Pid)
	var m eagerMetrics
	m.readv = gbps(region.Len(), timeIt(b, func() error { return readAll(v.Pid, region) }))
	writeSecs, err := writeFresh(gib)
	if err != nil {
		b.Fatal(err)
	}
	m.writev = gbps(gib, writeSecs)
	m.fileWrite = gbps(gib, timeIt(b, func() error { return writeFile(b.TempDir(), gib) }))
	// The dump runs in a crlazy process of its own: the victim is our
	// child, and our reaper's wait would take the tracer's stops.
	dir := filepath.Join(b.TempDir(), "img")
	crlazy := testutil.BuildCrlazy(b)
	var out []byte
	dumpSecs := timeIt(b, func() error {
		var err error
		out, err = exec.Command(crlazy, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir).CombinedOutput()
		return cmdErr(err, out)
	})
	dumped := dataBytes(b, out)
	v.Reap(b)
	pidfile := filepath.Join(b.TempDir(), "pid")
	restoreSecs := timeIt(b, func() error {
		out, err := exec.Command(crlazy, "restore", "-D", dir, "-d", "--pidfile", pidfile).CombinedOutput()
		return cmdErr(err, out)
	})
	v.WaitLine(b, regexp.MustCompile(`^tick `), lineTimeout)
	// crlazy is gone, so the restored victim is ours (a subreaper's).
	if err := syscall.Kill(v.Pid, syscall.SIGKILL); err != nil {
		b.Fatal(err)
	}
	if _, err := syscall.Wait4(v.Pid, nil, 0, nil); err != nil {
		b.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	m.dump = gbps(dumped, dumpSecs)
	m.restore = gbps(dumped, restoreSecs)
	return m
}

var dataBytesRe = regexp.MustCompile(`data_bytes=(\d+)`)

// dataBytes reads how much memory the dump stored from its log.
func dataBytes(b *testing.B, log []byte) uint64 {
	b.Helper()
	m := dataBytesRe.FindSubmatch(log)
	if m == nil {
		b.Fatalf("no data_bytes in the dump log:\n%s", log)
	}
	n, err := strconv.ParseUint(string(m[1]), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func cmdErr(err error, out []byte) error {
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

func timeIt(b *testing.B, f func() error) float64 {
	b.Helper()
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start).Seconds()
}

// bigRegion is the victim's largest mapping: its patterned memory.
func bigRegion(b *testing.B, pid int) proc.Mapping {
	b.Helper()
	maps, err := proc.ReadMaps(pid)
	if err != nil {
		b.Fatal(err)
	}
	var big proc.Mapping
	for _, m := range maps {
		if m.Len() > big.Len() {
			big = m
		}
	}
	return big
}
