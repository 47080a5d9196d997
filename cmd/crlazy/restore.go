package main

import (
	"fmt"
	"os"

	"github.com/crlazy/crlazy/restorer"
	"github.com/spf13/pflag"
)

func init() {
	register("restore", "restore a process from an images directory", runRestore)
}

func runRestore(args []string) int {
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	var opts restorer.Options
	var lf logFlags
	var detach bool
	fs.StringVarP(&opts.ImagesDir, "images-dir", "D", "", "directory holding the image store (required)")
	fs.BoolVarP(&detach, "restore-detached", "d", false, "return once the process runs instead of waiting for it")
	fs.StringVar(&opts.PidFile, "pidfile", "", "write the pid of the restored process to this file")
	lf.add(fs)
	later := notYet(fs, "lazy-pages", "tcp-established", "ext-unix-sk", "file-locks", "shell-job", "page-server", "address", "port")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if err := later(); err != nil {
		return fail("restore", err)
	}
	if opts.ImagesDir == "" {
		fmt.Fprintln(os.Stderr, "crlazy restore: -D DIR is required")
		return 2
	}
	log, done, err := lf.open()
	if err != nil {
		return fail("restore", err)
	}
	defer done()
	opts.Log = log
	p, err := restorer.Restore(opts)
	if err != nil {
		return lf.failed(log, "restore", err)
	}
	log.Info("restored", "pid", p.PID, "pages", p.Stats.PagesData)
	if detach {
		return 0
	}
	ws, err := p.Wait()
	if err != nil {
		return fail("restore", err)
	}
	if ws.Signaled() {
		log.Info("restored process killed", "pid", p.PID, "signal", ws.Signal())
		return 128 + ws.Signal()
	}
	return ws.ExitStatus()
}
