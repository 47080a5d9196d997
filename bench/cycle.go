package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// workload is one victim configuration.
type workload struct {
	id, name            string
	mib, threads, procs int
	sized               bool // one of --sizes: on the restore-time chart
}

// remoteKeys are the figures that need the page server.
var remoteKeys = []string{"push_gbps", "remote_fault_p50_us", "remote_fault_p99_us", "remote_access_p50_us",
	"remote_access_p99_us", "remote_allin_gbps", "ps_eager_gbps"}

// cycle is one measurement of a workload: start the victim, dump it
// locally (leaving it running) and to a page server, then restore it
// eagerly, lazily from the page server, eagerly from the page server,
// lazily from the store (recording a working set) and lazily again with
// that working set. Each restored tree is checked (its first pass reads
// every page of its working set and checks every word) and killed.
type cycle struct {
	h    *harness
	w    workload
	s    *sample
	dir  string
	tag  string
	t    *tree
	data uint64 // bytes of non-zero memory the dump stored
	ps   *pageServer
	push string // records of the dump to the page server; "" if it failed
}

func (h *harness) runCycle(w workload, tag string) *sample {
	s := newSample()
	dir := filepath.Join(h.work, w.id+"-"+dirName(tag))
	if err := os.Mkdir(dir, 0o755); err != nil {
		s.failAll(err)
		return s
	}
	defer os.RemoveAll(dir)
	c := &cycle{h: h, w: w, s: s, dir: dir, tag: tag}
	if err := c.run(); err != nil {
		h.prog.linef("bench: %s, %s: %v", w.name, tag, err)
		s.failAll(err)
	}
	return s
}

// dirName turns a tag ("run 1/3") into a file name ("run1of3").
func dirName(tag string) string { return strings.NewReplacer(" ", "", "/", "of").Replace(tag) }

func (c *cycle) step(what string) { c.h.prog.step("%s, %s: %s", c.w.name, c.tag, what) }

func (c *cycle) timeout() time.Duration { return stepTimeout(c.w.mib) }

func (c *cycle) path(name string) string { return filepath.Join(c.dir, name) }

func (c *cycle) run() error {
	c.step("starting the victim")
	t, err := c.h.startTree(c.dir, c.w.mib, c.w.threads, c.w.procs)
	if err != nil {
		return err
	}
	c.t = t
	defer t.kill()
	c.step("process_vm_readv of its memory")
	r, err := readvRate(t.pids)
	c.record("readv_gbps", r, err)
	if err := c.dump(); err != nil {
		return err
	}
	defer c.stopPageServer()
	c.pushDump()
	c.references()
	c.fuse()
	c.restores()
	return nil
}

// record sets key to v, or records err as the reason it has no value.
func (c *cycle) record(key string, v float64, err error) {
	if err != nil {
		c.s.fail(err, key)
		return
	}
	c.s.set(key, v)
}

// dump dumps the tree into the local store, leaving it running.
func (c *cycle) dump() error {
	c.step("dump")
	log := c.path("dump.log")
	c.t.frozen = time.Now()
	secs, err := timed(func() error {
		return c.h.runCrlazy(c.timeout(), "dump", "-t", strconv.Itoa(c.t.root), "-D", c.path("local"), "-o", log, "--leave-running")
	})
	if err != nil {
		return err
	}
	l, err := findLog(log, "dump done")
	if err != nil {
		return err
	}
	if c.data, err = l.uint("data_bytes"); err != nil {
		return err
	}
	mem := float64(c.t.mem)
	c.s.set("dump_s", secs)
	c.s.set("dump_gbps", gbps(c.t.mem, secs))
	c.s.set("dump_data_gbps", gbps(c.data, secs))
	c.s.set("nonzero_ratio", float64(c.data)/mem)
	store, err := dirBytes(c.path("local"))
	c.record("store_mib", float64(store)/mib, err)
	c.record("store_ratio", float64(store)/mem, err)
	return nil
}

