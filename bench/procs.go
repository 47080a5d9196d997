package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

const (
	pollEvery   = 5 * time.Millisecond
	goneTimeout = 30 * time.Second
)

var (
	errVictimFailed = errors.New("victim reported a failure")
	errTimeout      = errors.New("timed out")
	readyRe         = regexp.MustCompile(`^ready (\d+) (\d+)$`)
)

// tree is a bench_touch process tree: started by the harness, then
// dumped and restored (with the same PIDs) again and again.
type tree struct {
	h    *harness
	cmd  *exec.Cmd // the started root, until it is reaped
	root int
	pids []int  // every process, root first (from their ready lines)
	out  string // the output file all of them append to
	off  int64  // bytes of out consumed by waitLine
	mem  uint64 // bytes of memory each process filled, summed

	frozen time.Time // when the last dump began (set by the caller)
}

// minGap is the least time between a dump's start and a restore of it:
// the victim detects a restore by a jump of its clock of more than 50 ms
// (JUMP_MS in bench_touch.c), which a tiny process could otherwise beat.
const minGap = 120 * time.Millisecond

// waitGap waits until minGap has passed since the last dump began.
func (t *tree) waitGap() {
	if d := time.Since(t.frozen); d < minGap {
		time.Sleep(minGap - d)
	}
}

// startTree starts bench_touch with mib MiB over procs processes of
// threads threads, and waits until every process filled its memory and
// the root ran a pass.
func (h *harness) startTree(dir string, mib, threads, procs int) (*tree, error) {
	out := filepath.Join(dir, "victim.out")
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	args := []string{strconv.Itoa(mib), strconv.Itoa(hotPct), strconv.Itoa(zeroPct), strconv.Itoa(threads), strconv.Itoa(procs)}
	cmd := exec.Command(h.victim, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = f, f, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &tree{h: h, cmd: cmd, root: cmd.Process.Pid, pids: []int{cmd.Process.Pid}, out: out}
	h.atCleanup(t.kill)
	if err := t.waitReady(procs, stepTimeout(mib)); err != nil {
		t.kill()
		return nil, err
	}
	return t, nil
}

// stepTimeout bounds one step of a cycle on mib MiB: generous, since the
// first touch of memory runs at 0.3 GB/s at worst on this VM.
func stepTimeout(mib int) time.Duration {
	return time.Minute + time.Duration(mib)*20*time.Millisecond
}

func (t *tree) waitReady(procs int, timeout time.Duration) error {
	seen := map[int]bool{}
	for len(seen) < procs {
		m, err := t.waitLine(readyRe, timeout)
		if err != nil {
			return err
		}
		pid, _ := strconv.Atoi(m[1])
		pages, _ := strconv.ParseUint(m[2], 10, 64)
		if !seen[pid] && pid != t.root {
			t.pids = append(t.pids, pid)
		}
		seen[pid] = true
		t.mem += pages * pageSize
	}
	_, err := t.waitPass(timeout)
	return err
}

const pageSize = 4096

// waitPass waits for a pass line of the root after everything consumed.
func (t *tree) waitPass(timeout time.Duration) ([]string, error) {
	return t.waitLine(regexp.MustCompile(`^pass `+strconv.Itoa(t.root)+` \d+$`), timeout)
}

// waitLat waits for the latency line (see bench_touch.c) of every
// process of the tree and merges them.
func (t *tree) waitLat(timeout time.Duration) (latency, error) {
	re := regexp.MustCompile(`^lat (\d+) .*$`)
	got := map[int]latency{}
	for len(got) < len(t.pids) {
		m, err := t.waitLine(re, timeout)
		if err != nil {
			return latency{}, err
		}
		pid, _ := strconv.Atoi(m[1])
		lm := latRe(pid).FindStringSubmatch(m[0])
		if lm == nil {
			return latency{}, fmt.Errorf("victim %d: bad line %q", pid, m[0])
		}
		l, err := parseLat(lm)
		if err != nil {
			return latency{}, err
		}
		got[pid] = l
	}
	if len(got) == 1 {
		return got[t.root], nil
	}
	return mergeLat(got), nil
}

// waitLine waits until a complete line after those consumed matches re,
// consumes the output up to it and returns the submatches. A FAIL line
// is an error at once.
func (t *tree) waitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := t.scan(re)
		if m != nil || err != nil {
			return m, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("victim %d: no line matching %q in %v: %w", t.root, re, timeout, errTimeout)
		}
		time.Sleep(pollEvery)
	}
}

func (t *tree) scan(re *regexp.Regexp) ([]string, error) {
	data, err := os.ReadFile(t.out)
	if err != nil {
		return nil, err
	}
	for int(t.off) < len(data) {
		rest := data[t.off:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, nil
		}
		line := string(rest[:nl])
		t.off += int64(nl + 1)
		if bytes.HasPrefix(rest, []byte("FAIL")) {
			return nil, fmt.Errorf("victim %d: %q: %w", t.root, line, errVictimFailed)
		}
		if m := re.FindStringSubmatch(line); m != nil {
			return m, nil
		}
	}
	return nil, nil
}

// skipOutput consumes everything written so far (before a restore, so
// that only lines of the restored tree count).
func (t *tree) skipOutput() {
	if fi, err := os.Stat(t.out); err == nil {
		t.off = fi.Size()
	}
}

// reapDumped waits until the dumped (killed) tree is gone, so that a
// restore can have its PIDs.
func (t *tree) reapDumped() error {
	if t.cmd != nil {
		_ = t.cmd.Wait()
		t.cmd = nil
	}
	return waitGone(t.pids)
}

// kill kills every process of the tree that still runs the victim and
// waits until all are gone.
func (t *tree) kill() {
	for _, pid := range t.pids {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == t.h.victim {
			_ = linux.Kill(pid, int(linux.SIGKILL))
		}
	}
	if t.cmd != nil {
		_ = t.cmd.Wait()
		t.cmd = nil
	}
	if err := waitGone(t.pids); err != nil {
		t.h.prog.linef("bench: %v", err)
	}
}

// waitGone reaps our zombie children until none of pids exists.
func waitGone(pids []int) error {
	deadline := time.Now().Add(goneTimeout)
	for {
		sweepZombies()
		left := 0
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				left = pid
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d still there %v after it should be gone: %w", left, goneTimeout, errTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// sweepZombies reaps every zombie child of ours: processes reparented to
// us (we are a subreaper) once crlazy or their parent exited. The harness
// waits for the commands it runs itself before it sweeps.
func sweepZombies() {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := proc.ReadStat(pid); err == nil && st.PPid == self && st.State == 'Z' {
			_, _, _ = linux.Wait4(pid, linux.WNOHANG)
		}
	}
}
