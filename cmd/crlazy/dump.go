package main

import (
	"fmt"
	"os"

	"github.com/crlazy/crlazy/dumper"
	"github.com/spf13/pflag"
)

func init() {
	register("dump", "checkpoint a process into an images directory", runDump)
}

func runDump(args []string) int {
	fs := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	var opts dumper.Options
	var lf logFlags
	fs.IntVarP(&opts.PID, "tree", "t", 0, "pid of the process to dump (required)")
	fs.StringVarP(&opts.ImagesDir, "images-dir", "D", "", "directory for the image store (required; must not hold one)")
	fs.BoolVar(&opts.LeaveRunning, "leave-running", false, "let the process run on after the dump (default: kill it)")
	lf.add(fs)
	later := notYet(fs, "tcp-established", "ext-unix-sk", "file-locks", "shell-job", "page-server", "address", "port", "track-mem", "pre-dump")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if err := later(); err != nil {
		return fail("dump", err)
	}
	if opts.PID == 0 || opts.ImagesDir == "" {
		fmt.Fprintln(os.Stderr, "crlazy dump: -t PID and -D DIR are required")
		return 2
	}
	log, done, err := lf.open()
	if err != nil {
		return fail("dump", err)
	}
	defer done()
	opts.Log = log
	st, err := dumper.Dump(opts)
	if err != nil {
		return lf.failed(log, "dump", err)
	}
	log.Info("dump done", "pid", opts.PID, "dir", opts.ImagesDir, "data_bytes", st.BytesData,
		"zero_pages", st.PagesZero, "vmas", st.VMAs, "fds", st.Fds)
	return 0
}
