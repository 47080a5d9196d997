package main

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var errNoLogLine = errors.New("no such line in the log")

// logLine is one line of crlazy's log (slog's text format) as key/value
// pairs.
type logLine map[string]string

var kvRe = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|\S*)`)

func parseLogLine(s string) logLine {
	l := logLine{}
	for _, m := range kvRe.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if u, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = u
		}
		l[m[1]] = v
	}
	return l
}

// findLog returns the first line of the log file whose msg is msg.
func findLog(path, msg string) (logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := parseLogLine(sc.Text()); l["msg"] == msg {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%s: msg=%q: %w", path, msg, errNoLogLine)
}

// waitLog waits until the log has a line with msg, or a line at level
// ERROR (then it fails with that line's error).
func waitLog(path, msg string, timeout time.Duration) (logLine, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l, err := findLog(path, msg); err == nil {
			return l, nil
		}
		if l, err := findLevel(path, "ERROR"); err == nil {
			return nil, fmt.Errorf("%s: %s: %s", path, l["msg"], l["err"])
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: msg=%q after %v: %w", path, msg, timeout, errTimeout)
		}
		time.Sleep(pollEvery)
	}
}

func findLevel(path, level string) (logLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, s := range strings.Split(string(data), "\n") {
		if l := parseLogLine(s); l["level"] == level {
			return l, nil
		}
	}
	return nil, errNoLogLine
}

func (l logLine) uint(key string) (uint64, error) {
	v, err := strconv.ParseUint(l[key], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("log field %s=%q: %w", key, l[key], err)
	}
	return v, nil
}

func (l logLine) duration(key string) (time.Duration, error) {
	d, err := time.ParseDuration(l[key])
	if err != nil {
		return 0, fmt.Errorf("log field %s=%q: %w", key, l[key], err)
	}
	return d, nil
}

func (l logLine) time() (time.Time, error) {
	return time.Parse(time.RFC3339Nano, l["time"])
}

// latency is what bench_touch printed about the first pass after a
// restore (its lat line).
type latency struct {
	n             int
	p50, p90, p99 time.Duration
	max           time.Duration
	in            time.Duration // from the restore until the pass was over
	jumpMs        int
	faults        int           // reads that waited for their page (>= faultNs)
	fp50, fp99    time.Duration // their percentiles
	hist          []uint64      // reads per power-of-two bucket of ns
}

// faultBucket is the first histogram bucket wholly above bench_touch's
// FAULT_NS (2 µs): [2048, 4096) ns.
const faultBucket = 11

func latRe(pid int) *regexp.Regexp {
	return regexp.MustCompile(`^lat ` + strconv.Itoa(pid) + strings.Repeat(` (\d+)`, 10) + ` ([\d,]+)$`)
}

func parseLat(m []string) (latency, error) {
	var v [10]uint64
	for i := range v {
		n, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil {
			return latency{}, err
		}
		v[i] = n
	}
	l := latency{n: int(v[0]), p50: time.Duration(v[1]), p90: time.Duration(v[2]), p99: time.Duration(v[3]),
		max: time.Duration(v[4]), in: time.Duration(v[5]) * time.Microsecond, jumpMs: int(v[6]),
		faults: int(v[7]), fp50: time.Duration(v[8]), fp99: time.Duration(v[9])}
	for _, f := range strings.Split(m[11], ",") {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return latency{}, err
		}
		l.hist = append(l.hist, n)
	}
	return l, nil
}

// mergeLat merges the latencies of several processes: their histograms
// add up, and the percentiles come from the merged histogram
// (interpolated within a power-of-two bucket, so within a factor of two).
func mergeLat(ls map[int]latency) latency {
	var m latency
	for _, l := range ls {
		m.n += l.n
		m.max = max(m.max, l.max)
		m.in = max(m.in, l.in)
		m.hist = addHist(m.hist, l.hist)
	}
	m.p50, m.p90, m.p99 = histPercentile(m.hist, 50), histPercentile(m.hist, 90), histPercentile(m.hist, 99)
	slow := slices.Clone(m.hist)
	for k := range slow[:min(faultBucket, len(slow))] {
		slow[k] = 0
	}
	for _, v := range slow {
		m.faults += int(v)
	}
	m.fp50, m.fp99 = histPercentile(slow, 50), histPercentile(slow, 99)
	return m
}

// histPercentile estimates the p-th percentile of a histogram of
// power-of-two buckets of ns, interpolating geometrically in the bucket.
func histPercentile(h []uint64, p float64) time.Duration {
	var total uint64
	for _, v := range h {
		total += v
	}
	want := float64(total) * p / 100
	var seen float64
	for k, v := range h {
		if v > 0 && seen+float64(v) >= want {
			f := (want - seen) / float64(v)
			return time.Duration(math.Pow(2, float64(k)+f))
		}
		seen += float64(v)
	}
	return 0
}
