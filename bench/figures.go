package main

import (
	"fmt"
	"slices"
	"sort"
)

// kind says how a figure compares with its reference.
type kind int

const (
	rate  kind = iota // more is better: fraction = value / limit
	cost              // less is better: fraction = limit / value
	share             // a share of the reference: fraction = value / reference
	count             // no reference
)

// figDef describes one figure of a workload.
type figDef struct {
	key   string
	name  string
	unit  string
	kind  kind
	limit string // key of its reference, in the same sample or among the limits
	criu  string // key of criu's same figure ("" when criu has none)
}

// workloadFigs are the figures of every workload, in table order.
var workloadFigs = []figDef{
	{"dump_s", "dump time", "s", count, "", "criu_dump_s"},
	{"dump_gbps", "dump throughput (memory scanned / time)", "GB/s", rate, "readv_gbps", "criu_dump_gbps"},
	{"dump_data_gbps", "dump throughput (data stored / time)", "GB/s", rate, "filewrite_gbps", ""},
	{"store_mib", "store size", "MiB", count, "", "criu_store_mib"},
	{"store_ratio", "store size / memory size", "x", cost, "nonzero_ratio", ""},
	{"eager_s", "eager restore time", "s", count, "", "criu_eager_s"},
	{"eager_gbps", "eager restore throughput (data / time)", "GB/s", rate, "writev_gbps", "criu_eager_gbps"},
	{"lazy_run_ms", "lazy restore: time to running", "ms", cost, "floor_lazy_ms", "criu_lazy_run_ms"},
	{"allin_ms", "lazy restore: time until all pages are in", "ms", count, "", "criu_allin_ms"},
	{"allin_gbps", "lazy restore: data in / time", "GB/s", rate, "uffd128k_gbps", "criu_allin_gbps"},
	{"fault_p50_us", "fault service p50, local store", "µs", cost, "rtt4k_p50_us", ""},
	{"fault_p99_us", "fault service p99, local store", "µs", cost, "rtt4k_p99_us", ""},
	{"access_p50_us", "fault latency p50 seen by the process (reads >= 2 µs), local", "µs", cost, "rtt4k_p50_us", ""},
	{"access_p99_us", "fault latency p99 seen by the process (reads >= 2 µs), local", "µs", cost, "rtt4k_p99_us", ""},
	{"remote_fault_p50_us", "fault service p50, page server", "µs", cost, "tcprtt_p50_us", ""},
	{"remote_fault_p99_us", "fault service p99, page server", "µs", cost, "tcprtt_p99_us", ""},
	{"remote_access_p50_us", "fault latency p50 seen by the process (reads >= 2 µs), page server", "µs", cost, "tcprtt_p50_us", ""},
	{"remote_access_p99_us", "fault latency p99 seen by the process (reads >= 2 µs), page server", "µs", cost, "tcprtt_p99_us", ""},
	{"remote_allin_gbps", "lazy restore from page server: data in / time", "GB/s", rate, "tcp_gbps", ""},
	{"ps_eager_gbps", "eager restore from page server (data / time)", "GB/s", rate, "tcp_gbps", ""},
	{"push_gbps", "dump to page server (memory scanned / time)", "GB/s", rate, "tcp_gbps", ""},
	{"fuse_gbps", "FUSE read of the memory file (crlazy mount)", "GB/s", rate, "fileread_gbps", ""},
	{"faults_cold", "demand faults, 1st lazy restore (no working set)", "faults", count, "", ""},
	{"faults_ws", "demand faults, 2nd lazy restore (working set recorded by the 1st)", "faults", share, "faults_cold", ""},
	{"ws_run_ms", "2nd lazy restore: time to running (working set prefilled)", "ms", cost, "floor_lazy_ms", ""},
}

// limitFigs are the machine's limits, measured in the same run: global
// ones once per run, per-cycle ones (readv, writev, file read, the
// non-zero share) with each workload's cycles.
var limitFigs = []figDef{
	{"memcpy_gbps", "memcpy (Go copy, memory already touched)", "GB/s", rate, "", ""},
	{"readv_gbps", "process_vm_readv of the victim's memory (MiB calls)", "GB/s", rate, "", ""},
	{"writev_gbps", "process_vm_writev into fresh memory (MiB calls)", "GB/s", rate, "", ""},
	{"filewrite_gbps", "write(2)+fsync of a new file beside the store (MiB writes)", "GB/s", rate, "", ""},
	{"uffd4k_gbps", "UFFDIO_COPY, 4 KiB copies", "GB/s", rate, "", ""},
	{"uffd128k_gbps", "UFFDIO_COPY, 128 KiB copies (the store's chunk)", "GB/s", rate, "", ""},
	{"uffd2m_gbps", "UFFDIO_COPY, 2 MiB copies", "GB/s", rate, "", ""},
	{"rtt4k_p50_us", "uffd fault round trip p50, 4 KiB copy", "µs", cost, "", ""},
	{"rtt4k_p99_us", "uffd fault round trip p99, 4 KiB copy", "µs", cost, "", ""},
	{"rtt128k_p50_us", "uffd fault round trip p50, 128 KiB copy", "µs", cost, "", ""},
	{"rtt128k_p99_us", "uffd fault round trip p99, 128 KiB copy", "µs", cost, "", ""},
	{"tcp_gbps", "loopback TCP throughput (MiB writes)", "GB/s", rate, "", ""},
	{"tcprtt_p50_us", "loopback TCP round trip p50, 16 B out, 4 KiB back", "µs", cost, "", ""},
	{"tcprtt_p99_us", "loopback TCP round trip p99, 16 B out, 4 KiB back", "µs", cost, "", ""},
	{"fileread_gbps", "read(2) of the store's files from the page cache", "GB/s", rate, "", ""},
	{"nonzero_ratio", "non-zero share of the victim's memory", "x", count, "", ""},
	{"floor_eager_ms", "eager restore of a 1 MiB process (fixed cost)", "ms", cost, "", ""},
	{"floor_lazy_ms", "lazy restore of a 1 MiB process: time to running", "ms", cost, "", ""},
}

