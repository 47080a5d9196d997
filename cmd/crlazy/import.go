package main

import (
	"fmt"
	"os"

	"github.com/crlazy/crlazy/criuimg"
	"github.com/crlazy/crlazy/dumper"
	"github.com/spf13/pflag"
)

func init() {
	register("import", "turn a CRIU image directory into an image store", runImport)
}

func runImport(args []string) int {
	fs := pflag.NewFlagSet("import", pflag.ContinueOnError)
	var src, dir string
	fs.StringVar(&src, "from-criu", "", "CRIU image directory to read (required)")
	fs.StringVarP(&dir, "images-dir", "D", "", "directory for the new image store (required; must not hold one)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if src == "" || dir == "" {
		fmt.Fprintln(os.Stderr, "crlazy import: --from-criu CRIUDIR and -D DIR are required")
		return 2
	}
	st, err := criuimg.Import(src, dir, criuimg.ImportOptions{ToolVersion: dumper.Version + " (import from CRIU)"})
	if err != nil {
		return fail("import", err)
	}
	fmt.Fprintf(os.Stderr, "crlazy import: %d process(es), %d records, %d data pages in %d chunks, %d zero pages\n",
		st.Processes, st.Records, st.PagesData, st.Chunks, st.PagesZero)
	return 0
}
