package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

const (
	lineTimeout = 20 * time.Second
	runTimeout  = 2 * time.Minute
)

// crlazy runs the crlazy binary and returns its combined output and exit
// status.
func crlazy(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testutil.BuildCrlazy(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("crlazy %s: %v", strings.Join(args, " "), err)
		}
	case <-time.After(runTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("crlazy %s did not finish in %v; output:\n%s", strings.Join(args, " "), runTimeout, out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// mustCrlazy runs crlazy and fails the test unless it exits 0.
func mustCrlazy(t *testing.T, args ...string) string {
	t.Helper()
	out, code := crlazy(t, args...)
	if code != 0 {
		t.Fatalf("crlazy %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// dump checkpoints v into a new images dir, which it returns; the victim
// is killed by the dump and reaped here.
func dump(t *testing.T, v *testutil.Victim, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	args := append([]string{"dump", "-t", strconv.Itoa(v.Pid), "-D", dir, "-v", "4", "-o", dir + ".dump.log"}, extra...)
	if out, code := crlazy(t, args...); code != 0 {
		log, _ := os.ReadFile(dir + ".dump.log")
		t.Fatalf("dump: exit %d\n%s\nlog:\n%s", code, out, log)
	}
	if !slices.Contains(extra, "--leave-running") {
		// The dump killed the tree; the victim's children, orphaned,
		// come to the test binary (a subreaper) to be reaped.
		testutil.ReapGone(t, dumpedChildren(t, dir, v.Pid)...)
	}
	return dir
}

// dumpedChildren returns the PIDs in the store at dir other than root.
func dumpedChildren(t *testing.T, dir string, root int) []int {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatalf("open the dumped store: %v", err)
	}
	defer r.Close()
	ids, err := r.IDs(images.Pstree)
	if err != nil {
		t.Fatalf("list the dumped processes: %v", err)
	}
	var pids []int
	for _, id := range ids {
		if int(id) != root {
			pids = append(pids, int(id))
		}
	}
	return pids
}

// restore restores the images in dir detached and returns the pid.
func restore(t *testing.T, dir string) int {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pid")
	out, code := crlazy(t, "restore", "-D", dir, "-d", "--pidfile", pidfile, "-v", "4", "-o", dir+".restore.log")
	if code != 0 {
		log, _ := os.ReadFile(dir + ".restore.log")
		t.Fatalf("restore: exit %d\n%s\nlog:\n%s", code, out, log)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Adopt(t, pid)
	return pid
}

// checkpoint dumps v, reaps it, restores it and checks the pid came back,
// with the CPUs it may run on (crlazy pins a task while it works on it).
func checkpoint(t *testing.T, v *testutil.Victim) string {
	t.Helper()
	cpus := statusLine(t, v.Pid, "Cpus_allowed_list")
	dir := dump(t, v)
	v.Reap(t)
	if pid := restore(t, dir); pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	if got := statusLine(t, v.Pid, "Cpus_allowed_list"); got != cpus {
		t.Errorf("restored process may run on CPUs %q, the original on %q", got, cpus)
	}
	return dir
}

// waitProgress waits for a line matching tick whose submatch field is
// above the one in before: the restored process carries on counting.
func waitProgress(t *testing.T, v *testutil.Victim, tick *regexp.Regexp, field int, before []string) []string {
	t.Helper()
	for {
		after := v.WaitLine(t, tick, lineTimeout)
		if atoi(t, after[field]) > atoi(t, before[field]) {
			return after
		}
	}
}

// restoreModes runs a test once with an eager restore and once with a
// lazy one (its checkpoint function does the one or the other).
func restoreModes(t *testing.T, test func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim))) {
	t.Run("eager", func(t *testing.T) {
		test(t, func(t *testing.T, v *testutil.Victim) { checkpoint(t, v) })
	})
	t.Run("lazy", func(t *testing.T) { test(t, lazyCheckpoint) })
}

// lazyCheckpoint is checkpoint with a lazy restore; at the end of the
// test it checks that every page came in and no guard was left behind.
func lazyCheckpoint(t *testing.T, v *testutil.Victim) {
	t.Helper()
	dir := dump(t, v)
	v.Reap(t)
	pid, log := lazyRestore(t, dir)
	if pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		waitLog(t, log, allInRe, lineTimeout)
		for _, p := range append([]int{pid}, testutil.Descendants(pid)...) {
			guardGone(t, p)
		}
	})
}

// statusLine returns the value of a line of /proc/PID/status.
func statusLine(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return ""
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var tickRe = regexp.MustCompile(`^tick (\d+) ([0-9a-f]{16}) (\d+)$`)

// TestMemcount is the foundation's check (a): 256 MiB of patterned memory
// whose checksum the victim verifies continuously; after restore the
// counter goes on from where it was and a full verification passes.
func TestMemcount(t *testing.T) {
	testutil.RequirePriv(t)
	mib := "256"
	if testing.Short() {
		mib = "32"
	}
	bin := testutil.BuildVictim(t, "memcount")
	v := testutil.StartVictim(t, bin, mib)
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := v.WaitLine(t, tickRe, lineTimeout)
	checkpoint(t, v)
	after := v.WaitLine(t, tickRe, lineTimeout)
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("counter went from %s to %s", before[1], after[1])
	}
	want := mustExpect(t, bin, after[1], mib)
	if after[2] != want {
		t.Errorf("checksum at counter %s = %s, want %s", after[1], after[2], want)
	}
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^full \d+ [0-9a-f]{16} \d+$`), lineTimeout)
}

// mustExpect asks memcount for the checksum it has at counter.
func mustExpect(t *testing.T, bin, counter, mib string) string {
	t.Helper()
	out, err := exec.Command(bin, "--expect", counter, mib).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 || f[0] != "expect" {
		t.Fatalf("memcount --expect said %q", out)
	}
	return f[2]
}

// TestFPU is check (b): vector, mask, x87 and MXCSR state survive.
func TestFPU(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "fpu"))
	m := v.WaitLine(t, regexp.MustCompile(`^(ready (avx2|avx512) \d+|SKIP .*)$`), lineTimeout)
	if strings.HasPrefix(m[1], "SKIP") {
		testutil.RequireFeature(t, "AVX2", errNoAVX)
	}
	tick := regexp.MustCompile(`^tick (\d+) ok$`)
	before := v.WaitLine(t, tick, lineTimeout)
	checkpoint(t, v)
	for range 3 {
		after := v.WaitLine(t, tick, lineTimeout)
		if atoi(t, after[1]) <= atoi(t, before[1]) {
			t.Fatalf("round counter went from %s to %s", before[1], after[1])
		}
	}
}

var errNoAVX = &testFeatureError{"the CPU has no AVX2"}

type testFeatureError struct{ s string }

func (e *testFeatureError) Error() string { return e.s }

// TestFiles is check (c): a file written through an offset shared by two
// descriptors, an O_APPEND log, a directory and devices.
func TestFiles(t *testing.T) {
	testutil.RequirePriv(t)
	work := t.TempDir()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "files"), work)
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	tick := regexp.MustCompile(`^tick (\d+) (\d+)$`)
	before := v.WaitLine(t, tick, lineTimeout)
	checkpoint(t, v)
	var after []string
	for range 5 {
		after = v.WaitLine(t, tick, lineTimeout)
	}
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("counter went from %s to %s", before[1], after[1])
	}
	// The log must hold every counter exactly once, in order, across the
	// checkpoint: nothing lost, nothing written twice.
	logData, err := os.ReadFile(filepath.Join(work, "log"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(logData), "\n"), "\n") {
		if want := "log " + strconv.Itoa(i+1); line != want && i < atoi(t, after[1])-1 {
			t.Fatalf("log line %d is %q, want %q", i+1, line, want)
		}
	}
}

// TestSignals is check (d): a handler on an alternate stack, a blocked
// signal that stays pending across the checkpoint, an ignored signal.
func TestSignals(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "sigs"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	v.WaitLine(t, regexp.MustCompile(`^tick \d+$`), lineTimeout)
	// SIGUSR2 is blocked: it stays pending and must still be after restore.
	if err := syscall.Kill(v.Pid, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, v)
	v.WaitLine(t, regexp.MustCompile(`^tick \d+$`), lineTimeout)
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	m := v.WaitLine(t, regexp.MustCompile(`^handled (.*)$`), lineTimeout)
	for _, want := range []string{"onstack=1", "usr2blocked=1", "sigint-ignored=1", "handlermask=1", "usr2pending=1"} {
		if !strings.Contains(m[1], want) {
			t.Errorf("after restore the handler reported %q, want %s", m[1], want)
		}
	}
}

// TestPython restores a real interpreter.
func TestPython(t *testing.T) {
	testutil.RequirePriv(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	script := filepath.Join(t.TempDir(), "count.py")
	src := `import hashlib, time
data = bytearray(range(256)) * (16 << 12)
want = hashlib.sha256(data).hexdigest()
n = 0
while True:
    n += 1
    ok = hashlib.sha256(data).hexdigest() == want
    print("tick", n, "ok" if ok else "FAIL", flush=True)
    time.sleep(0.05)
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	v := testutil.StartVictim(t, py, script)
	tick := regexp.MustCompile(`^tick (\d+) ok$`)
	before := v.WaitLine(t, tick, lineTimeout)
	checkpoint(t, v)
	after := v.WaitLine(t, tick, lineTimeout)
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("counter went from %s to %s", before[1], after[1])
	}
}

// TestLeaveRunning dumps with --leave-running: the victim goes on, not
// stopped or traced, and the store restores once the original is gone.
func TestLeaveRunning(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "memcount"), "16")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := v.WaitLine(t, tickRe, lineTimeout)
	cpus := statusLine(t, v.Pid, "Cpus_allowed_list")
	dir := dump(t, v, "--leave-running")
	testutil.CheckRunning(t, v.Pid)
	if got := statusLine(t, v.Pid, "Cpus_allowed_list"); got != cpus {
		t.Errorf("after a --leave-running dump the process may run on CPUs %q, before on %q", got, cpus)
	}
	after := v.WaitLine(t, tickRe, lineTimeout)
	if atoi(t, after[1]) <= atoi(t, before[1]) {
		t.Fatalf("counter went from %s to %s after a --leave-running dump", before[1], after[1])
	}
	// While the original runs its pid is taken: restore must refuse and
	// leave it alone.
	out, code := crlazy(t, "restore", "-D", dir, "-d")
	if code == 0 || !strings.Contains(out, "in use") {
		t.Fatalf("restore over a running pid: exit %d, output %q", code, out)
	}
	testutil.CheckRunning(t, v.Pid)
	syscall.Kill(v.Pid, syscall.SIGKILL)
	v.Reap(t)
	restore(t, dir)
	v.WaitLine(t, tickRe, lineTimeout)
}

