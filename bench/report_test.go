package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("256M, 1G,4G,32")
	if err != nil || !slices.Equal(got, []int{256, 1024, 4096, 32}) {
		t.Fatalf("parseSizes: %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "1T", "100G"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
	if _, err := parseOptions([]string{"--runs", "0"}, io.Discard); err == nil {
		t.Error("--runs 0 accepted")
	}
	o, err := parseOptions([]string{"--quick"}, io.Discard)
	if err != nil || o.runs != 1 || !slices.Equal(o.sizes, []int{quickSizeMiB}) {
		t.Errorf("--quick: %+v, %v", o, err)
	}
}

func TestParseLogLine(t *testing.T) {
	l := parseLogLine(`time=2026-11-27T01:19:56.734Z level=INFO msg="all pages in" pid=14812 after=202.041421ms faults=411 fault_p50=59.205µs err="a \"quoted\" thing"`)
	if l["msg"] != "all pages in" || l["faults"] != "411" || l["err"] != `a "quoted" thing` {
		t.Fatalf("parsed %v", l)
	}
	if d, err := l.duration("fault_p50"); err != nil || d != 59205*time.Nanosecond {
		t.Errorf("fault_p50: %v, %v", d, err)
	}
	if ts, err := l.time(); err != nil || ts.Nanosecond() != 734e6 {
		t.Errorf("time: %v, %v", ts, err)
	}
}

func TestParseLat(t *testing.T) {
	line := "lat 42 100 300 900 5000 9000 12000 80 40 4000 8500 0,0,0,0,0,0,0,0,60,0,0,0,40"
	m := latRe(42).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%q does not match", line)
	}
	l, err := parseLat(m)
	if err != nil {
		t.Fatal(err)
	}
	if l.n != 100 || l.p50 != 300 || l.faults != 40 || l.fp99 != 8500 || l.in != 12*time.Millisecond || len(l.hist) != 13 {
		t.Fatalf("parsed %+v", l)
	}
	m2 := mergeLat(map[int]latency{1: l, 2: l})
	if m2.n != 200 || m2.faults != 80 || m2.hist[8] != 120 {
		t.Fatalf("merged %+v", m2)
	}
	// 60% of the reads are in [256, 512) ns, 40% in [4096, 8192).
	if p := m2.p50; p < 256 || p >= 512 {
		t.Errorf("merged p50 %v", p)
	}
	if p := m2.fp50; p < 4096 || p >= 8192 {
		t.Errorf("merged fault p50 %v", p)
	}
}

func TestAggregate(t *testing.T) {
	d := figDef{key: "dump_gbps", kind: rate, limit: "readv_gbps"}
	var ss []*sample
	for _, v := range [][2]float64{{1, 2}, {3, 4}, {2, 8}} {
		s := newSample()
		s.set("dump_gbps", v[0])
		s.set("readv_gbps", v[1])
		ss = append(ss, s)
	}
	f := aggregate(d, ss, nil)
	if *f.Median != 2 || *f.Min != 1 || *f.Max != 3 || *f.Fraction != 0.5 {
		t.Fatalf("aggregate: %+v", f)
	}
	s := newSample()
	s.fail(os.ErrNotExist, "dump_gbps")
	if f := aggregate(d, []*sample{s}, nil); f.Median != nil || f.NA != os.ErrNotExist.Error() {
		t.Fatalf("aggregate of a failure: %+v", f)
	}
	cost := figDef{key: "t", kind: cost, limit: "floor"}
	g := map[string]*figure{"floor": {Median: ptr(10.0)}}
	s = newSample()
	s.set("t", 40)
	if f := aggregate(cost, []*sample{s}, g); *f.Fraction != 0.25 {
		t.Errorf("cost fraction %v, want 0.25", *f.Fraction)
	}
}

func ptr[T any](v T) *T { return &v }

// TestReportFiles writes the report of made-up samples and checks its
// files as TestQuick does, without root.
func TestReportFiles(t *testing.T) {
	r := &report{Date: "today", Runs: 2, Criu: criuStatus{Path: "/x/criu", Reason: "criu check failed"}}
	limits := map[string]*figure{}
	for _, d := range limitFigs {
		limits[d.key] = aggregate(d, []*sample{fakeSample(d.key, 3)}, nil)
		r.Limits = append(r.Limits, limits[d.key])
	}
	for i, mib := range []int{256, 1024} {
		w := &workloadRows{ID: "m", Name: sizeName(mib), MiB: mib, Sized: true,
			Hist: map[string][]uint64{"lazy": {0, 0, 0, 0, 0, 0, 0, 5, 9, 1, 0, 3, 4}, "eager": {0, 0, 0, 0, 0, 0, 10}}}
		for _, d := range workloadFigs {
			s := []*sample{fakeSample(d.key, float64(i+1)), fakeSample(d.key, float64(i+2))}
			if d.key == "fuse_gbps" {
				s = []*sample{newSample()}
				s[0].fail(os.ErrPermission, d.key)
			}
			w.samples = s
			w.Figures = append(w.Figures, aggregate(d, s, limits))
		}
		r.Workloads = append(r.Workloads, w)
	}
	dir := t.TempDir()
	if err := r.write(dir); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	r.writeMarkdown(&md)
	checkTable(t, md.String())
	if !strings.Contains(md.String(), "n/a (permission denied)") {
		t.Errorf("the failed figure is not n/a with its reason:\n%s", md.String())
	}
	for _, c := range []string{chartRestore, chartLatency, chartThroughput} {
		checkSVG(t, filepath.Join(dir, c))
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(data, &back); err != nil || len(back.Workloads) != 2 {
		t.Fatalf("results.json: %v, %d workloads", err, len(back.Workloads))
	}
}

func fakeSample(key string, v float64) *sample {
	s := newSample()
	s.set(key, v)
	return s
}
