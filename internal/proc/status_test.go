package proc

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func parseStatusFixture(t *testing.T, name string) *Status {
	t.Helper()
	s, err := ParseStatus(fixtureReader(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseStatusVictim(t *testing.T) {
	got := parseStatusFixture(t, "status-victim.txt")
	want := &Status{
		Name: "a) b (c", Umask: 0o22, HasUmask: true, State: 'S',
		Tgid: 5786, Pid: 5786, PPid: 1,
		NStgid: []int{5786}, NSpid: []int{5786}, NSpgid: []int{5781}, NSsid: []int{3779},
		Threads: 3, SigQ: "0/96365",
		SigBlk: 0x2, SigIgn: 0x4207, SigCgt: 0x100000800,
		CapPrm: 0x1fffeffffff, CapEff: 0x1fffeffffff, CapBnd: 0x1fffeffffff,
		THPEnabled: true, HasTHPEnabled: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// status-creds.txt: setresuid(2001, 2002, 2003), setresgid(1001, 1002,
// 1003), setgroups(10, 20, 30000), umask 027, two seccomp filters,
// no_new_privs, THP disabled, SIGRTMIN+2 blocked and pending.
func TestParseStatusCreds(t *testing.T) {
	s := parseStatusFixture(t, "status-creds.txt")
	if s.Uid != [4]uint32{2001, 2002, 2003, 2002} || s.Gid != [4]uint32{1001, 1002, 1003, 1002} {
		t.Errorf("uid %v gid %v", s.Uid, s.Gid)
	}
	if !reflect.DeepEqual(s.Groups, []uint32{10, 20, 30000}) || s.Umask != 0o27 {
		t.Errorf("groups %v umask %o", s.Groups, s.Umask)
	}
	if !s.NoNewPrivs || s.Seccomp != 2 || s.SeccompFilters != 2 || s.THPEnabled || !s.HasTHPEnabled {
		t.Errorf("nnp %v seccomp %d/%d thp %v", s.NoNewPrivs, s.Seccomp, s.SeccompFilters, s.THPEnabled)
	}
	const rtmin2 = 1 << (34 + 2 - 1) // SIGRTMIN is 34 in the kernel's numbering
	if s.ShdPnd != rtmin2 || s.SigBlk != rtmin2 || s.SigPnd != 0 || s.SigIgn != 1<<(13-1) {
		t.Errorf("shdpnd %#x sigblk %#x sigign %#x", s.ShdPnd, s.SigBlk, s.SigIgn)
	}
	if s.CapPrm != 0 || s.CapEff != 0 || s.CapBnd != 0x1fffeffffff {
		t.Errorf("caps %#x %#x %#x", s.CapPrm, s.CapEff, s.CapBnd)
	}
}

func TestParseStatusOddTasks(t *testing.T) {
	if s := parseStatusFixture(t, "status-thread-escaped.txt"); s.Name != "x) (y\nz\\w" || s.Pid != 5788 || s.Tgid != 5786 {
		t.Errorf("thread: name %q pid %d tgid %d", s.Name, s.Pid, s.Tgid)
	}
	if s := parseStatusFixture(t, "status-zombie.txt"); s.State != 'Z' || s.HasUmask || s.Name != "python3" {
		t.Errorf("zombie: state %c umask %v", s.State, s.HasUmask)
	}
	if s := parseStatusFixture(t, "status-kthreadd.txt"); !s.Kthread || s.PPid != 0 || s.Name != "kthreadd" {
		t.Errorf("kthreadd: kthread %v ppid %d", s.Kthread, s.PPid)
	}
}

func TestParseStatusNameBlanks(t *testing.T) {
	in := "Name:\t a\tb \\\\n\nState:\tR\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0 0 0 0\nGid:\t0 0 0 0\n"
	s, err := ParseStatus(strings.NewReader(in))
	if err != nil || s.Name != " a\tb \\n" {
		t.Errorf("name %q, %v", s.Name, err)
	}
}

func TestParseStatusErrors(t *testing.T) {
	base := "Name:\tx\nState:\tR (running)\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
	tests := []struct{ in, want string }{
		{strings.Replace(base, "Pid:\t1\n", "", 1), "missing Pid"},
		{strings.Replace(base, "Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0", 1), "want 4 ids"},
		{strings.Replace(base, "State:\tR (running)", "State:\t", 1), "empty state"},
		{base + "SigBlk:\t00x0\n", "SigBlk"},
		{base + "Umask:\t0089\n", "line 8: malformed: Umask"},
		{base + "NoNewPrivs:\t2\n", "boolean"},
		{base + "Groups:\t1 -2\n", "Groups"},
		{base + "NSpid:\t1 x\n", "NSpid"},
	}
	for _, tt := range tests {
		_, err := ParseStatus(strings.NewReader(tt.in))
		wantMalformed(t, err, tt.want)
	}
	if _, err := ParseStatus(strings.NewReader(base + "NewField:\tzz\nno colon\n")); err != nil {
		t.Errorf("unknown lines: %v", err)
	}
}

func TestReadStatusSelf(t *testing.T) {
	s, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Pid != os.Getpid() || s.Tgid != os.Getpid() || s.PPid != os.Getppid() {
		t.Errorf("pid %d tgid %d ppid %d", s.Pid, s.Tgid, s.PPid)
	}
	if s.Uid[0] != uint32(os.Getuid()) || s.Gid[1] != uint32(os.Getegid()) || (s.State != 'R' && s.State != 'S') {
		t.Errorf("uid %v gid %v state %c", s.Uid, s.Gid, s.State)
	}
	comm, err := ReadComm(os.Getpid())
	if err != nil || comm != s.Name {
		t.Errorf("comm %q (%v), status name %q", comm, err, s.Name)
	}
	ts, err := ReadTaskStatus(os.Getpid(), os.Getpid())
	if err != nil || ts.Pid != os.Getpid() {
		t.Errorf("task status %+v, %v", ts, err)
	}
}
