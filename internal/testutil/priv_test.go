package testutil

import (
	"errors"
	"strings"
	"testing"
)

const statusFixture = `Name:	cat
State:	R (running)
CapInh:	0000000000000000
CapPrm:	000001fffeffffff
CapEff:	000001fffeffffff
CapBnd:	000001fffeffffff
`

func TestParseCapEff(t *testing.T) {
	caps, err := parseCapEff(strings.NewReader(statusFixture))
	if err != nil || caps != 0x000001fffeffffff {
		t.Fatalf("parseCapEff = %#x, %v", caps, err)
	}
	if _, err := parseCapEff(strings.NewReader("Name:\tcat\n")); !errors.Is(err, errNoCapEff) {
		t.Fatalf("parseCapEff without CapEff: %v, want errNoCapEff", err)
	}
	if _, err := parseCapEff(strings.NewReader("CapEff:\tzz\n")); err == nil {
		t.Fatal("parseCapEff accepted a bad mask")
	}
}

func TestMissingCaps(t *testing.T) {
	for _, tc := range []struct {
		caps uint64
		want string
	}{
		{0x000001fffeffffff, ""},
		{1<<capSysPtrace | 1<<capCheckpointRestore, ""},
		{1 << capSysAdmin, "no CAP_SYS_PTRACE"},
		{1 << capSysPtrace, "neither CAP_SYS_ADMIN nor CAP_CHECKPOINT_RESTORE"},
	} {
		if got := missingCaps(tc.caps); got != tc.want {
			t.Errorf("missingCaps(%#x) = %q, want %q", tc.caps, got, tc.want)
		}
	}
}

func TestRequireFeature(t *testing.T) {
	absent := errors.New("ENOSYS")
	t.Setenv(RequirePrivEnv, "")
	if f := runFake(func(tb testing.TB) { RequireFeature(tb, "uffd", nil) }); f.failed || f.skipped {
		t.Fatalf("RequireFeature(nil) reported %q", f.text())
	}
	f := runFake(func(tb testing.TB) { RequireFeature(tb, "uffd", absent) })
	if !f.skipped || f.failed || !strings.Contains(f.text(), "uffd") {
		t.Fatalf("RequireFeature without %s: skipped=%v failed=%v %q", RequirePrivEnv, f.skipped, f.failed, f.text())
	}
	t.Setenv(RequirePrivEnv, "1")
	f = runFake(func(tb testing.TB) { RequireFeature(tb, "uffd", absent) })
	if !f.failed || f.skipped || !strings.Contains(f.text(), "ENOSYS") {
		t.Fatalf("RequireFeature with %s=1: skipped=%v failed=%v %q", RequirePrivEnv, f.skipped, f.failed, f.text())
	}
}

func TestRequirePrivMatchesProbe(t *testing.T) {
	t.Setenv(RequirePrivEnv, "")
	f := runFake(func(tb testing.TB) { RequirePriv(tb) })
	if problem := privProblem(); problem == "" && (f.failed || f.skipped) {
		t.Fatalf("RequirePriv reported %q although the probe found nothing missing", f.text())
	} else if problem != "" && (!f.skipped || f.failed) {
		t.Fatalf("RequirePriv with %q missing: skipped=%v failed=%v", problem, f.skipped, f.failed)
	}
	t.Logf("privilege probe: %q", privProblem())
}