// TestRestoreWaits checks that restore without -d waits for the restored
// process and returns its exit status.
func TestRestoreWaits(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "memcount"), "8")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	cmd := exec.Command(testutil.BuildCrlazy(t), "restore", "-D", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	v.WaitLine(t, tickRe, lineTimeout)
	select {
	case err := <-done:
		t.Fatalf("restore returned while the restored process runs: %v", err)
	default:
	}
	if err := syscall.Kill(v.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(runTimeout):
		t.Fatal("restore did not return after the restored process died")
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("restore exit status %d, want %d (killed by SIGTERM)", code, 128+int(syscall.SIGTERM))
	}
	testutil.WaitGone(t, v.Pid, lineTimeout)
}

// TestCheck runs `crlazy check` on this machine, where dump and restore
// must work.
func TestCheck(t *testing.T) {
	testutil.RequirePriv(t)
	out := mustCrlazy(t, "check")
	for _, want := range []string{"dump: works here", "restore: works here", "clone3 set_tid"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	js := mustCrlazy(t, "check", "--json")
	if !strings.HasPrefix(strings.TrimSpace(js), "{") {
		t.Errorf("check --json printed %q", js)
	}
}

// credLines are the /proc/PID/status lines that hold credentials.
var credLines = regexp.MustCompile(`(?m)^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):.*$`)

func creds(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(credLines.FindAllString(string(b), -1), "\n")
}

// TestCredentials runs the victim as nobody with a reduced bounding set,
// an inheritable and an ambient capability and no_new_privs, and checks
// that all of it comes back.
func TestCredentials(t *testing.T) {
	testutil.RequirePriv(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is part of Debian's base system: %v", err)
	}
	bin := testutil.BuildVictim(t, "memcount")
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	v := testutil.StartVictim(t, setpriv, "--reuid=65534", "--regid=65534", "--groups=65534,100",
		"--inh-caps=-all,+net_bind_service", "--ambient-caps=-all,+net_bind_service",
		"--bounding-set=-all,+net_bind_service,+chown", "--no-new-privs", bin, "4")
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := creds(t, v.Pid)
	if !strings.Contains(before, "Uid:\t65534") {
		t.Fatalf("the victim does not run as nobody:\n%s", before)
	}
	checkpoint(t, v)
	v.WaitLine(t, tickRe, lineTimeout)
	if after := creds(t, v.Pid); after != before {
		t.Errorf("credentials changed across the checkpoint:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
