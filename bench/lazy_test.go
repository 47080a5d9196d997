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

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
)

// hotPercent is the share of its pages the lazy victim keeps re-reading.
const hotPercent = "5"

// BenchmarkLazy restores the same dump of a victim holding 1 GiB (4 GiB)
// that keeps re-reading a hot 5% of its pages (in 256 KiB runs): eagerly, lazily with no
// working set, and lazily again with the working set the first lazy
// restore recorded. It reports
//
//	eager-ms, lazy-ms, lazy-ws-ms   time from starting `crlazy restore -d`
//	                    until it returns with the process running (lazy-ws:
//	                    with the working set, up to 256 MiB of it filled first)
//	allin-ms, allin-GB/s  from the lazy restore's start until every page is in
//	uffdcopy-GB/s       UFFDIO_COPY of 1 GiB in 128 KiB copies, nothing else
//	                    running: the ceiling of allin-GB/s
//	fault-p50-us, fault-p99-us  handler service time of a demand fault
//	faults-cold, faults-ws      demand faults without and with the working set
func BenchmarkLazy(b *testing.B) {
	testutil.RequirePriv(b)
	for _, mib := range []int{1024, 4096} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				lazyCycle(b, mib)
				b.StartTimer()
			}
		})
	}
}

func lazyCycle(b *testing.B, mib int) {
	bin := testutil.BuildVictim(b, "lazytouch")
	crlazy := testutil.BuildCrlazy(b)
	v := testutil.StartVictim(b, bin, strconv.Itoa(mib), hotPercent)
	v.WaitLine(b, regexp.MustCompile(`^ready `), lineTimeout)
	v.WaitLine(b, regexp.MustCompile(`^pass `), lineTimeout)
	dir := filepath.Join(b.TempDir(), "img")
	if out, err := exec.Command(crlazy, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir).CombinedOutput(); err != nil {
		b.Fatalf("dump: %v\n%s", err, out)
	}
	v.Reap(b)

	ceiling := uffdCopyCeiling(b)
	eager := restoreOnce(b, crlazy, v, dir)
	cold := restoreOnce(b, crlazy, v, dir, "--lazy-pages")
	if _, err := os.Stat(filepath.Join(dir, images.WorkingSetFile)); err != nil {
		b.Fatalf("no working set recorded: %v", err)
	}
	warm := restoreOnce(b, crlazy, v, dir, "--lazy-pages")

	b.ReportMetric(ms(eager.running), "eager-ms")
	b.ReportMetric(ms(cold.running), "lazy-ms")
	b.ReportMetric(ms(warm.running), "lazy-ws-ms")
	b.ReportMetric(ms(cold.allIn), "allin-ms")
	allIn := float64(mib) * (1 << 20) / cold.allIn.Seconds() / 1e9
	b.ReportMetric(allIn, "allin-GB/s")
	b.ReportMetric(ceiling, "uffdcopy-GB/s")
	b.ReportMetric(allIn/ceiling, "allin/uffdcopy")
	b.ReportMetric(float64(cold.p50.Microseconds()), "fault-p50-us")
	b.ReportMetric(float64(cold.p99.Microseconds()), "fault-p99-us")
	b.ReportMetric(float64(cold.faults), "faults-cold")
	b.ReportMetric(float64(warm.faults), "faults-ws")
}

// restoreResult is what one restore of the victim measured.
type restoreResult struct {
	running  time.Duration // restore command start until it returned
	allIn    time.Duration // lazy: handler start until every page is in
	faults   int
	p50, p99 time.Duration
}

var allInRe = regexp.MustCompile(`msg="all pages in".* after=(\S+) faults=(\d+) .*fault_p50=(\S+) fault_p99=(\S+)`)

// restoreOnce restores dir detached, waits until the victim ran a pass
// (and, lazily, until all pages are in), then kills it.
func restoreOnce(b *testing.B, crlazy string, v *testutil.Victim, dir string, extra ...string) restoreResult {
	log := filepath.Join(b.TempDir(), "restore.log")
	args := append([]string{"restore", "-D", dir, "-d", "-o", log}, extra...)
	var res restoreResult
	res.running = time.Duration(timeIt(b, func() error {
		out, err := exec.Command(crlazy, args...).CombinedOutput()
		return cmdErr(err, out)
	}) * float64(time.Second))
	v.WaitLine(b, regexp.MustCompile(`^pass `), lineTimeout)
	if len(extra) > 0 {
		m := waitLogMatch(b, log, allInRe)
		var err error
		if res.allIn, err = time.ParseDuration(m[1]); err != nil {
			b.Fatal(err)
		}
		res.faults, _ = strconv.Atoi(m[2])
		res.p50, _ = time.ParseDuration(m[3])
		res.p99, _ = time.ParseDuration(m[4])
	}
	killRestored(b, v.Pid)
	return res
}

func waitLogMatch(b *testing.B, log string, re *regexp.Regexp) []string {
	deadline := time.Now().Add(lineTimeout)
	for {
		data, _ := os.ReadFile(log)
		if m := re.FindStringSubmatch(string(data)); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			b.Fatalf("no %q in the restore log:\n%s", re, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killRestored kills the restored victim and reaps it once it is ours
// (its crlazy parent exits after the pages are in; we are a subreaper).
func killRestored(b *testing.B, pid int) {
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(lineTimeout)
	for {
		_, _ = syscall.Wait4(pid, nil, syscall.WNOHANG, nil)
		if _, err := proc.ReadStat(pid); err != nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("restored victim %d does not go away", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// uffdCopyCeiling is UFFDIO_COPY of 1 GiB in chunks of the store's chunk
// size, as a lazy restore's prefetch does with nothing else in the way,
// in GB/s.
func uffdCopyCeiling(b *testing.B) float64 {
	r, err := uffdCopyRate(gib, images.ChunkMaxBytes)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
