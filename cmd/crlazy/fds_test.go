package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	pipedata "github.com/checkpoint-restore/go-criu/v8/crit/images/pipe-data"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

// Tests of the descriptor kinds of issue 5: each victim checks its own
// state after restore (data, flags, behaviour) and prints FAIL otherwise.

const (
	epollTickMs = 50         // fd_epoll's TICK_MS
	fdPipeSize  = 128 * 1024 // fd_pipe's PIPE_SIZE
)

var (
	epollTick    = regexp.MustCompile(`^tick (\d+) (\d+)$`)
	consumerLine = regexp.MustCompile(`^consumer (\d+)$`)
)

// TestFdEpoll: an epoll loop over a periodic timerfd, a level-triggered
// eventfd written on every tick, and an edge-triggered signalfd; beside it
// a semaphore eventfd and one holding a counter above 2^32. After restore
// the timer keeps its period, every eventfd read gives what it must, and
// SIGUSR1 arrives through the signalfd.
func TestFdEpoll(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "fd_epoll"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := v.WaitLine(t, epollTick, lineTimeout)
	checkpoint(t, v)
	const n = 20
	var first, last []string
	for i := 0; i <= n; i++ {
		last = v.WaitLine(t, epollTick, lineTimeout)
		if i == 0 {
			first = last
		}
	}
	if atoi(t, first[1]) <= atoi(t, before[1]) {
		t.Fatalf("tick counter went from %s to %s", before[1], first[1])
	}
	ticks := atoi(t, last[1]) - atoi(t, first[1])
	ms := atoi(t, last[2]) - atoi(t, first[2])
	if ticks < n || ms < n*epollTickMs*8/10 || ms > n*epollTickMs*2 {
		t.Errorf("after restore %d expirations in %d ms, want %d in about %d ms", ticks, ms, n, n*epollTickMs)
	}
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^signal ok \d+$`), lineTimeout)
}

// TestFdPipe: a producer and a consumer (parent and child) across a full
// pipe. The dump must find bytes in flight; after restore the consumer
// reads on from the very next byte (it checks every one), the pipe keeps
// its capacity, the read end stays one description shared by both
// processes (a flag change by the parent shows in the child), the pidfd
// still reaches the child, and the log written through an offset shared
// by both loses no record.
func TestFdPipe(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "fd_pipe"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := v.WaitLine(t, consumerLine, lineTimeout)
	dir := checkpoint(t, v)
	if n := pipeBytesStored(t, dir); n == 0 {
		t.Error("the dump found no bytes in flight in the pipe")
	}
	waitConsumed(t, v, atoi(t, before[1])+2*fdPipeSize)
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^flags shared$`), lineTimeout)
	checkSharedLog(t, filepath.Join(filepath.Dir(v.Out), "shared.log"))
}

// TestFdPipeLeaveRunning: a --leave-running dump reads the pipe without
// consuming it: the original goes on and its consumer, which checks every
// byte, sees none missing; the store, restored once the original is gone,
// goes on from the dump.
func TestFdPipeLeaveRunning(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "fd_pipe"))
	m := v.WaitLine(t, regexp.MustCompile(`^ready \d+ (\d+)$`), lineTimeout)
	child := atoi(t, m[1])
	before := v.WaitLine(t, consumerLine, lineTimeout)
	dir := dump(t, v, "--leave-running")
	testutil.CheckRunning(t, v.Pid)
	testutil.CheckRunning(t, child)
	if n := pipeBytesStored(t, dir); n == 0 {
		t.Error("the dump found no bytes in flight in the pipe")
	}
	waitConsumed(t, v, atoi(t, before[1])+4*fdPipeSize)
	if err := syscall.Kill(v.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	v.Reap(t)
	testutil.ReapGone(t, child)
	// The original went on writing its log after the dump, and restore
	// refuses a file whose size changed: cut it back to what it was at
	// the dump, which is exactly the records written until then.
	log := filepath.Join(filepath.Dir(v.Out), "shared.log")
	truncateToDumped(t, dir, log)
	restore(t, dir)
	waitConsumed(t, v, atoi(t, before[1])+fdPipeSize)
	checkSharedLog(t, log)
}

