package proc

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func parseStatFixture(t *testing.T, name string) *Stat {
	t.Helper()
	s, err := ParseStat(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseStatVictim(t *testing.T) {
	got := parseStatFixture(t, "stat-victim.txt")
	want := &Stat{
		Pid: 5786, Comm: "a) b (c", State: 'S', PPid: 1, Pgrp: 5781, Session: 3779,
		TtyNr: 0, Tpgid: -1, Flags: 4194560, Nice: 0, NumThreads: 3, StartTime: 50416,
		StartCode: 94061855260672, EndCode: 94061855262921, StartStack: 140721671747008,
		ExitSignal: 17, Processor: 0,
		StartData: 94061855272400, EndData: 94061855273192, StartBrk: 94062438780928,
		ArgStart: 140721671748296, ArgEnd: 140721671748306,
		EnvStart: 140721671748306, EnvEnd: 140721671749614,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseStatOdd(t *testing.T) {
	// Thread comm set by prctl to "x) (y\nz\\w": stat shows it raw.
	s := parseStatFixture(t, "stat-thread-newline.txt")
	if s.Pid != 5788 || s.Comm != "x) (y\nz\\w" || s.ExitSignal != -1 || s.Processor != 1 || s.State != 'S' {
		t.Errorf("thread: %+v", s)
	}
	if s := parseStatFixture(t, "stat-zombie.txt"); s.State != 'Z' || s.ExitCode != 3<<8 || s.StartCode != 0 {
		t.Errorf("zombie: %+v", s)
	}
	if s := parseStatFixture(t, "stat-kthreadd.txt"); s.PPid != 0 || s.Comm != "kthreadd" || s.Flags&0x200000 == 0 {
		t.Errorf("kthreadd: %+v", s) // PF_KTHREAD = 0x00200000
	}
}

func TestParseStatErrors(t *testing.T) {
	line := string(fixture(t, "stat-victim.txt"))
	tests := []struct{ in, want string }{
		{"", "prefix"},
		{"42 x) S", "prefix"},
		{"(x) S", "prefix"},
		{"42(x) S", "prefix"},
		{"4x2 (x) S 1", "pid"},
		{"42 (x)", "0 fields"},
		{line[:len(line)-4], "49 fields"},
		{strings.Replace(line, " S ", " SS ", 1), "field 3"},
		{strings.Replace(line, " 4194560 ", " -1 ", 1), "field 9"},
		{strings.Replace(line, " 17 0 0 0 ", " 17 0 0 4294967296 ", 1), "field 41"},
	}
	for _, tt := range tests {
		_, err := ParseStat([]byte(tt.in))
		wantMalformed(t, err, tt.want)
	}
	// Extra trailing fields from a future kernel are ignored.
	if _, err := ParseStat([]byte(strings.TrimSpace(line) + " 7 8\n")); err != nil {
		t.Error(err)
	}
}

func TestReadStatSelf(t *testing.T) {
	s, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The group leader is another thread than this goroutine's, most of
	// the time: it may be running or asleep.
	if s.Pid != os.Getpid() || s.PPid != os.Getppid() || (s.State != 'R' && s.State != 'S') || s.NumThreads < 1 {
		t.Errorf("%+v", s)
	}
	if s.StartCode == 0 || s.StartStack == 0 || s.ArgStart >= s.ArgEnd || s.EnvStart >= s.EnvEnd {
		t.Errorf("own memory layout not visible: %+v", s)
	}
	ts, err := ReadTaskStat(os.Getpid(), os.Getpid())
	if err != nil || ts.Comm != s.Comm || ts.Pid != s.Pid {
		t.Errorf("task stat %+v, %v", ts, err)
	}
}
