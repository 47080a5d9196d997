package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// limitSizes are the amounts the global limits move; --quick uses less.
type limitSizes struct {
	memcpy, uffd, tcp    uint64
	faults4k, faults128k int
	tcpRTTs              int
}

func (h *harness) limitSizes() limitSizes {
	if h.opts.quick {
		return limitSizes{memcpy: 64 * mib, uffd: 32 * mib, tcp: 128 * mib, faults4k: 500, faults128k: 200, tcpRTTs: 500}
	}
	return limitSizes{memcpy: 256 * mib, uffd: 256 * mib, tcp: gib, faults4k: 2000, faults128k: 1000, tcpRTTs: 2000}
}

// measureLimits measures the global limits once (one run).
func (h *harness) measureLimits(tag string) *sample {
	s := newSample()
	z := h.limitSizes()
	h.prog.step("limits, %s: memcpy", tag)
	s.set("memcpy_gbps", memcpyRate(int(z.memcpy)))
	for _, c := range []struct {
		key   string
		chunk uint64
	}{{"uffd4k_gbps", 4 << 10}, {"uffd128k_gbps", 128 << 10}, {"uffd2m_gbps", 2 << 20}} {
		h.prog.step("limits, %s: UFFDIO_COPY in %d KiB copies", tag, c.chunk>>10)
		r, err := uffdCopyRate(z.uffd, c.chunk)
		setOrFail(s, c.key, r, err)
	}
	h.prog.step("limits, %s: uffd fault round trips", tag)
	h.rtts(s, "rtt4k", 4<<10, z.faults4k)
	h.rtts(s, "rtt128k", 128<<10, z.faults128k)
	h.prog.step("limits, %s: loopback TCP", tag)
	r, err := tcpRate(z.tcp)
	setOrFail(s, "tcp_gbps", r, err)
	lat, err := tcpRoundTrip(4<<10, z.tcpRTTs)
	setOrFail(s, "tcprtt_p50_us", us(percentile(lat, 50)), err)
	setOrFail(s, "tcprtt_p99_us", us(percentile(lat, 99)), err)
	h.prog.step("limits, %s: restore of a 1 MiB process", tag)
	h.floor(s, tag)
	return s
}

func (h *harness) rtts(s *sample, key string, chunk uint64, n int) {
	lat, err := faultRoundTrip(chunk, n)
	setOrFail(s, key+"_p50_us", us(percentile(lat, 50)), err)
	setOrFail(s, key+"_p99_us", us(percentile(lat, 99)), err)
}

func setOrFail(s *sample, key string, v float64, err error) {
	if err != nil {
		s.fail(err, key)
		return
	}
	s.set(key, v)
}

// floorMiB is the memory of the process whose restore is the fixed cost.
const floorMiB = 1

// floor dumps a 1 MiB victim and restores it eagerly and lazily: the
// fixed cost of a restore, which a lazy restore's time to running can at
// best approach.
func (h *harness) floor(s *sample, tag string) {
	keys := []string{"floor_eager_ms", "floor_lazy_ms"}
	dir := filepath.Join(h.work, "floor-"+dirName(tag))
	if err := os.Mkdir(dir, 0o755); err != nil {
		s.fail(err, keys...)
		return
	}
	defer os.RemoveAll(dir)
	if err := h.tryFloor(s, dir); err != nil {
		s.fail(fmt.Errorf("restore of a %d MiB process: %w", floorMiB, err), keys...)
	}
}

func (h *harness) tryFloor(s *sample, dir string) error {
	t, err := h.startTree(dir, floorMiB, 1, 1)
	if err != nil {
		return err
	}
	defer t.kill()
	timeout := stepTimeout(floorMiB)
	store := filepath.Join(dir, "store")
	t.frozen = time.Now()
	if err := h.runCrlazy(timeout, "dump", "-t", strconv.Itoa(t.root), "-D", store, "-o", filepath.Join(dir, "dump.log")); err != nil {
		return err
	}
	if err := t.reapDumped(); err != nil {
		return err
	}
	for _, lazy := range []bool{false, true} {
		key := map[bool]string{false: "floor_eager_ms", true: "floor_lazy_ms"}[lazy]
		r, err := h.restoreTree(t, store, filepath.Join(dir, key+".log"), timeout, nil, lazy, "--record-working-set=false")
		if err != nil {
			return err
		}
		s.set(key, ms(r.running))
	}
	return nil
}

// elapsed formats a duration for the report's header.
func elapsed(d time.Duration) string { return d.Round(time.Second).String() }
