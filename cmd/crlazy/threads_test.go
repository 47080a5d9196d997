package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestThreads restores eight threads that each check their TLS value,
// rounding mode, name, alternate stack and mask, three threads blocked in
// futex wait, nanosleep and sigwaitinfo, signals pending for the process
// and for one thread with their payloads.
func TestThreads(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, testThreads)
}

func testThreads(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "threads"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	tick := regexp.MustCompile(`^tick \d+ (\d+)$`)
	before := v.WaitLine(t, tick, lineTimeout)
	threads := countThreads(t, v.Pid)
	checkpoint(t, v)
	waitProgress(t, v, tick, 1, before)
	if got := countThreads(t, v.Pid); got != threads {
		t.Errorf("%d threads after restore, %d before", got, threads)
	}
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("sh", "-c", "grep -H 'Sig\\|State\\|ShdPnd' /proc/"+itoa(v.Pid)+"/task/*/status; "+
				"grep -H . /proc/"+itoa(v.Pid)+"/task/*/wchan; echo").CombinedOutput()
			t.Logf("%s", out)
		}
	})
	// The four events come in any order.
	event := regexp.MustCompile(`^(futex woke|sigwait woke \d+|shared \d+ \d+|thread-signal \d+)$`)
	got := map[string]bool{}
	for range 4 {
		got[v.WaitLine(t, event, lineTimeout)[0]] = true
	}
	for _, want := range []string{"futex woke", "sigwait woke 4242", "shared 111 222", "thread-signal 777"} {
		if !got[want] {
			t.Errorf("after restore no %q; got %v", want, got)
		}
	}
	v.WaitLine(t, tick, lineTimeout)
}

func countThreads(t *testing.T, pid int) int {
	t.Helper()
	n := strings.TrimSpace(statusLine(t, pid, "Threads"))
	return atoi(t, n)
}

// timerTick is one tick line of the timers victim.
type timerTick struct {
	ms, real, virt, prof, mono, thr, left int
}

var timerTickRe = regexp.MustCompile(`^tick \d+ ms=(\d+) real=(\d+) virt=(\d+) prof=(\d+) mono=(\d+) thr=(\d+) left=(\d+)$`)

func waitTimerTick(t *testing.T, v *testutil.Victim) timerTick {
	t.Helper()
	m := v.WaitLine(t, timerTickRe, lineTimeout)
	var tt timerTick
	for i, p := range []*int{&tt.ms, &tt.real, &tt.virt, &tt.prof, &tt.mono, &tt.thr, &tt.left} {
		*p = atoi(t, m[i+1])
	}
	return tt
}

// TestTimers restores interval timers (real, virtual, profiling) and POSIX
// timers (ids with a gap, a signal to the process, one to a thread, one
// without notification) and checks they fire at their periods afterwards.
func TestTimers(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "timers"))
	ids := v.WaitLine(t, regexp.MustCompile(`^ids (\d+) (\d+) (\d+)$`), lineTimeout)
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := waitTimerTick(t, v)
	timers, err := readFileString("/proc/" + itoa(v.Pid) + "/timers")
	if err != nil {
		t.Fatal(err)
	}
	checkpoint(t, v)
	if got, _ := readFileString("/proc/" + itoa(v.Pid) + "/timers"); idsOf(got) != idsOf(timers) {
		t.Errorf("timers after restore:\n%s\nbefore (ids %s):\n%s", got, ids[1:], timers)
	}
	first := waitTimerTick(t, v)
	if first.left >= before.left || first.left <= 0 {
		t.Errorf("the one-shot timer had %d ms left before, %d after", before.left, first.left)
	}
	var last timerTick
	for range 5 {
		last = waitTimerTick(t, v)
	}
	secs := float64(last.ms-first.ms) / 1000
	// Periods: real 20 ms, mono 25 ms, thread 40 ms; virtual and
	// profiling 10 ms of CPU, 40 ms of it every 200 ms.
	for _, r := range []struct {
		name       string
		n          int
		perSec, at float64
	}{
		{"ITIMER_REAL", last.real - first.real, 50, 0.5},
		{"POSIX timer to the process", last.mono - first.mono, 40, 0.5},
		{"POSIX timer to a thread", last.thr - first.thr, 25, 0.5},
		{"ITIMER_VIRTUAL", last.virt - first.virt, 20, 0.25},
		{"ITIMER_PROF", last.prof - first.prof, 20, 0.25},
	} {
		rate := float64(r.n) / secs
		if rate < r.perSec*r.at || rate > r.perSec*1.5 {
			t.Errorf("%s fired %.1f times a second after restore, want about %.0f", r.name, rate, r.perSec)
		}
	}
}

