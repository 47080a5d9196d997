package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// RequirePrivEnv names the environment variable that turns skips for missing
// privilege or features into failures when it is "1".
const RequirePrivEnv = "CRLAZY_REQUIRE_PRIV"

// Capability bits, from include/uapi/linux/capability.h.
const (
	capSysPtrace         = 19
	capSysAdmin          = 21
	capCheckpointRestore = 40
)

const (
	nsLastPidPath   = "/proc/sys/kernel/ns_last_pid"
	ptraceScopePath = "/proc/sys/kernel/yama/ptrace_scope"
	// ptraceScopeNoAttach is Yama's "no attach" level: ptrace is off for everyone.
	ptraceScopeNoAttach = "3"
)

var errNoCapEff = errors.New("no CapEff line in status")

// privProblem is computed once: what stops this process from running
// privileged tests, or "" when nothing does.
var privProblem = sync.OnceValue(findPrivProblem)

// RequirePriv skips t, or fails it when CRLAZY_REQUIRE_PRIV=1, unless the
// process is root with CAP_SYS_PTRACE and CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE, can write /proc/sys/kernel/ns_last_pid, and ptrace
// is not disabled by Yama.
func RequirePriv(t testing.TB) {
	t.Helper()
	if p := privProblem(); p != "" {
		skipOrFatal(t, "needs privilege: %s", p)
	}
}

// RequireFeature skips t, or fails it when CRLAZY_REQUIRE_PRIV=1, when err is
// not nil. err is the result of a probe that proved feature name absent; nil
// means the feature is there and RequireFeature does nothing.
func RequireFeature(t testing.TB, name string, err error) {
	t.Helper()
	if err != nil {
		skipOrFatal(t, "needs %s: %v", name, err)
	}
}

// PrivRequired reports whether CRLAZY_REQUIRE_PRIV=1 is set.
func PrivRequired() bool {
	return os.Getenv(RequirePrivEnv) == "1"
}

func skipOrFatal(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if PrivRequired() {
		t.Fatalf("%s (%s=1: failing instead of skipping)", msg, RequirePrivEnv)
	}
	t.Skip(msg)
}

func findPrivProblem() string {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Sprintf("not root (euid %d)", euid)
	}
	if p := capProblem(); p != "" {
		return p
	}
	f, err := os.OpenFile(nsLastPidPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Sprintf("cannot set PIDs: %v", err)
	}
	f.Close()
	if b, err := os.ReadFile(ptraceScopePath); err == nil && strings.TrimSpace(string(b)) == ptraceScopeNoAttach {
		return "ptrace is disabled (kernel.yama.ptrace_scope=3)"
	}
	return ""
}

func capProblem() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return fmt.Sprintf("read capabilities: %v", err)
	}
	defer f.Close()
	caps, err := parseCapEff(f)
	if err != nil {
		return fmt.Sprintf("read capabilities: %v", err)
	}
	return missingCaps(caps)
}

// missingCaps names the capabilities missing from the effective set caps.
func missingCaps(caps uint64) string {
	has := func(bit uint) bool { return caps&(1<<bit) != 0 }
	switch {
	case !has(capSysPtrace):
		return "no CAP_SYS_PTRACE"
	case !has(capSysAdmin) && !has(capCheckpointRestore):
		return "neither CAP_SYS_ADMIN nor CAP_CHECKPOINT_RESTORE"
	}
	return ""
}

// parseCapEff returns the CapEff mask from the text of a /proc/PID/status file.
func parseCapEff(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
		}
		return caps, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("scan status: %w", err)
	}
	return 0, errNoCapEff
}
