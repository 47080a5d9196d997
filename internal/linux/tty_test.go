package linux

import (
	"errors"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

func TestPtsRdev(t *testing.T) {
	for _, i := range []int{0, 1, 255, 256, 1000, 2047} {
		if got := PtsIndex(PtsRdev(i)); got != i {
			t.Errorf("PtsIndex(PtsRdev(%d)) = %d", i, got)
		}
	}
	if PtsIndex(0x501) != -1 {
		t.Error("/dev/console is a pty slave")
	}
}

// TestPtyModes: a new master's slave is locked; termios and window size
// set through the master are the slave's.
func TestPtyModes(t *testing.T) {
	testutil.RequirePriv(t)
	m, idx, err := OpenPtmx()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if locked, err := PtyLocked(m); err != nil || !locked {
		t.Fatalf("new pty locked=%v, %v", locked, err)
	}
	if err := SetPtyLocked(m, false); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(PtsPath(idx), ORdwr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := Stat(PtsPath(idx))
	if err != nil || PtsIndex(st.Rdev) != idx {
		t.Fatalf("slave %s: rdev %#x, %v", PtsPath(idx), st.Rdev, err)
	}
	tio, err := GetTermios(m)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= 0o10 // ECHO
	if err := SetTermios(m, tio); err != nil {
		t.Fatal(err)
	}
	if err := SetWinsize(m, &Winsize{Row: 33, Col: 77}); err != nil {
		t.Fatal(err)
	}
	got, err := GetTermios(s)
	if err != nil || got.Lflag != tio.Lflag {
		t.Errorf("slave lflag %#o, set %#o through the master (%v)", got.Lflag, tio.Lflag, err)
	}
	if w, err := GetWinsize(s); err != nil || w.Row != 33 || w.Col != 77 {
		t.Errorf("slave window %+v, %v", w, err)
	}
	if _, err := TTYSession(m); !errors.Is(err, ENOTTY) {
		t.Errorf("session of a pty nobody controls: %v", err)
	}
	if _, err := GetTermios(m); err != nil {
		t.Fatal(err)
	}
}
