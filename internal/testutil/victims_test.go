package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// victimTimeout is generous: the machines have 2 vCPUs and tests run in parallel.
const victimTimeout = 20 * time.Second

var readyRE = regexp.MustCompile(`^ready (\d+)`)

func startReady(t *testing.T, name string, args ...string) *Victim {
	t.Helper()
	v := StartVictim(t, BuildVictim(t, name), args...)
	if m := v.WaitLine(t, readyRE, victimTimeout); m[1] != strconv.Itoa(v.Pid) {
		t.Fatalf("%s says ready %s, its PID is %d", name, m[1], v.Pid)
	}
	return v
}

func TestMemcountVictim(t *testing.T) {
	const mib = "16"
	v := startReady(t, "memcount", mib)
	tick := regexp.MustCompile(`^tick (\d+) ([0-9a-f]{16}) (\d+)$`)
	m := v.WaitLine(t, tick, victimTimeout)
	out, err := exec.Command(BuildVictim(t, "memcount"), "--expect", m[1], mib).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "expect " + m[1] + " " + m[2] + "\n"; string(out) != want {
		t.Fatalf("memcount --expect printed %q, want %q", out, want)
	}
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	full := v.WaitLine(t, regexp.MustCompile(`^full (\d+) ([0-9a-f]{16}) (\d+)$`), victimTimeout)
	if verified, _ := strconv.Atoi(full[3]); verified < 16*256 {
		t.Fatalf("full check verified %d pages, want at least the %d of the region", verified, 16*256)
	}
	syscall.Kill(v.Pid, syscall.SIGKILL)
	if ws := v.Reap(t); ws.Signal() != syscall.SIGKILL {
		t.Fatalf("wait status %v", ws)
	}
}

func TestFpuVictim(t *testing.T) {
	for _, mode := range []string{"", "avx2", "avx512"} {
		t.Run("mode="+mode, func(t *testing.T) {
			var args []string
			if mode != "" {
				args = []string{mode}
			}
			v := StartVictim(t, BuildVictim(t, "fpu"), args...)
			m := v.WaitLine(t, regexp.MustCompile(`^(?:ready (avx2|avx512) (\d+)|SKIP (\S+))$`), victimTimeout)
			if m[3] != "" {
				t.Skipf("CPU lacks it: %s", m[3])
			}
			if mode != "" && m[1] != mode {
				t.Fatalf("fpu %s runs in mode %s", mode, m[1])
			}
			v.WaitLine(t, regexp.MustCompile(`^tick 2 ok$`), victimTimeout)
		})
	}
}

func TestFilesVictim(t *testing.T) {
	dir := t.TempDir()
	v := startReady(t, "files", dir)
	m := v.WaitLine(t, regexp.MustCompile(`^tick 5 (\d+)$`), victimTimeout)
	if m[1] != "320" {
		t.Fatalf("offset after 5 records %s, want 320", m[1])
	}
	log, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil || !strings.HasPrefix(string(log), "log 1\nlog 2\n") {
		t.Fatalf("log: %q, %v", log, err)
	}
}

func TestSigsVictim(t *testing.T) {
	v := startReady(t, "sigs")
	v.WaitLine(t, regexp.MustCompile(`^tick \d+$`), victimTimeout)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGUSR2, syscall.SIGUSR1} {
		if err := syscall.Kill(v.Pid, sig); err != nil {
			t.Fatal(err)
		}
	}
	v.WaitLine(t, regexp.MustCompile(`^handled onstack=1 usr2blocked=1 sigint-ignored=1 count=1 handlermask=1 usr2pending=1$`), victimTimeout)
	v.WaitLine(t, regexp.MustCompile(`^tick \d+$`), victimTimeout)
}

func TestSockholderVictim(t *testing.T) {
	v := StartVictim(t, BuildVictim(t, "sockholder"))
	m := v.WaitLine(t, regexp.MustCompile(`^ready (\d+) tcp (\d+)$`), victimTimeout)
	if port, _ := strconv.Atoi(m[2]); port <= 0 || port > 65535 {
		t.Fatalf("port %s", m[2])
	}
	u := StartVictim(t, BuildVictim(t, "sockholder"), "unix")
	u.WaitLine(t, regexp.MustCompile(`^ready (\d+) unix$`), victimTimeout)
	for _, pid := range []int{v.Pid, u.Pid} {
		if n := countSockets(t, pid); n == 0 {
			t.Errorf("sockholder %d holds no socket", pid)
		}
	}
}

func countSockets(t *testing.T, pid int) int {
	fds, err := os.ReadDir(procPath(pid, "fd"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if l, _ := os.Readlink(procPath(pid, "fd", fd.Name())); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

func TestDemoVictim(t *testing.T) {
	if testing.Short() {
		t.Skip("takes two seconds; skipped with -short")
	}
	v := startReady(t, "demo", "8")
	line := regexp.MustCompile(`^counter=(\d+) checksum=([0-9a-f]{16}) \(verified\)$`)
	first, _ := strconv.ParseUint(v.WaitLine(t, line, victimTimeout)[1], 10, 64)
	second, _ := strconv.ParseUint(v.WaitLine(t, line, victimTimeout)[1], 10, 64)
	if second <= first {
		t.Fatalf("counter went from %d to %d", first, second)
	}
}
