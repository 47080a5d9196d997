package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/crlazy/crlazy/pageserver"
	"github.com/spf13/pflag"
)

func init() {
	register("page-server", "serve checkpoints to lazy restores and receive them from dumps", runPageServer)
}

func runPageServer(args []string) int {
	fs := pflag.NewFlagSet("page-server", pflag.ContinueOnError)
	var dir, pidfile string
	var statusFd int
	var nf netFlags
	var lf logFlags
	fs.StringVarP(&dir, "images-dir", "D", "", "directory of the checkpoints: one store per subdirectory, named after the checkpoint (required)")
	fs.StringVar(&pidfile, "pidfile", "", "write the server's pid to this file once it listens")
	fs.IntVar(&statusFd, "status-fd", -1, "write a NUL byte to this descriptor and close it once the server listens")
	nf.add(fs)
	lf.add(fs)
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if dir == "" || !nf.hasPort() {
		fmt.Fprintln(os.Stderr, "crlazy page-server: -D DIR and --port N are required")
		return 2
	}
	log, done, err := lf.open()
	if err != nil {
		return fail("page-server", err)
	}
	defer done()
	cfg, err := nf.server(log)
	if err != nil {
		return lf.failed(log, "page-server", err)
	}
	cfg.Dir = dir
	s, err := pageserver.Listen(cfg)
	if err != nil {
		return lf.failed(log, "page-server", err)
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			s.Close()
			return lf.failed(log, "page-server", err)
		}
	}
	signalStatus(statusFd)
	return servePages(s, log)
}

// servePages serves until SIGINT or SIGTERM.
func servePages(s *pageserver.Server, log *slog.Logger) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		got := <-sig
		log.Info("stopping the page server", "signal", got.String())
		s.Close()
	}()
	if err := s.Serve(); err != nil {
		return fail("page-server", err)
	}
	return 0
}
