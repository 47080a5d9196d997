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
	var pf dumpPageFlags
	fs.IntVarP(&opts.PID, "tree", "t", 0, "pid of the process to dump (required)")
	fs.StringVarP(&opts.ImagesDir, "images-dir", "D", "", "directory for the image store (required; must not hold one)")
	fs.BoolVar(&opts.LeaveRunning, "leave-running", false, "let the process run on after the dump (default: kill it)")
	pf.add(fs)
	lf.add(fs)
	fs.BoolVar(&opts.TCPEstablished, "tcp-established", false, "save established TCP connections (their traffic is held until restore)")
	fs.BoolVar(&opts.TCPSkipInFlight, "tcp-skip-in-flight", false, "drop the connections waiting in a listener's accept queue (default: refuse)")
	addGhostLimit(fs, &opts.GhostLimit)
	fs.BoolVar(&opts.ExtUnixSk, "ext-unix-sk", false, "save datagram UNIX sockets connected outside the tree (restore reconnects them by name)")
	fs.BoolVarP(&opts.ShellJob, "shell-job", "j", false, "save the terminal outside the tree the processes use (restore puts them on its own)")
	fs.BoolVar(&opts.FileLocks, "file-locks", false, "save the file locks (flock, POSIX, OFD) the processes hold (default: refuse a tree holding one)")
	fs.BoolVar(&opts.LinkRemap, "link-remap", false, "link a file deleted from its path but linked elsewhere again beside its old name, until the restore (default: refuse it)")
	later := notYet(fs, "track-mem", "pre-dump")
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
	if err := pf.check(); err != nil {
		fmt.Fprintf(os.Stderr, "crlazy dump: %v\n", err)
		return 2
	}
	log, done, err := lf.open()
	if err != nil {
		return fail("dump", err)
	}
	defer done()
	opts.Log = log
	finish, err := pf.setup(&opts, log)
	if err != nil {
		return lf.failed(log, "dump", err)
	}
	st, err := dumper.Dump(opts)
	if err = finish(err); err != nil {
		return lf.failed(log, "dump", err)
	}
	log.Info("dump done", "pid", opts.PID, "dir", opts.ImagesDir, "data_bytes", st.BytesData,
		"zero_pages", st.PagesZero, "vmas", st.VMAs, "fds", st.Fds)
	return 0
}
