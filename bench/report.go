package main

import (
	"fmt"
	"io"
	"strings"
)

// report is everything a run measured; results.json is this, encoded.
type report struct {
	Date      string          `json:"date"`
	Machine   machine         `json:"machine"`
	Command   string          `json:"command"`
	Runs      int             `json:"runs"`
	Duration  string          `json:"duration"`
	Limits    []*figure       `json:"limits"`
	Workloads []*workloadRows `json:"workloads"`
	Criu      criuStatus      `json:"criu"`
	Charts    []string        `json:"charts,omitempty"`
	Notes     []string        `json:"notes,omitempty"`
}

// workloadRows are the figures of one workload.
type workloadRows struct {
	ID      string              `json:"id"`
	Name    string              `json:"name"`
	MiB     int                 `json:"mib"`
	Threads int                 `json:"threads"`
	Procs   int                 `json:"processes"`
	Sized   bool                `json:"sized"`
	Figures []*figure           `json:"figures"`
	Hist    map[string][]uint64 `json:"latency_histograms,omitempty"` // summed over runs
	samples []*sample
}

func (w *workloadRows) fig(key string) *figure {
	for _, f := range w.Figures {
		if f.Key == key {
			return f
		}
	}
	return nil
}

// criuStatus says whether criu ran, and why not.
type criuStatus struct {
	Path   string `json:"path,omitempty"`
	Ran    bool   `json:"ran"`
	Reason string `json:"reason,omitempty"`
}

// writeMarkdown prints the report: a header, the limits and one table of
// every workload's figures.
func (r *report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "crlazy benchmark, %s, %s (%s). Each figure: median of %d run(s) [min-max]; "+
		"\"vs limit\" is the figure as a fraction of the machine's limit measured in the same run "+
		"(1.00 = at the limit).\n\n", r.Date, r.Machine.String(), r.Command, r.Runs)
	fmt.Fprintln(w, "| Limit | Median | Min-max | Unit |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	for _, f := range r.Limits {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Name, median(f), spread(f), f.Unit)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| Workload | Figure | Median | Min-max | Unit | vs limit (limit) | crlazy/criu |\n")
	fmt.Fprintln(w, "|---|---|---:|---:|---|---|---:|")
	for _, wr := range r.Workloads {
		for _, f := range wr.Figures {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", wr.Name, f.Name, median(f), spread(f),
				f.Unit, vsLimit(f), vsCriu(f))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "criu: %s\n", r.Criu.describe())
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

func median(f *figure) string {
	if f.Median == nil {
		return "n/a (" + escape(f.NA) + ")"
	}
	return format(*f.Median)
}

func spread(f *figure) string {
	if f.Min == nil {
		return "-"
	}
	return format(*f.Min) + "-" + format(*f.Max)
}

func vsLimit(f *figure) string {
	switch {
	case f.Limit == "":
		return "-"
	case f.Fraction == nil:
		return "n/a (" + f.LimitName + ")"
	}
	return fmt.Sprintf("%.2f (%s)", *f.Fraction, f.LimitName)
}

func vsCriu(f *figure) string {
	switch {
	case f.Criu != nil:
		return fmt.Sprintf("%.2f", *f.Criu)
	case f.CriuNA != "":
		return "n/a"
	}
	return "-"
}

func (c criuStatus) describe() string {
	switch {
	case c.Ran:
		return "ran " + c.Path + "; crlazy/criu is the ratio of the medians (for times, below 1 means crlazy is faster)"
	case c.Path == "":
		return "not run (no --criu PATH given)"
	}
	return "not run: " + c.Reason
}

// escape keeps a reason from breaking the Markdown table.
func escape(s string) string { return strings.ReplaceAll(s, "|", "/") }
