package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
)

// treeVictim is a running testdata/victims/tree.c and its processes.
type treeVictim struct {
	v                *testutil.Victim
	root, z, s, l, g int
	w                int
}

var treeReadyRe = regexp.MustCompile(`^ready (\d+) z=(\d+) s=(\d+) l=(\d+) g=(\d+) w=(\d+)$`)

func startTree(t *testing.T) *treeVictim {
	t.Helper()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "tree"))
	m := v.WaitLine(t, treeReadyRe, lineTimeout)
	tv := &treeVictim{v: v}
	for i, p := range []*int{&tv.root, &tv.z, &tv.s, &tv.l, &tv.g, &tv.w} {
		*p = atoi(t, m[i+1])
	}
	v.WaitLine(t, regexp.MustCompile(`^tick \d+ s=T$`), lineTimeout)
	return tv
}

// family is what a process's place in the tree is: parent, process
// group, session, state and name.
type family struct {
	ppid, pgid, sid int
	state           byte
	comm            string
}

func familyOf(t *testing.T, pid int) family {
	t.Helper()
	st, err := proc.ReadStat(pid)
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	return family{st.PPid, st.Pgrp, st.Session, st.State, st.Comm}
}

// TestTree restores a tree with a zombie, a stopped child, a grandchild in
// a session whose leader is gone, a child sharing the root's descriptor
// table and working directory, a child subreaper and a parent-death
// signal. The victim checks most of it itself on every tick.
func TestTree(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, testTree)
}

func testTree(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
	tv := startTree(t)
	pids := []int{tv.root, tv.z, tv.s, tv.g, tv.w}
	before := map[int]family{}
	for _, pid := range pids {
		before[pid] = familyOf(t, pid)
	}
	if before[tv.z].state != 'Z' || before[tv.s].state != 'T' {
		t.Fatalf("the victim is not ready: zombie %c, stopped %c", before[tv.z].state, before[tv.s].state)
	}
	checkpoint(t, tv.v)
	for range 3 {
		tv.v.WaitLine(t, regexp.MustCompile(`^tick \d+ s=T$`), lineTimeout)
	}
	for _, pid := range pids {
		got := familyOf(t, pid)
		want := before[pid]
		if pid == tv.root {
			// The root's parent is whoever restored it.
			got.ppid, want.ppid = 0, 0
		}
		if want.state != 'Z' && want.state != 'T' {
			// Running or sleeping: either, at any moment.
			got.state, want.state = 0, 0
		}
		if got != want {
			t.Errorf("pid %d: after restore %+v, before %+v", pid, got, want)
		}
	}
	if err := syscall.Kill(tv.s, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	tv.v.WaitLine(t, regexp.MustCompile(`^s cont \d+$`), lineTimeout)
	if err := syscall.Kill(tv.root, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	tv.v.WaitLine(t, regexp.MustCompile(`^reaped `+strconv.Itoa(tv.z)+` status 7$`), lineTimeout)
}

// TestTreePidTaken restores a tree one of whose pids a process outside it
// has: the restore must fail as a whole, leave none of the tree running
// and leave that process alone.
func TestTreePidTaken(t *testing.T) {
	testutil.RequirePriv(t)
	tv := startTree(t)
	dir := dump(t, tv.v)
	tv.v.Reap(t)
	// Restore once, then end everything but the stopped child, which
	// keeps its pid.
	restore(t, dir)
	for _, pid := range []int{tv.g, tv.w, tv.root} {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	testutil.ReapGone(t, tv.g, tv.w, tv.root, tv.z)
	testutil.Adopt(t, tv.s)
	held := familyOf(t, tv.s)
	out, code := crlazy(t, "restore", "-D", dir, "-d")
	wantFailure(t, out, code, `pid `+strconv.Itoa(tv.s)+`: pid is in use`)
	testutil.CheckNoLeftovers(t, tv.root, tv.z, tv.g, tv.w)
	if got := familyOf(t, tv.s); got.state != 'T' || got.ppid != held.ppid {
		t.Errorf("the process that held the pid changed: %+v, was %+v", got, held)
	}
	checkNoStubs(t)
}

// TestMountTree mounts the store of a tree: every process has its
// directory, the zombie one without memory, and the criu/ view decodes.
func TestMountTree(t *testing.T) {
	testutil.RequirePriv(t)
	tv := startTree(t)
	dir := dump(t, tv.v)
	tv.v.Reap(t)
	mnt, _ := mountStore(t, dir)
	for _, pid := range []int{tv.root, tv.z, tv.s, tv.g, tv.w} {
		_, err := os.Stat(filepath.Join(mnt, strconv.Itoa(pid), "memory"))
		if zombie := pid == tv.z; zombie != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pid %d (zombie %v): memory/: %v", pid, zombie, err)
		}
		if _, err := os.ReadFile(filepath.Join(mnt, strconv.Itoa(pid), "core.json")); err != nil {
			t.Error(err)
		}
	}
	c := crit.New(nil, nil, filepath.Join(mnt, "criu"), false, false)
	ps, err := c.ExplorePs()
	if err != nil || ps.PID != uint32(tv.root) || len(ps.Children) == 0 {
		t.Fatalf("crit ExplorePs = %+v, %v", ps, err)
	}
	checkTools(t, mnt)
}
