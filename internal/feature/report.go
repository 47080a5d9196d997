package feature

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// uses lists the operations a Report summarizes, in order, with the
// words the summary uses for them.
var uses = []struct{ name, label string }{
	{UseDump, "dump"},
	{UseRestore, "restore"},
	{UseLazyPages, "lazy restore"},
	{UseIncremental, "kernel support for incremental dumps (crlazy has none yet)"},
	{UseTCPEstablished, "established TCP connections"},
	{UseMount, "image mount"},
}

// UseStatus says whether one operation works here.
type UseStatus struct {
	Use     string   `json:"use"`
	Label   string   `json:"label"`
	Works   bool     `json:"works"`
	Missing []string `json:"missing,omitempty"` // features it needs that are missing
}

// Report is the outcome of all probes, grouped by operation.
type Report struct {
	Features []Result
	Uses     []UseStatus
}

// Check runs every probe (once per process) and reports.
func Check() Report { return NewReport(All()) }

// NewReport groups results by the operations that need them.
func NewReport(results []Result) Report {
	r := Report{Features: results}
	for _, u := range uses {
		st := UseStatus{Use: u.name, Label: u.label, Works: true}
		for _, res := range results {
			if !res.OK && slices.Contains(res.NeededBy, u.name) {
				st.Works = false
				st.Missing = append(st.Missing, res.Name)
			}
		}
		r.Uses = append(r.Uses, st)
	}
	return r
}

// Works reports whether operation use (UseDump, ...) can work here.
func (r Report) Works(use string) bool {
	for _, u := range r.Uses {
		if u.Use == use {
			return u.Works
		}
	}
	return false
}

// WriteText writes the table of features and a summary line per
// operation.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tSTATUS\tNEEDED BY\tDETAIL")
	for _, res := range r.Features {
		needed := strings.Join(res.NeededBy, ",")
		if needed == "" {
			needed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, res.Status(), needed, oneLine(res.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	for _, u := range r.Uses {
		line := u.Label + ": works here"
		if !u.Works {
			line = fmt.Sprintf("%s: does not work here (missing: %s)", u.Label, strings.Join(u.Missing, ", "))
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// jsonResult is a Result with its status, for MarshalJSON.
type jsonResult struct {
	Result
	Status string `json:"status"`
}

// MarshalJSON encodes the report with each feature's status.
func (r Report) MarshalJSON() ([]byte, error) {
	doc := struct {
		Features []jsonResult `json:"features"`
		Uses     []UseStatus  `json:"uses"`
	}{Features: []jsonResult{}, Uses: r.Uses}
	for _, res := range r.Features {
		doc.Features = append(doc.Features, jsonResult{res, res.Status()})
	}
	return json.Marshal(doc)
}

// WriteJSON writes the report as one indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// oneLine keeps a detail on one table row.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
