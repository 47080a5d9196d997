package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	tickRE  = regexp.MustCompile(`^tick (\d+)`)
	neverRE = regexp.MustCompile(`^never`)
)

// fileVictim is a Victim with only an output file, written by the test.
func fileVictim(t *testing.T) *Victim {
	return &Victim{Out: filepath.Join(t.TempDir(), "out")}
}

func appendOut(t *testing.T, v *Victim, s string) {
	t.Helper()
	f, err := os.OpenFile(v.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestWaitLineConsumesLines(t *testing.T) {
	v := fileVictim(t)
	appendOut(t, v, "ready 12\ntick 1 a\ntick 2 b\n")
	for _, want := range []string{"1", "2"} {
		if m := v.WaitLine(t, tickRE, time.Second); m[1] != want {
			t.Fatalf("WaitLine = %q, want tick %s", m, want)
		}
	}
	f := runFake(func(tb testing.TB) { v.WaitLine(tb, regexp.MustCompile(`^ready`), 50*time.Millisecond) })
	if !f.failed {
		t.Fatal("WaitLine matched a line an earlier WaitLine consumed")
	}
}

func TestWaitLineWaitsForNewline(t *testing.T) {
	v := fileVictim(t)
	appendOut(t, v, "tick 7")
	if f := runFake(func(tb testing.TB) { v.WaitLine(tb, tickRE, 50*time.Millisecond) }); !f.failed {
		t.Fatal("WaitLine matched a line without its newline")
	}
	appendOut(t, v, "\n")
	if m := v.WaitLine(t, tickRE, time.Second); m[1] != "7" {
		t.Fatalf("WaitLine = %q, want tick 7", m)
	}
}

func TestWaitLineFailsAtOnceOnFAIL(t *testing.T) {
	v := fileVictim(t)
	appendOut(t, v, "tick 1\nFAIL page 3 word 2\ntick 2\n")
	start := time.Now()
	f := runFake(func(tb testing.TB) { v.WaitLine(tb, neverRE, time.Minute) })
	if !f.failed || !strings.Contains(f.text(), "FAIL page 3 word 2") {
		t.Fatalf("WaitLine on a FAIL line: failed=%v, message %q", f.failed, f.text())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("WaitLine took %v to report a FAIL line", d)
	}
}

func TestWaitLineTimeoutShowsTail(t *testing.T) {
	v := fileVictim(t)
	for i := range 30 {
		appendOut(t, v, fmt.Sprintf("line %d\n", i))
	}
	f := runFake(func(tb testing.TB) { v.WaitLine(tb, neverRE, 50*time.Millisecond) })
	msg := f.text()
	if !f.failed || !strings.Contains(msg, "no new line matching") {
		t.Fatalf("WaitLine timeout: failed=%v, message %q", f.failed, msg)
	}
	if !strings.Contains(msg, "line 10\n") || !strings.Contains(msg, "line 29\n") || strings.Contains(msg, "line 9\n") {
		t.Fatalf("timeout message does not show the last %d lines:\n%s", tailLines, msg)
	}
}

func TestTail(t *testing.T) {
	v := fileVictim(t)
	appendOut(t, v, "a\nb\nc")
	if got := v.Tail(2); got != "b\nc" {
		t.Fatalf("Tail(2) = %q, want %q", got, "b\nc")
	}
	if got := v.Tail(5); got != "a\nb\nc" {
		t.Fatalf("Tail(5) = %q", got)
	}
}
