package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
)

// restored is what one restore of a tree measured.
type restored struct {
	running time.Duration // `crlazy restore -d` start until it returned
	allIn   time.Duration // lazy: restore start until the "all pages in" log line
	faults  uint64        // lazy: demand faults that copied data
	p50     time.Duration // lazy: fault service time (the handler's)
	p99     time.Duration
	lat     latency // the victim's reads in its first pass
}

// restoreTree restores the tree from dir detached (lazily with lazy),
// waits until its root ran a whole pass over its working set (and, lazily,
// until every page is in), then kills it and waits for crlazy's helpers.
func (h *harness) restoreTree(t *tree, dir, log string, timeout time.Duration, keep []int, lazy bool, extra ...string) (restored, error) {
	var r restored
	t.skipOutput()
	t.waitGap()
	args := append([]string{"restore", "-D", dir, "-d", "-o", log}, extra...)
	if lazy {
		args = append(args, "--lazy-pages")
	}
	start := time.Now()
	err := h.runCrlazy(timeout, args...)
	r.running = time.Since(start)
	defer func() {
		t.kill()
		h.waitHelpers(keep...)
	}()
	if err != nil {
		return r, err
	}
	if lazy {
		if err := r.readStats(log, start, timeout); err != nil {
			return r, err
		}
	}
	r.lat, err = t.waitLat(timeout)
	return r, err
}

// readStats waits for the "all pages in" line of a lazy restore's log.
func (r *restored) readStats(log string, start time.Time, timeout time.Duration) error {
	l, err := waitLog(log, "all pages in", timeout)
	if err != nil {
		return err
	}
	at, err := l.time()
	if err != nil {
		return fmt.Errorf("%s: %w", log, err)
	}
	r.allIn = at.Sub(start)
	if r.faults, err = l.uint("faults"); err != nil {
		return err
	}
	if r.p50, err = l.duration("fault_p50"); err != nil {
		return err
	}
	r.p99, err = l.duration("fault_p99")
	return err
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// restores runs the five restores of a cycle.
func (c *cycle) restores() {
	local := c.path("local")
	c.step("eager restore")
	r, err := c.restore(local, "eager", false)
	if err == nil {
		c.s.set("eager_s", r.running.Seconds())
		c.s.set("eager_gbps", gbps(c.data, r.running.Seconds()))
		c.s.hist["eager"] = r.lat.hist
	}
	c.s.fail(err, "eager_s", "eager_gbps")
	c.remoteRestores()
	c.step("lazy restore (records a working set)")
	r, err = c.restore(local, "lazy", true)
	if err == nil {
		c.setLazy(r)
	}
	c.s.fail(err, "lazy_run_ms", "allin_ms", "allin_gbps", "fault_p50_us", "fault_p99_us",
		"access_p50_us", "access_p99_us", "faults_cold")
	c.step("lazy restore with the working set")
	r, err = c.restore(local, "lazy-ws", true)
	if err == nil {
		c.s.set("faults_ws", float64(r.faults))
		c.s.set("ws_run_ms", ms(r.running))
	}
	c.s.fail(err, "faults_ws", "ws_run_ms")
}

func (c *cycle) setLazy(r restored) {
	c.s.set("lazy_run_ms", ms(r.running))
	c.s.set("allin_ms", ms(r.allIn))
	c.s.set("allin_gbps", gbps(c.data, r.allIn.Seconds()))
	c.s.set("fault_p50_us", us(r.p50))
	c.s.set("fault_p99_us", us(r.p99))
	c.setFaultLat("access", r.lat)
	c.s.set("faults_cold", float64(r.faults))
	c.s.hist["lazy"] = r.lat.hist
}

// setFaultLat sets the victim's fault latency figures, if any read of
// its first pass waited for its page.
func (c *cycle) setFaultLat(prefix string, l latency) {
	if l.faults == 0 {
		c.s.fail(errNoSlowRead, prefix+"_p50_us", prefix+"_p99_us")
		return
	}
	c.s.set(prefix+"_p50_us", us(l.fp50))
	c.s.set(prefix+"_p99_us", us(l.fp99))
}

var errNoSlowRead = errors.New("no read of the first pass waited for its page (all prefetched)")

// remoteRestores restores lazily and eagerly with every page from the
// page server (the records from the push dump's directory).
func (c *cycle) remoteRestores() {
	if c.push == "" {
		return
	}
	port := strconv.Itoa(c.ps.port)
	c.step("lazy restore from the page server")
	r, err := c.restore(c.push, "remote-lazy", true, "--page-server", "--port", port, "--record-working-set=false")
	if err == nil {
		c.s.set("remote_fault_p50_us", us(r.p50))
		c.s.set("remote_fault_p99_us", us(r.p99))
		c.setFaultLat("remote_access", r.lat)
		c.s.set("remote_allin_gbps", gbps(c.data, r.allIn.Seconds()))
		c.s.hist["remote"] = r.lat.hist
	}
	c.s.fail(err, remoteKeys...)
	c.step("eager restore from the page server")
	r, err = c.restore(c.push, "remote-eager", false, "--page-server", "--port", port)
	if err == nil {
		c.s.set("ps_eager_gbps", gbps(c.data, r.running.Seconds()))
	}
	c.s.fail(err, "ps_eager_gbps")
}

func (c *cycle) restore(dir, name string, lazy bool, extra ...string) (restored, error) {
	log := filepath.Join(c.dir, name+".log")
	r, err := c.h.restoreTree(c.t, dir, log, c.timeout(), c.keep(), lazy, extra...)
	if err != nil {
		return r, fmt.Errorf("%s restore: %w", name, err)
	}
	return r, nil
}

// unmountQuietly detaches a mount left by a failed step.
func unmountQuietly(mnt string) { _ = linux.Unmount(mnt, true) }