// TestFdPipeline restores a real shell pipeline, `seq | awk`, whose awk
// checks that every number arrives once and in order.
func TestFdPipeline(t *testing.T) {
	testutil.RequirePriv(t)
	script := `seq 1 inf | awk '$1 != NR { print "FAIL line", NR, "is", $1; exit 1 }
		NR % 200000 == 0 { print "line", NR; fflush() }'`
	v := testutil.StartVictim(t, "/bin/sh", "-c", script)
	line := regexp.MustCompile(`^line (\d+)$`)
	before := v.WaitLine(t, line, lineTimeout)
	dir := checkpoint(t, v)
	// The processes of a tree are frozen one after another (seq before
	// awk), so awk may have drained the pipe by the time it stops.
	t.Logf("%d bytes were in flight between seq and awk", pipeBytesStored(t, dir))
	var after []string
	for range 5 {
		after = v.WaitLine(t, line, lineTimeout)
	}
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("awk went from line %s to %s", before[1], after[1])
	}
}

// waitConsumed waits until the consumer has checked at least n bytes.
func waitConsumed(t *testing.T, v *testutil.Victim, n int) {
	t.Helper()
	for {
		if m := v.WaitLine(t, consumerLine, lineTimeout); atoi(t, m[1]) >= n {
			return
		}
	}
}

// pipeBytesStored returns how many bytes the store holds for all pipes.
func pipeBytesStored(t *testing.T, dir string) int {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids, err := r.IDs(images.PipeData)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, id := range ids {
		var e pipedata.PipeDataEntry
		if err := r.Record(images.PipeData, id, &e); err != nil {
			t.Fatal(err)
		}
		total += int(e.GetBytes())
	}
	return total
}

// logRecord is one record of fd_pipe's shared.log.
var logRecord = regexp.MustCompile(`^([PC]) (\d{10})\n$`)

// checkSharedLog checks that the records of each process are numbered
// 1, 2, 3, ... with none missing: two descriptions with offsets of their
// own would overwrite each other's records.
func checkSharedLog(t *testing.T, path string) {
	t.Helper()
	const recLen = 13
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]int{"P": 1, "C": 1}
	for off := 0; off+recLen <= len(data); off += recLen {
		m := logRecord.FindSubmatch(data[off : off+recLen])
		if m == nil {
			t.Fatalf("%s: bad record %q at offset %d", path, data[off:off+recLen], off)
		}
		n, _ := strconv.Atoi(string(m[2]))
		if who := string(m[1]); n != next[who] {
			t.Fatalf("%s: record %q at offset %d, want %s %d", path, data[off:off+recLen], off, who, next[who])
		}
		next[string(m[1])]++
	}
	if next["P"] < 3 || next["C"] < 3 {
		t.Errorf("%s: only %d and %d records", path, next["P"]-1, next["C"]-1)
	}
}