// idsOf returns the "ID:" lines of /proc/PID/timers, sorted as shown.
func idsOf(timers string) string {
	var ids []string
	for _, l := range strings.Split(timers, "\n") {
		if strings.HasPrefix(l, "ID:") {
			ids = append(ids, l)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// TestSeccomp restores a process that dropped capabilities and runs under
// stacked seccomp filters, one thread with a filter of its own: the victim
// checks every tick that each call is still refused as it was, and crlazy
// must get its own calls through the filters to dump and restore it.
func TestSeccomp(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, testSeccomp)
}

func testSeccomp(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "seccomp"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	tick := regexp.MustCompile(`^tick (\d+) ok$`)
	before := v.WaitLine(t, tick, lineTimeout)
	status := seccompStatus(t, v.Pid)
	checkpoint(t, v)
	for range 3 {
		after := v.WaitLine(t, tick, lineTimeout)
		if atoi(t, after[1]) <= atoi(t, before[1]) {
			t.Fatalf("counter went from %s to %s", before[1], after[1])
		}
	}
	if got := seccompStatus(t, v.Pid); got != status {
		t.Errorf("seccomp and capability state after restore:\n%s\nbefore:\n%s", got, status)
	}
}

var seccompLines = regexp.MustCompile(`(?m)^(Seccomp|Seccomp_filters|NoNewPrivs|CapEff|CapPrm|CapBnd):.*$`)

// seccompStatus returns the seccomp and capability lines of every thread.
func seccompStatus(t *testing.T, pid int) string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/" + itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range tasks {
		b, err := os.ReadFile("/proc/" + itoa(pid) + "/task/" + e.Name() + "/status")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(seccompLines.FindAllString(string(b), -1), " "))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

func readFileString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// pyThreads is a Python program with threads hashing data, a thread
// waiting on a condition variable and a signal handler that wakes it.
const pyThreads = `import hashlib, signal, threading, time
N = 4
counts = [0] * N
data = bytearray(range(256)) * 4096
want = hashlib.sha256(data).hexdigest()
lock = threading.Lock()
cond = threading.Condition()
def work(i):
    while True:
        ok = hashlib.sha256(data).hexdigest() == want
        with lock:
            counts[i] += 1 if ok else -10**9
        time.sleep(0.01)
def waiter():
    with cond:
        cond.wait()
    print("woke", flush=True)
def on_usr1(sig, frame):
    with cond:
        cond.notify()
signal.signal(signal.SIGUSR1, on_usr1)
for i in range(N):
    threading.Thread(target=work, args=(i,), daemon=True).start()
threading.Thread(target=waiter, daemon=True).start()
print("ready", flush=True)
n = 0
while True:
    time.sleep(0.1)
    n += 1
    with lock:
        c = min(counts)
    print("tick", n, c, "ok" if c >= 0 else "FAIL", flush=True)
`

// TestPythonThreads restores a Python interpreter running threads (the
// GIL, condition variables, a signal handler): each thread goes on
// counting good hashes and the waiting one wakes when told.
func TestPythonThreads(t *testing.T) {
	testutil.RequirePriv(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	script := filepath.Join(t.TempDir(), "threads.py")
	if err := os.WriteFile(script, []byte(pyThreads), 0o644); err != nil {
		t.Fatal(err)
	}
	v := testutil.StartVictim(t, py, script)
	v.WaitLine(t, regexp.MustCompile(`^ready$`), lineTimeout)
	tick := regexp.MustCompile(`^tick \d+ (\d+) ok$`)
	before := v.WaitLine(t, tick, lineTimeout)
	threads := countThreads(t, v.Pid)
	checkpoint(t, v)
	waitProgress(t, v, tick, 1, before)
	if got := countThreads(t, v.Pid); got != threads {
		t.Errorf("%d threads after restore, %d before", got, threads)
	}
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^woke$`), lineTimeout)
	v.WaitLine(t, tick, lineTimeout)
}