// pushDump starts a page server and dumps the tree to it, which kills
// the tree; without a page server the tree is killed here.
func (c *cycle) pushDump() {
	c.step("dump to the page server")
	err := c.tryPush()
	if err != nil {
		c.s.fail(err, remoteKeys...)
		c.t.kill()
		return
	}
	if err := c.t.reapDumped(); err != nil {
		c.s.fail(err, remoteKeys...)
	}
}

func (c *cycle) tryPush() error {
	srv := c.path("server")
	if err := os.Mkdir(srv, 0o755); err != nil {
		return err
	}
	ps, err := c.h.startPageServer(srv, c.path("page-server.log"))
	if err != nil {
		return err
	}
	c.ps = ps
	push := filepath.Join(c.dir, "push", "ckpt")
	if err := os.Mkdir(filepath.Dir(push), 0o755); err != nil {
		return err
	}
	c.t.frozen = time.Now()
	secs, err := timed(func() error {
		return c.h.runCrlazy(c.timeout(), "dump", "-t", strconv.Itoa(c.t.root), "-D", push,
			"--page-server", "--port", strconv.Itoa(ps.port), "-o", c.path("push.log"))
	})
	if err != nil {
		return err
	}
	c.s.set("push_gbps", gbps(c.t.mem, secs))
	c.push = push
	return nil
}

func (c *cycle) stopPageServer() {
	if c.ps != nil {
		c.ps.stop()
		sweepZombies()
	}
}

// references measures the limits that depend on this cycle's memory:
// writing as much into a file, reading the store back, writing its data
// into fresh memory.
func (c *cycle) references() {
	c.step("reading the store (page cache)")
	r, err := fileReadRate(c.path("local"))
	c.record("fileread_gbps", r, err)
	c.step("write(2)+fsync of as much as the dump stored")
	secs, err := timed(func() error { return writeFile(c.dir, c.data) })
	if err == nil {
		c.s.set("filewrite_gbps", gbps(c.data, secs))
	}
	c.s.fail(err, "filewrite_gbps")
	c.step("process_vm_writev into fresh memory")
	secs, err = writeFresh(c.data)
	if err == nil {
		c.s.set("writev_gbps", gbps(c.data, secs))
	}
	c.s.fail(err, "writev_gbps")
}

// fuse mounts the store and reads the root's largest memory file.
func (c *cycle) fuse() {
	c.step("FUSE read (crlazy mount)")
	n, secs, err := c.fuseRead()
	if err == nil {
		c.s.set("fuse_gbps", gbps(n, secs))
	}
	c.s.fail(err, "fuse_gbps")
}

func (c *cycle) fuseRead() (uint64, float64, error) {
	mnt := c.path("mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return 0, 0, err
	}
	if err := c.h.runCrlazy(c.timeout(), "mount", "-D", c.path("local"), mnt, "-o", c.path("mount.log")); err != nil {
		return 0, 0, err
	}
	c.h.atCleanup(func() { unmountQuietly(mnt) })
	defer func() {
		if err := c.h.runCrlazy(c.timeout(), "umount", mnt); err != nil {
			c.h.prog.linef("bench: %v", err)
		}
		c.h.waitHelpers(c.keep()...)
	}()
	file, err := largestFile(filepath.Join(mnt, strconv.Itoa(c.t.root), "memory"))
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, copyChunk)
	var n uint64
	secs, err := timed(func() error {
		var err error
		n, err = readFile(file, buf)
		return err
	})
	return n, secs, err
}

// keep lists the crlazy processes that outlive a step: the page server.
func (c *cycle) keep() []int {
	if c.ps == nil || c.ps.cmd == nil {
		return nil
	}
	return []int{c.ps.pid()}
}

func largestFile(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var best string
	var size int64 = -1
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Size() > size {
			best, size = filepath.Join(dir, e.Name()), fi.Size()
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s: no memory file", dir)
	}
	return best, nil
}
