package proc

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParseLimits(t *testing.T) {
	got, err := ParseLimits(fixtureReader(t, "limits-victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	inf := RlimInfinity
	want := [NumRlimits]Rlimit{
		RlimitCPU: {inf, inf}, RlimitFSize: {inf, inf}, RlimitData: {inf, inf},
		RlimitStack: {8388608, inf}, RlimitCore: {0, inf}, RlimitRSS: {inf, inf},
		RlimitNProc: {96365, 96365}, RlimitNoFile: {20000, 20000},
		RlimitMemLock: {8388608, 8388608}, RlimitAS: {inf, inf}, RlimitLocks: {inf, inf},
		RlimitSigPending: {96365, 96365}, RlimitMsgQueue: {819200, 819200},
		RlimitNice: {0, 0}, RlimitRTPrio: {0, 0}, RlimitRTTime: {inf, inf},
	}
	if got != want {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// ulimit -n 1024 -c 1234 -v 8388608 (kB for -c and -v).
	got, err = ParseLimits(fixtureReader(t, "limits-creds.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got[RlimitNoFile] != (Rlimit{1024, 1024}) || got[RlimitCore] != (Rlimit{1234 << 10, 1234 << 10}) ||
		got[RlimitAS] != (Rlimit{8 << 30, 8 << 30}) {
		t.Errorf("nofile %v core %v as %v", got[RlimitNoFile], got[RlimitCore], got[RlimitAS])
	}
}

func TestParseLimitsErrors(t *testing.T) {
	good := string(fixture(t, "limits-victim.txt"))
	rows := strings.SplitAfter(good, "\n")
	tests := []struct{ in, want string }{
		{"", `missing row "Max cpu time"`},
		{strings.Join(rows[1:], ""), "header"},
		{strings.Replace(good, "Max open files", "Max open filez", 1), "unknown row"},
		{strings.Replace(good, rows[8], "", 1), `missing row "Max open files"`},
		{good + rows[8], `line 18: malformed: duplicate row "Max open files"`},
		{strings.Replace(good, "20000                20000", "20000  -1", 1), "Max open files hard limit"},
		{strings.Replace(good, "8388608              unlimited", "x unlimited", 1), "Max stack size soft limit"},
		{strings.Replace(good, "819200               819200", "819200", 1), "Max msgqueue size hard limit"},
		{strings.Replace(good, "0                    0                    \n", "0\n", 1), "row"},
	}
	for _, tt := range tests {
		_, err := ParseLimits(strings.NewReader(tt.in))
		wantMalformed(t, err, tt.want)
	}
}

func TestReadLimitsSelf(t *testing.T) {
	lims, err := ReadLimits(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if lims[RlimitNoFile] != (Rlimit{rl.Cur, rl.Max}) {
		t.Errorf("nofile %v, getrlimit %v", lims[RlimitNoFile], rl)
	}
}
