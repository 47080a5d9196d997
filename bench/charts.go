package main

import (
	"fmt"
	"math"
	"path/filepath"
)

// Chart file names, in the order the report shows them.
const (
	chartRestore    = "restore-time.svg"
	chartLatency    = "fault-latency.svg"
	chartThroughput = "throughput.svg"
)

// writeCharts writes the SVG charts into dir and returns their names.
func (r *report) writeCharts(dir string) ([]string, error) {
	charts := map[string][]byte{
		chartRestore:    r.restoreChart(),
		chartLatency:    r.latencyChart(),
		chartThroughput: r.throughputChart(),
	}
	names := []string{chartRestore, chartLatency, chartThroughput}
	for _, n := range names {
		if err := writeAtomic(filepath.Join(dir, n), charts[n]); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// restoreSeries are the lines of the restore-time chart: a figure and
// the factor that turns it into seconds.
var restoreSeries = []struct {
	key, name string
	toSec     float64
}{
	{"eager_s", "eager restore", 1},
	{"lazy_run_ms", "lazy restore: running", 1e-3},
	{"allin_ms", "lazy restore: all pages in", 1e-3},
	{"dump_s", "dump", 1},
}

// restoreChart: time against memory size (the --sizes workloads), log
// scale, median with a min-max whisker.
func (r *report) restoreChart() []byte {
	var sized []*workloadRows
	for _, w := range r.Workloads {
		if w.Sized {
			sized = append(sized, w)
		}
	}
	s := newSVG(720, 420, "Restore time vs memory size (median, min-max)")
	lo, hi := math.Inf(1), 0.0
	for _, w := range sized {
		for _, se := range restoreSeries {
			if f := w.fig(se.key); f != nil && f.Median != nil {
				lo, hi = min(lo, *f.Min*se.toSec), max(hi, *f.Max*se.toSec)
			}
		}
	}
	if hi == 0 {
		s.text(s.w/2, s.h/2, "middle", "no data", fontSize)
		return s.bytes()
	}
	ax := newLogAxis(lo, hi, marginT, s.h-marginB)
	ax.draw(s, secondsLabel)
	xs := func(i int) float64 {
		return marginL + (s.w-marginL-marginR)*(float64(i)+0.5)/float64(len(sized))
	}
	for i, w := range sized {
		s.text(xs(i), s.h-marginB+18, "middle", w.Name, fontSize)
	}
	s.text(s.w/2, s.h-20, "middle", "memory of the victim (50% zero pages)", fontSize)
	var names []string
	for k, se := range restoreSeries {
		c := palette[k%len(palette)]
		var pts [][2]float64
		for i, w := range sized {
			f := w.fig(se.key)
			if f == nil || f.Median == nil {
				continue
			}
			x := xs(i) + float64(k-1)*4
			s.line(x, ax.y(*f.Min*se.toSec), x, ax.y(*f.Max*se.toSec), c, 1.5)
			s.circle(x, ax.y(*f.Median*se.toSec), 3.5, c)
			pts = append(pts, [2]float64{x, ax.y(*f.Median * se.toSec)})
		}
		s.polyline(pts, c)
		names = append(names, se.name)
	}
	s.legendAt(marginL+10, marginT+14, names, palette...)
	return s.bytes()
}

// chartWorkload is the workload the latency and throughput charts show:
// 1 GiB if measured, else the largest sized one, else the first.
func (r *report) chartWorkload() *workloadRows {
	var best *workloadRows
	for _, w := range r.Workloads {
		if w.Sized && w.MiB == 1024 {
			return w
		}
		if w.Sized && (best == nil || w.MiB > best.MiB) {
			best = w
		}
	}
	if best == nil && len(r.Workloads) > 0 {
		best = r.Workloads[0]
	}
	return best
}

var latencySeries = []struct{ key, name string }{
	{"eager", "after eager restore"},
	{"lazy", "lazy, local store"},
	{"remote", "lazy, page server"},
}

// latencyChart: the victim's first-read latencies after a restore, as a
// share of reads per power-of-two bucket.
func (r *report) latencyChart() []byte {
	w := r.chartWorkload()
	title := "First read of each working-set page after restore"
	if w != nil {
		title += " (" + w.Name + ", all runs)"
	}
	s := newSVG(720, 420, title)
	if w == nil || len(w.Hist) == 0 {
		s.text(s.w/2, s.h/2, "middle", "no data", fontSize)
		return s.bytes()
	}
	first, last := histRange(w.Hist)
	xa := newLinAxis(float64(last-first+1), marginL, s.w-marginR)
	xa.hi = float64(last - first + 1)
	ya := newLinAxis(100, s.h-marginB, marginT)
	for v := 0.0; v <= 100; v += 20 {
		s.line(marginL, ya.at(v), s.w-marginR, ya.at(v), "#dddddd", 1)
		s.text(marginL-6, ya.at(v)+4, "end", fmt.Sprintf("%.0f%%", v), fontSize-1)
	}
	for k := first; k <= last; k += max(1, (last-first+8)/8) {
		s.text(xa.at(float64(k-first)+0.5), s.h-marginB+18, "middle", nsLabel(math.Pow(2, float64(k))), fontSize-1)
	}
	s.text(s.w/2, s.h-20, "middle", "read latency (lower bound of a power-of-two bucket)", fontSize)
	var names, colors []string
	for i, se := range latencySeries {
		h := w.Hist[se.key]
		if len(h) == 0 {
			continue
		}
		colors = append(colors, palette[i])
		var total uint64
		for _, v := range h {
			total += v
		}
		var pts [][2]float64
		for k := first; k <= last && k < len(h); k++ {
			pct := 100 * float64(h[k]) / float64(max(total, 1))
			pts = append(pts, [2]float64{xa.at(float64(k-first) + 0.5), ya.at(pct)})
		}
		s.polyline(pts, palette[i])
		names = append(names, se.name)
	}
	s.legend(names, colors...)
	return s.bytes()
}

// histRange is the first and last bucket any histogram uses.
func histRange(hs map[string][]uint64) (int, int) {
	first, last := math.MaxInt, 0
	for _, h := range hs {
		for k, v := range h {
			if v > 0 {
				first, last = min(first, k), max(last, k)
			}
		}
	}
	if first > last {
		return 0, 0
	}
	return first, last
}

// throughputPairs are the stages of the throughput chart and their limits.
var throughputPairs = []struct{ stage, limit, name string }{
	{"dump_gbps", "readv_gbps", "dump (memory) / process_vm_readv"},
	{"dump_data_gbps", "filewrite_gbps", "dump (data) / write+fsync"},
	{"push_gbps", "tcp_gbps", "dump to page server / TCP"},
	{"eager_gbps", "writev_gbps", "eager restore / process_vm_writev"},
	{"allin_gbps", "uffd128k_gbps", "lazy all-in / UFFDIO_COPY 128K"},
	{"remote_allin_gbps", "tcp_gbps", "lazy from page server / TCP"},
	{"ps_eager_gbps", "tcp_gbps", "eager from page server / TCP"},
	{"fuse_gbps", "fileread_gbps", "FUSE read / store file read"},
}

// throughputChart: each stage's GB/s next to its limit's, as pairs of
// horizontal bars.
func (r *report) throughputChart() []byte {
	w := r.chartWorkload()
	title := "Throughput of each stage against its limit"
	if w != nil {
		title += " (" + w.Name + ", medians)"
	}
	s := newSVG(760, 100+float64(len(throughputPairs))*44, title)
	if w == nil {
		return s.bytes()
	}
	stage, limit := make([]float64, len(throughputPairs)), make([]float64, len(throughputPairs))
	hi := 0.0
	for i, p := range throughputPairs {
		stage[i], limit[i] = medianOf(w.fig(p.stage)), r.limitFor(w, p.limit)
		hi = max(hi, stage[i], limit[i])
	}
	left := 250.0
	xa := newLinAxis(hi, left, s.w-marginR-50)
	for i, p := range throughputPairs {
		y := 50 + float64(i)*44
		s.text(left-8, y+16, "end", p.name, fontSize-1)
		s.bar(xa, y, stage[i], palette[0])
		s.bar(xa, y+18, limit[i], "#999999")
	}
	s.legendAt(left, s.h-30, []string{"crlazy (GB/s)"}, palette[0])
	s.legendAt(left+200, s.h-30, []string{"its limit, same run (GB/s)"}, "#999999")
	return s.bytes()
}

func (s *svg) bar(xa linAxis, y, v float64, color string) {
	if v <= 0 {
		s.text(xa.from+4, y+12, "start", "n/a", fontSize-1)
		return
	}
	s.rect(xa.from, y, xa.at(v)-xa.from, 15, color)
	s.text(xa.at(v)+4, y+12, "start", format(v), fontSize-1)
}

func medianOf(f *figure) float64 {
	if f == nil || f.Median == nil {
		return 0
	}
	return *f.Median
}

// limitFor is the median of a limit for workload w: its own cycles'
// value if measured per cycle, else the global one.
func (r *report) limitFor(w *workloadRows, key string) float64 {
	if perCycle(key) {
		var vs []float64
		for _, s := range w.samples {
			if v, ok := s.val[key]; ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			return 0
		}
		m, _, _ := stats(vs)
		return m
	}
	for _, f := range r.Limits {
		if f.Key == key {
			return medianOf(f)
		}
	}
	return 0
}
