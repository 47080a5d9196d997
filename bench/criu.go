package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var errCriuCheck = errors.New("criu check failed")

// runCriu runs every workload with the criu of --criu, if it works here,
// and sets each comparable figure's crlazy/criu ratio. Without a working
// criu it says why and leaves the figures alone.
func (h *harness) runCriu(ws []workload, rows []*workloadRows) criuStatus {
	st := criuStatus{Path: h.opts.criu}
	if st.Path == "" {
		return st
	}
	h.prog.step("criu check")
	if err := h.criuCheck(); err != nil {
		st.Reason = oneLine(err.Error())
		h.prog.linef("bench: criu: %s; going on without it", st.Reason)
		for _, wr := range rows {
			for _, d := range workloadFigs {
				if f := wr.fig(d.key); d.criu != "" && f != nil {
					f.CriuNA = "criu did not run"
				}
			}
		}
		return st
	}
	st.Ran = true
	for i, w := range ws {
		var samples []*sample
		for r := range h.opts.runs {
			samples = append(samples, h.criuCycle(w, fmt.Sprintf("criu run %d/%d", r+1, h.opts.runs)))
		}
		setCriuRatios(rows[i], samples)
	}
	return st
}

func setCriuRatios(wr *workloadRows, samples []*sample) {
	for _, d := range workloadFigs {
		if d.criu == "" {
			continue
		}
		f, c := wr.fig(d.key), aggregate(figDef{key: d.criu, kind: count}, samples, nil)
		switch {
		case c.Median == nil:
			f.CriuNA = c.NA
		case f.Median != nil && *c.Median != 0:
			ratio := *f.Median / *c.Median
			f.Criu = &ratio
		}
	}
}

// criuCheck runs `criu check`: the distro's criu fails it on this
// kernel's vDSO layout.
func (h *harness) criuCheck() error {
	out, err := exec.Command(h.opts.criu, "check").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s: %w: %s", errCriuCheck, h.opts.criu, err, lastLine(string(out)))
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// criuCycle is a cycle with criu: dump (which kills the tree), eager
// restore, lazy restore with criu's lazy-pages daemon.
func (h *harness) criuCycle(w workload, tag string) *sample {
	s := newSample()
	dir := filepath.Join(h.work, "criu-"+w.id+"-"+dirName(tag))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail(err, criuKeys...)
		return s
	}
	defer os.RemoveAll(dir)
	h.prog.step("%s, %s", w.name, tag)
	if err := h.tryCriuCycle(w, dir, s); err != nil {
		h.prog.linef("bench: %s, %s: %v", w.name, tag, err)
		s.fail(err, criuKeys...)
	}
	return s
}

var criuKeys = []string{"criu_dump_s", "criu_dump_gbps", "criu_store_mib", "criu_eager_s", "criu_eager_gbps",
	"criu_lazy_run_ms", "criu_allin_ms", "criu_allin_gbps"}

func (h *harness) tryCriuCycle(w workload, dir string, s *sample) error {
	t, err := h.startTree(dir, w.mib, w.threads, w.procs)
	if err != nil {
		return err
	}
	defer t.kill()
	img := filepath.Join(dir, "img")
	timeout := stepTimeout(w.mib)
	t.frozen = time.Now()
	secs, err := timed(func() error {
		return h.criu(timeout, "dump", "-t", strconv.Itoa(t.root), "-D", img, "--shell-job", "-o", "dump.log")
	})
	if err != nil {
		return err
	}
	if err := t.reapDumped(); err != nil {
		return err
	}
	store, _ := dirBytes(img)
	data := pagesBytes(img)
	s.set("criu_dump_s", secs)
	s.set("criu_dump_gbps", gbps(t.mem, secs))
	s.set("criu_store_mib", float64(store)/mib)
	if err := h.criuEager(t, img, data, timeout, s); err != nil {
		return err
	}
	return h.criuLazy(t, img, data, timeout, s)
}

// pagesBytes is the size of criu's pages-*.img files: the data dumped.
func pagesBytes(img string) uint64 {
	files, _ := filepath.Glob(filepath.Join(img, "pages-*.img"))
	var n uint64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += uint64(fi.Size())
		}
	}
	return n
}

func (h *harness) criuEager(t *tree, img string, data uint64, timeout time.Duration, s *sample) error {
	t.skipOutput()
	t.waitGap()
	secs, err := timed(func() error {
		return h.criu(timeout, "restore", "-D", img, "--shell-job", "-d", "-o", "restore.log")
	})
	defer t.kill()
	if err != nil {
		return err
	}
	if _, err := t.waitLat(timeout); err != nil {
		return err
	}
	s.set("criu_eager_s", secs)
	s.set("criu_eager_gbps", gbps(data, secs))
	return nil
}

// criuLazy restores with criu's lazy-pages daemon serving the local
// images; every page is in when the daemon exits.
func (h *harness) criuLazy(t *tree, img string, data uint64, timeout time.Duration, s *sample) error {
	t.skipOutput()
	daemon := exec.Command(h.opts.criu, "lazy-pages", "-D", img, "-o", "lazy-pages.log")
	start := time.Now()
	if err := daemon.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	exited := false
	defer func() {
		if !exited {
			_ = daemon.Process.Kill()
			<-done
		}
	}()
	err := h.criu(timeout, "restore", "-D", img, "--shell-job", "-d", "--lazy-pages", "-o", "restore-lazy.log")
	running := time.Since(start)
	defer t.kill()
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			return fmt.Errorf("criu lazy-pages: %w", err)
		}
	case <-time.After(timeout):
		return fmt.Errorf("criu lazy-pages still running after %v: %w", timeout, errTimeout)
	}
	allIn := time.Since(start)
	if _, err := t.waitLat(timeout); err != nil {
		return err
	}
	s.set("criu_lazy_run_ms", ms(running))
	s.set("criu_allin_ms", ms(allIn))
	s.set("criu_allin_gbps", gbps(data, allIn.Seconds()))
	return nil
}

// criu runs the criu binary with args (at most timeout).
func (h *harness) criu(timeout time.Duration, args ...string) error {
	cmd := exec.Command(h.opts.criu, args...)
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.CombinedOutput()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("criu %s: %w: %s", args[0], err, lastLine(string(out)))
		}
		return nil
	case <-time.After(timeout):
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		<-done
		return fmt.Errorf("criu %s: %w", args[0], errTimeout)
	}
}
