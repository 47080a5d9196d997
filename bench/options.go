package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Defaults of the command line.
const (
	defaultSizes   = "256M,1G,4G"
	defaultRuns    = 3
	quickSizeMiB   = 32
	hotPct         = 10 // share of its pages a victim keeps re-reading
	zeroPct        = 50 // share of its pages that are zero
	threadsNum     = 8  // threads of the multi-threaded victim
	treeProcs      = 16 // processes of the tree victim
	treeMiB        = 256
	quickTreeMiB   = 32
	maxSizeMiB     = 64 << 10
	minSizeMiB     = 1
	maxRuns        = 100
	exitUsage      = 2
	exitInterrupts = 130
)

var errUsage = errors.New("bad usage")

// options are the command line of the benchmark.
type options struct {
	sizes   []int // MiB of each memory workload
	runs    int   // cycles per workload, after one warm-up cycle
	quick   bool  // a fast smoke run: one small size, one cycle
	out     string
	criu    string
	crlazy  string // a crlazy binary to measure; "" builds ./cmd/crlazy
	workdir string // parent of the run's work directory; "" is os.TempDir()
	noTree  bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	var sizes string
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&sizes, "sizes", defaultSizes, "memory sizes of the C victims (MiB, or with a suffix M or G)")
	fs.IntVar(&o.runs, "runs", defaultRuns, "cycles per workload; each figure is their median, with min and max")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: one 32 MiB size, one cycle, small references (overrides --sizes, --runs)")
	fs.StringVar(&o.out, "out", "", "also write report.md, results.json and the SVG charts into this directory")
	fs.StringVar(&o.criu, "criu", "", "a criu binary to run the same workloads with (the table gets crlazy/criu ratios)")
	fs.StringVar(&o.crlazy, "crlazy", "", "the crlazy binary to measure (default: build ./cmd/crlazy)")
	fs.StringVar(&o.workdir, "workdir", "", "where stores and victims live during the run (default: $TMPDIR or /tmp)")
	fs.BoolVar(&o.noTree, "no-threads-tree", false, "skip the multi-threaded and the 16-process workloads")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if o.quick {
		sizes, o.runs = strconv.Itoa(quickSizeMiB), 1
	}
	if o.runs < 1 || o.runs > maxRuns {
		return o, fmt.Errorf("%w: --runs %d: must be 1..%d", errUsage, o.runs, maxRuns)
	}
	var err error
	o.sizes, err = parseSizes(sizes)
	return o, err
}

// parseSizes parses "256M,1G,4G" (a number alone is MiB).
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		mul := 1
		switch {
		case strings.HasSuffix(f, "G"):
			f, mul = strings.TrimSuffix(f, "G"), 1024
		case strings.HasSuffix(f, "M"):
			f = strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n*mul < minSizeMiB || n*mul > maxSizeMiB {
			return nil, fmt.Errorf("%w: --sizes %q: each size must be %d MiB..%d GiB", errUsage, s, minSizeMiB, maxSizeMiB>>10)
		}
		out = append(out, n*mul)
	}
	return out, nil
}

// sizeName prints MiB as "256 MiB" or "4 GiB".
func sizeName(mib int) string {
	if mib >= 1024 && mib%1024 == 0 {
		return fmt.Sprintf("%d GiB", mib/1024)
	}
	return fmt.Sprintf("%d MiB", mib)
}