// truncateToDumped cuts the file at path to the size the store at dir
// recorded for it.
func truncateToDumped(t *testing.T, dir, path string) {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids, err := r.IDs(images.Files)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var f fdinfo.FileEntry
		if err := r.Record(images.Files, id, &f); err != nil {
			t.Fatal(err)
		}
		if reg := f.GetReg(); reg.GetName() == path && reg.Size != nil {
			if err := os.Truncate(path, int64(reg.GetSize())); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("the store has no record of %s", path)
}

// TestFdMisc: a FIFO holding unread bytes, an inotify watch whose
// descriptor is not 1, and an absolute CLOCK_REALTIME timerfd with
// TFD_TIMER_CANCEL_ON_SET. After restore the FIFO still holds its bytes,
// the watch reports a new file under the same descriptor (and nothing
// else: the watches made to reach that number leave no event), and the
// timer expires at the same wall-clock time (to the millisecond).
func TestFdMisc(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "fd_misc"))
	m := v.WaitLine(t, regexp.MustCompile(`^ready \d+ wd (\d+)$`), lineTimeout)
	wd := m[1]
	if wd == "1" {
		t.Fatal("the victim's watch descriptor is 1; the test needs another")
	}
	state := regexp.MustCompile(`^state fifo ok abs (\d+)$`)
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	before := v.WaitLine(t, state, lineTimeout)
	checkpoint(t, v)
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// The victim reads the clock and the time left a few µs apart: the
	// expiry it computes may differ by a millisecond or so.
	after := v.WaitLine(t, state, lineTimeout)
	if d := atoi(t, after[1]) - atoi(t, before[1]); d < -20 || d > 20 {
		t.Errorf("the absolute timer expires at %s ms after restore, at %s ms before", after[1], before[1])
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(v.Out), "created"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ev := v.WaitLine(t, regexp.MustCompile(`^event (\d+) (\S+)$`), lineTimeout); ev[1] != wd || ev[2] != "created" {
		t.Errorf("inotify event %q after restore, want watch %s and the created file", ev[0], wd)
	}
}

// TestFdRefused: descriptors crlazy cannot save yet make the dump fail
// with a message naming the descriptor and its kind; the victim goes on
// untouched and no store is left.
func TestFdRefused(t *testing.T) {
	testutil.RequirePriv(t)
	for _, c := range []struct{ kind, want string }{
		{"netlink", `fd 3 \(socket:\[\d+\]\): sockets are not supported yet \(netlink, protocol 0\)`},
		{"packet", `fd 3 \(socket:\[\d+\]\): sockets are not supported yet \(packet raw\)`},
		{"io_uring", `fd 3 \(anon_inode:\[io_uring\]\): io_uring instances are not supported`},
		{"userfaultfd", `fd 3 \(anon_inode:\[userfaultfd\]\): userfaultfd descriptors are not supported yet`},
		{"epoll-stale", `fd 3 \(anon_inode:\[eventpoll\]\): epoll target fd 5: the registered file is no longer open at that number`},
	} {
		t.Run(c.kind, func(t *testing.T) {
			v := testutil.StartVictim(t, testutil.BuildVictim(t, "fd_refuse"), c.kind)
			v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
			dir := filepath.Join(t.TempDir(), "img")
			out, code := crlazy(t, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir)
			wantFailure(t, out, code, c.want)
			testutil.CheckRunning(t, v.Pid)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a failed dump left %s behind (%v)", dir, err)
			}
			tick := regexp.MustCompile(`^tick (\d+)$`)
			first := v.WaitLine(t, tick, lineTimeout)
			if next := v.WaitLine(t, tick, lineTimeout); atoi(t, next[1]) != atoi(t, first[1])+1 {
				t.Errorf("ticks %s then %s", first[1], next[1])
			}
		})
	}
}

// TestFdAsync: a socket in signal-driven mode (O_ASYNC, F_SETOWN_EX,
// F_SETSIG), as nginx's channels are, keeps its owner, its signal and its
// flag, and keeps signalling its owner as data arrives.
func TestFdAsync(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "fd_async"))
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		line := regexp.MustCompile(`^async (\d+) (\d+) owner (\d+) sig (\d+) flag (\d)$`)
		before := v.WaitLine(t, line, lineTimeout)
		checkpoint(t, v)
		v.WaitLine(t, line, lineTimeout)
		after := v.WaitLine(t, line, lineTimeout)
		if after[3] != strconv.Itoa(v.Pid) || after[4] != "1" || after[5] != "1" {
			t.Fatalf("after restore %q: want owner %d sig 1 flag 1", after[0], v.Pid)
		}
		if atoi(t, after[1]) <= atoi(t, before[1]) || atoi(t, after[2]) <= atoi(t, before[2]) {
			t.Fatalf("no new signals or bytes after restore: %q, before %q", after[0], before[0])
		}
	})
}
