package feature

import (
	"errors"
	"os"
	"testing"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func TestMissingError(t *testing.T) {
	p := newProbe("thing", needs(UseDump), func() (string, error) {
		return "", os.NewSyscallError("frob", linux.EPERM)
	})
	err := p.Err()
	var me *MissingError
	if !errors.As(err, &me) || me.Feature != "thing" {
		t.Fatalf("err = %v, want a *MissingError for thing", err)
	}
	if !errors.Is(err, ErrMissing) || !errors.Is(err, linux.EPERM) {
		t.Errorf("%v matches neither ErrMissing nor EPERM", err)
	}
	if got, want := err.Error(), "thing missing: frob: operation not permitted"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if r := p.Result(); r.OK || r.Status() != StatusMissing {
		t.Errorf("result %+v, status %s", r, r.Status())
	}
}

func TestProbeCached(t *testing.T) {
	runs := 0
	p := newProbe("counted", needs(), func() (string, error) {
		runs++
		return "fine", nil
	})
	for range 3 {
		if err := p.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 1 {
		t.Errorf("probe ran %d times, want once", runs)
	}
	if r := p.Result(); !r.OK || r.Detail != "fine" || r.Status() != StatusOK {
		t.Errorf("result %+v", r)
	}
}

func TestStatusInfo(t *testing.T) {
	r := Result{Name: "soft-dirty", Detail: "absent"}
	if r.Status() != StatusInfo {
		t.Errorf("failed probe needed by nothing: status %s, want %s", r.Status(), StatusInfo)
	}
}
