package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/spf13/pflag"
)

// run is the command: it parses args, measures, prints the Markdown
// table to stdout and, with --out, writes the report files. It returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stderr, "bench: %v\n", err)
		}
		return exitUsage
	}
	h, err := newHarness(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	defer h.cleanup()
	r := h.measure(strings.Join(append([]string{"go run ./bench"}, args...), " "))
	h.prog.finish()
	r.writeMarkdown(stdout)
	if o.out != "" {
		if err := r.write(o.out); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	return 0
}

// workloads lists what the options ask for, in order.
func (h *harness) workloads() []workload {
	var ws []workload
	for _, m := range h.opts.sizes {
		ws = append(ws, workload{id: fmt.Sprintf("mem%d", m), name: sizeName(m), mib: m, threads: 1, procs: 1, sized: true})
	}
	if h.opts.noTree {
		return ws
	}
	small := treeMiB
	if h.opts.quick {
		small = quickTreeMiB
	}
	return append(ws,
		workload{id: "threads", name: fmt.Sprintf("%d threads, %s", threadsNum, sizeName(small)), mib: small, threads: threadsNum, procs: 1},
		workload{id: "tree", name: fmt.Sprintf("%d processes, %s", treeProcs, sizeName(small)), mib: small, threads: 1, procs: treeProcs})
}

// measure runs a warm-up cycle, the limits and every workload.
func (h *harness) measure(command string) *report {
	start := time.Now()
	r := &report{Date: start.UTC().Format("2006-01-02 15:04 UTC"), Machine: readMachine(), Command: command, Runs: h.opts.runs}
	ws := h.workloads()
	// Memory this VM has not touched lately costs a host fault per page
	// the first time: the warm-up cycle pays for it.
	h.runCycle(ws[0], "warm-up")
	var lsamples []*sample
	for i := range h.opts.runs {
		lsamples = append(lsamples, h.measureLimits(fmt.Sprintf("run %d/%d", i+1, h.opts.runs)))
	}
	limits := map[string]*figure{}
	for _, d := range limitFigs {
		if f := aggregate(d, lsamples, nil); f.Median != nil || !perCycle(d.key) {
			limits[d.key] = f
		}
	}
	for _, w := range ws {
		r.Workloads = append(r.Workloads, h.runWorkload(w, limits))
	}
	r.Limits = limitRows(limits, r.Workloads)
	r.Criu = h.runCriu(ws, r.Workloads)
	r.Duration = elapsed(time.Since(start))
	r.Notes = notes(r)
	return r
}

// perCycle reports whether a limit is measured with each cycle.
func perCycle(key string) bool {
	switch key {
	case "readv_gbps", "writev_gbps", "filewrite_gbps", "fileread_gbps", "nonzero_ratio":
		return true
	}
	return false
}

func (h *harness) runWorkload(w workload, limits map[string]*figure) *workloadRows {
	wr := &workloadRows{ID: w.id, Name: w.name, MiB: w.mib, Threads: w.threads, Procs: w.procs, Sized: w.sized,
		Hist: map[string][]uint64{}}
	for i := range h.opts.runs {
		wr.samples = append(wr.samples, h.runCycle(w, fmt.Sprintf("run %d/%d", i+1, h.opts.runs)))
	}
	for _, d := range workloadFigs {
		f := aggregate(d, wr.samples, limits)
		f.LimitName = limitName(d.limit)
		wr.Figures = append(wr.Figures, f)
	}
	for _, s := range wr.samples {
		for k, hist := range s.hist {
			wr.Hist[k] = addHist(wr.Hist[k], hist)
		}
	}
	return wr
}

func addHist(a, b []uint64) []uint64 {
	for len(a) < len(b) {
		a = append(a, 0)
	}
	for i, v := range b {
		a[i] += v
	}
	return a
}

// limitName is the short name of a reference in the "vs limit" column.
func limitName(key string) string {
	names := map[string]string{
		"readv_gbps": "process_vm_readv", "writev_gbps": "process_vm_writev", "filewrite_gbps": "write+fsync", "nonzero_ratio": "non-zero share",
		"floor_lazy_ms": "1 MiB restore", "uffd128k_gbps": "UFFDIO_COPY 128K", "rtt4k_p50_us": "uffd fault p50",
		"rtt4k_p99_us": "uffd fault p99", "tcprtt_p50_us": "TCP round trip p50", "tcprtt_p99_us": "TCP round trip p99",
		"tcp_gbps": "loopback TCP", "fileread_gbps": "store file read", "faults_cold": "of the 1st restore's",
	}
	return names[key]
}

// limitRows are the limits for the report: the global ones, then the
// per-cycle ones of each workload.
func limitRows(global map[string]*figure, ws []*workloadRows) []*figure {
	var out []*figure
	for _, d := range limitFigs {
		if f := global[d.key]; f != nil {
			out = append(out, f)
		}
	}
	for _, w := range ws {
		for _, d := range limitFigs {
			if perCycle(d.key) {
				f := aggregate(d, w.samples, nil)
				f.Name += " (" + w.Name + ")"
				out = append(out, f)
			}
		}
	}
	return out
}

// notes explains what the numbers mean.
func notes(r *report) []string {
	return []string{
		"How it is measured: the victim (testdata/victims/bench_touch.c) fills its memory with random words and 50% " +
			"zero pages and keeps re-reading 10% of it. A cycle dumps it with --leave-running into a local store, " +
			"then dumps it again to a `crlazy page-server` on loopback, and restores it eagerly, lazily from the page " +
			"server, eagerly from the page server, lazily from the store (which records a working set) and lazily " +
			"again with that working set, each detached (-d); 'time to running' is until the command returned, " +
			"'all pages in' until the lazy handler's log line. 'fault service' is the handler's time per fault " +
			"(its log); 'fault latency seen by the process' is timed by the victim itself around the first read " +
			"of each working-set page after the restore, counting the reads that waited (2 µs or more).",
		"Total time of this run: " + r.Duration + ".",
	}
}

// write writes report.md, results.json and the charts into dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts, err := r.writeCharts(dir)
	if err != nil {
		return err
	}
	r.Charts = charts
	var md strings.Builder
	r.writeMarkdown(&md)
	for _, c := range charts {
		fmt.Fprintf(&md, "\n![%s](%s)\n", strings.TrimSuffix(c, ".svg"), c)
	}
	if err := writeAtomic(filepath.Join(dir, "report.md"), []byte(md.String())); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "results.json"), append(js, '\n'))
}

// writeAtomic writes a file under a temporary name and renames it.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// machine describes the host.
type machine struct {
	Kernel string `json:"kernel"`
	OS     string `json:"os"`
	CPU    string `json:"cpu"`
	CPUs   int    `json:"cpus"`
	MemGiB int    `json:"mem_gib"`
}

func (m machine) String() string {
	return fmt.Sprintf("%s, kernel %s, %d vCPU (%s), %d GiB", m.OS, m.Kernel, m.CPUs, m.CPU, m.MemGiB)
}

func readMachine() machine {
	m := machine{CPUs: runtime.NumCPU()}
	m.Kernel, _, _ = linux.Uname()
	m.CPU = fieldOf("/proc/cpuinfo", "model name", ":")
	m.OS = strings.Trim(fieldOf("/etc/os-release", "PRETTY_NAME", "="), `"`)
	var kb int
	fmt.Sscanf(fieldOf("/proc/meminfo", "MemTotal", ":"), "%d", &kb)
	m.MemGiB = (kb + (1 << 19)) >> 20
	return m
}

// fieldOf returns the value of the first "key<sep>value" line of path.
func fieldOf(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
