package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestQuick runs `bench --quick` end to end (with a criu that does not
// exist, which the report must name and go past) and checks the report's
// structure: every figure has a value or says why not, the charts are
// SVG documents, results.json decodes, nothing is left behind. It checks
// no time: the benchmark reports, it does not judge. $BENCH_CRLAZY names
// a crlazy binary to use instead of building ./cmd/crlazy.
func TestQuick(t *testing.T) {
	testutil.RequirePriv(t)
	work, out := t.TempDir(), t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"--quick", "--out", out, "--workdir", work, "--criu", "/nonexistent/criu"}
	if bin := os.Getenv("BENCH_CRLAZY"); bin != "" { // a crlazy built already
		args = append(args, "--crlazy", bin)
	}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("bench %v: exit %d\nstderr:\n%s", args, code, stderr.String())
	}
	t.Logf("report:\n%s", stdout.String())
	checkTable(t, stdout.String())
	r := checkJSON(t, filepath.Join(out, "results.json"))
	if r.Criu.Ran || !strings.Contains(r.Criu.Reason, "/nonexistent/criu") {
		t.Errorf("criu status %+v: want not run, naming the missing binary", r.Criu)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{chartRestore, chartLatency, chartThroughput} {
		checkSVG(t, filepath.Join(out, c))
		if !bytes.Contains(md, []byte("("+c+")")) {
			t.Errorf("report.md does not show %s", c)
		}
	}
	checkNothingLeft(t, work)
}

var numberRe = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// checkTable checks that every workload figure has a row whose median is
// a number or "n/a (reason)".
func checkTable(t *testing.T, md string) {
	t.Helper()
	rows := map[string]int{}
	for _, line := range strings.Split(md, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) != 7 || strings.HasPrefix(line, "| Workload") {
			continue
		}
		med := cells[2]
		if !numberRe.MatchString(med) && !regexp.MustCompile(`^n/a \(.+\)$`).MatchString(med) {
			t.Errorf("row %q: median %q is neither a number nor n/a with a reason", line, med)
		}
		rows[cells[1]]++
	}
	for _, d := range workloadFigs {
		if rows[d.name] == 0 {
			t.Errorf("no table row for %q", d.name)
		}
	}
}

func checkJSON(t *testing.T, path string) *report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(r.Workloads) < 3 || len(r.Limits) < len(limitFigs) {
		t.Fatalf("%s: %d workloads, %d limits", path, len(r.Workloads), len(r.Limits))
	}
	// What crlazy does at all: these must have values.
	for _, key := range []string{"dump_s", "eager_s", "lazy_run_ms", "allin_ms", "faults_cold"} {
		if f := r.Workloads[0].fig(key); f == nil || f.Median == nil {
			t.Errorf("%s: %s has no value: %+v", r.Workloads[0].Name, key, f)
		}
	}
	for _, w := range r.Workloads {
		if len(w.Figures) != len(workloadFigs) {
			t.Errorf("workload %s: %d figures, want %d", w.Name, len(w.Figures), len(workloadFigs))
		}
		for _, f := range w.Figures {
			checkFigure(t, w.Name, f)
		}
	}
	for _, f := range r.Limits {
		checkFigure(t, "limits", f)
	}
	return &r
}

func checkFigure(t *testing.T, where string, f *figure) {
	t.Helper()
	switch {
	case f.Median == nil && f.NA == "":
		t.Errorf("%s: %s has neither a value nor a reason", where, f.Key)
	case f.Median != nil && (f.Min == nil || f.Max == nil || *f.Min > *f.Median || *f.Median > *f.Max):
		t.Errorf("%s: %s: median %v outside min-max", where, f.Key, *f.Median)
	case f.Median != nil && f.Limit != "" && f.Fraction == nil && f.Key != "store_mib":
		t.Logf("%s: %s has a value but no fraction of %s", where, f.Key, f.Limit)
	}
}

// checkSVG checks that path is well-formed XML whose root is <svg>.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", path, root)
	}
}

// checkNothingLeft checks that the run removed its work directory and
// left no process or mount under it.
func checkNothingLeft(t *testing.T, work string) {
	t.Helper()
	if ents, _ := os.ReadDir(work); len(ents) > 0 {
		t.Errorf("left in the work directory: %v", ents)
	}
	if pids := pidsWithExePrefix(work + "/"); len(pids) > 0 {
		t.Errorf("processes left running: %v", pids)
	}
	if m := mountsUnder(work + "/"); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}