// sample is what one cycle measured.
type sample struct {
	val  map[string]float64
	na   map[string]string   // why a figure could not be measured
	hist map[string][]uint64 // victim read-latency histograms: "eager", "lazy", "remote"
}

func newSample() *sample {
	return &sample{val: map[string]float64{}, na: map[string]string{}, hist: map[string][]uint64{}}
}

func (s *sample) set(key string, v float64) { s.val[key] = v }

// fail records why keys could not be measured (unless they were).
func (s *sample) fail(err error, keys ...string) {
	if err == nil {
		return
	}
	for _, k := range keys {
		if _, ok := s.val[k]; !ok {
			if _, ok := s.na[k]; !ok {
				s.na[k] = oneLine(err.Error())
			}
		}
	}
}

// failAll records err for every workload figure not measured.
func (s *sample) failAll(err error) {
	for _, d := range workloadFigs {
		s.fail(err, d.key)
	}
}

// oneLine keeps the first line of a message, at most maxReason bytes.
func oneLine(msg string) string {
	const maxReason = 160
	for i, c := range msg {
		if c == '\n' {
			msg = msg[:i]
			break
		}
	}
	if len(msg) > maxReason {
		msg = msg[:maxReason] + "..."
	}
	return msg
}

// figure is one row of the report: a figure over the runs of a workload.
type figure struct {
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	Unit      string    `json:"unit"`
	Runs      []float64 `json:"runs,omitempty"`
	Median    *float64  `json:"median,omitempty"`
	Min       *float64  `json:"min,omitempty"`
	Max       *float64  `json:"max,omitempty"`
	NA        string    `json:"na,omitempty"` // why there is no value
	Limit     string    `json:"limit,omitempty"`
	LimitName string    `json:"limit_name,omitempty"`
	Fraction  *float64  `json:"fraction,omitempty"` // median of the per-run fractions
	Criu      *float64  `json:"crlazy_per_criu,omitempty"`
	CriuNA    string    `json:"criu_na,omitempty"`
}

// aggregate makes the figure of d over samples; limits holds the global
// limits' figures, for references not measured per cycle.
func aggregate(d figDef, samples []*sample, limits map[string]*figure) *figure {
	f := &figure{Key: d.key, Name: d.name, Unit: d.unit, Limit: d.limit}
	var fracs []float64
	for _, s := range samples {
		v, ok := s.val[d.key]
		if !ok {
			continue
		}
		f.Runs = append(f.Runs, v)
		if fr, ok := fraction(d, v, s, limits); ok {
			fracs = append(fracs, fr)
		}
	}
	if len(f.Runs) == 0 {
		f.NA = naReason(d.key, samples)
		return f
	}
	med, lo, hi := stats(f.Runs)
	f.Median, f.Min, f.Max = &med, &lo, &hi
	if len(fracs) > 0 {
		m, _, _ := stats(fracs)
		f.Fraction = &m
	}
	return f
}

func fraction(d figDef, v float64, s *sample, limits map[string]*figure) (float64, bool) {
	if d.limit == "" || d.kind == count {
		return 0, false
	}
	lim, ok := s.val[d.limit]
	if !ok {
		if g := limits[d.limit]; g != nil && g.Median != nil {
			lim, ok = *g.Median, true
		}
	}
	if !ok || lim == 0 || (v == 0 && d.kind != share) {
		return 0, false
	}
	if d.kind == cost {
		return lim / v, true
	}
	return v / lim, true
}

// naReason is the reason the samples give for key, or a generic one.
func naReason(key string, samples []*sample) string {
	for _, s := range samples {
		if r, ok := s.na[key]; ok {
			return r
		}
	}
	return "not measured"
}

// stats returns the median, min and max of vs (not empty).
func stats(vs []float64) (med, lo, hi float64) {
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// format prints v with about three significant digits.
func format(v float64) string {
	switch a := max(v, -v); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
