package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/crlazy/crlazy/internal/daemon"
	"github.com/crlazy/crlazy/restorer"
	"github.com/spf13/pflag"
)

func init() {
	register("restore", "restore a process from an images directory", runRestore)
}

// restoreFlags are restore's command line.
type restoreFlags struct {
	opts       restorer.Options
	lf         logFlags
	detach     bool
	statusFd   int
	record     bool
	prefillMiB uint64
	pages      restorePageFlags
	inherit    []string
	fs         *pflag.FlagSet
}

func parseRestore(args []string) (*restoreFlags, int, bool) {
	f := &restoreFlags{fs: pflag.NewFlagSet("restore", pflag.ContinueOnError)}
	fs := f.fs
	fs.StringVarP(&f.opts.ImagesDir, "images-dir", "D", "", "directory holding the image store (required)")
	fs.BoolVarP(&f.detach, "restore-detached", "d", false, "return once the process runs instead of waiting for it")
	fs.StringVar(&f.opts.PidFile, "pidfile", "", "write the pid of the restored process to this file")
	fs.IntVar(&f.statusFd, "status-fd", -1, "write a NUL byte to this descriptor and close it once the process runs")
	fs.BoolVar(&f.opts.LazyPages, "lazy-pages", false, "run the process at once and bring its memory in on demand")
	fs.BoolVar(&f.record, "record-working-set", false, "record the pages faulted first for later lazy restores (default: when none is recorded yet)")
	fs.Uint64Var(&f.prefillMiB, "working-set-prefill", 256, "MiB of a recorded working set to fill before the process runs (0: none)")
	f.pages.add(fs)
	f.lf.add(fs)
	fs.BoolVar(&f.opts.TCPEstablished, "tcp-established", false, "restore the established TCP connections of the image")
	fs.BoolVar(&f.opts.ExtUnixSk, "ext-unix-sk", false, "reconnect by name the datagram UNIX sockets connected outside the tree")
	fs.BoolVarP(&f.opts.ShellJob, "shell-job", "j", false, "restore the tree onto this terminal, in the foreground if it was")
	fs.BoolVar(&f.opts.FileLocks, "file-locks", false, "take again the file locks of the image (default: refuse an image holding one)")
	fs.StringArrayVar(&f.inherit, "inherit-fd", nil, "fd[N]:KEY: give the tree crlazy's descriptor N in place of KEY, pipe:[INODE] or a file's path (repeatable)")
	if st, ok := parseFlags(fs, args); !ok {
		return nil, st, false
	}
	if f.opts.ImagesDir == "" {
		fmt.Fprintln(os.Stderr, "crlazy restore: -D DIR is required")
		return nil, 2, false
	}
	if err := f.pages.check(); err != nil {
		fmt.Fprintf(os.Stderr, "crlazy restore: %v\n", err)
		return nil, 2, false
	}
	var err error
	if f.opts.InheritFds, err = parseInheritFds(f.inherit); err != nil {
		fmt.Fprintf(os.Stderr, "crlazy restore: %v\n", err)
		return nil, 2, false
	}
	f.opts.WorkingSetPrefill = f.prefillMiB << 20
	if fs.Changed("record-working-set") {
		f.opts.RecordWorkingSet = restorer.RecordOff
		if f.record {
			f.opts.RecordWorkingSet = restorer.RecordOn
		}
	}
	return f, 0, true
}

func runRestore(args []string) int {
	f, st, ok := parseRestore(args)
	if !ok {
		return st
	}
	isDaemon := daemon.IsDaemon()
	if f.detach && f.opts.LazyPages && !isDaemon {
		return spawnLazyDaemon(f, args)
	}
	log, done, err := f.lf.open()
	if err != nil {
		daemon.Report("", err)
		return fail("restore", err)
	}
	defer done()
	f.opts.Log = log
	if err := f.pages.open(&f.opts, log); err != nil {
		daemon.Report("", err)
		return f.lf.failed(log, "restore", err)
	}
	p, err := restorer.Restore(f.opts)
	if err != nil {
		f.pages.finish(err, log)
		daemon.Report("", err)
		return f.lf.failed(log, "restore", err)
	}
	log.Info("restored", "pid", p.PID, "pages", p.Stats.PagesData, "lazy", f.opts.LazyPages)
	daemon.Report(strconv.Itoa(p.PID), nil)
	signalStatus(f.statusFd)
	defer f.pages.pagesIn(p, f.opts.LazyPages, isDaemon || !f.detach, !isDaemon && !f.detach, log)()
	if f.detach || isDaemon {
		return 0
	}
	code := waitRestored(p, log)
	if err := p.ReleaseTerminal(); err != nil {
		log.Warn("could not give the terminal back", "err", err)
	}
	return code
}
