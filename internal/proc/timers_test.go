package proc

import (
	"bytes"
	"strings"
	"testing"
)

// timersText is /proc/PID/timers of a process with a signal timer to the
// process, a SIGEV_NONE timer and a signal timer to one thread.
const timersText = `ID: 0
signal: 14/00007ffd5a1c3e20
notify: signal/pid.4242
ClockID: 1
ID: 7
signal: 0/0000000000000000
notify: none/pid.4242
ClockID: 0
ID: 8
signal: 34/0000000000000001
notify: signal/tid.4245
ClockID: 2
`

func TestParsePosixTimers(t *testing.T) {
	got, err := ParsePosixTimers(strings.NewReader(timersText))
	if err != nil {
		t.Fatal(err)
	}
	want := []PosixTimer{
		{ID: 0, Signo: 14, SigvalPtr: 0x7ffd5a1c3e20, Notify: sigevSignal, NotifyPid: 4242, Clock: 1},
		{ID: 7, Signo: 0, Notify: sigevNone, NotifyPid: 4242, Clock: 0},
		{ID: 8, Signo: 34, SigvalPtr: 1, Notify: sigevSignal | sigevThreadID, NotifyPid: 4245, Clock: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d timers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timer %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if ts, err := ParsePosixTimers(strings.NewReader("")); err != nil || len(ts) != 0 {
		t.Errorf("no timers: %v, %v", ts, err)
	}
}

func TestParsePosixTimersErrors(t *testing.T) {
	for _, bad := range []string{
		"ID: 1\n",                // cut short
		"signal: 1/0\n",          // no ID first
		"ID: x\n",                // bad id
		"ID: 1\nsignal: 14\n",    // no sival
		"ID: 1\nsignal: 14/zz\n", // bad sival
		"ID: 1\nsignal: 1/0\nnotify: signal\n",
		"ID: 1\nsignal: 1/0\nnotify: ring/pid.1\n",
		"ID: 1\nsignal: 1/0\nnotify: signal/gid.1\n",
		"ID: 1\nsignal: 1/0\nnotify: signal/pid.x\n",
		"ID: 1\nsignal: 1/0\nnotify: signal/pid.1\nClockID: q\n",
	} {
		if _, err := ParsePosixTimers(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		} else {
			checkParseErr(t, err)
		}
	}
}

func FuzzParsePosixTimers(f *testing.F) {
	f.Add([]byte(timersText))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParsePosixTimers(bytes.NewReader(b))
		checkParseErr(t, err)
		for _, tm := range ts {
			if tm.Notify&^sigevThreadID > sigevThread {
				t.Fatalf("accepted notify %d", tm.Notify)
			}
		}
	})
}
