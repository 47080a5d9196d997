package main

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/crlazy/crlazy/dumper"
	"github.com/crlazy/crlazy/pageserver"
	"github.com/crlazy/crlazy/store"
	"github.com/spf13/pflag"
)

// dumpPageFlags are dump's page-server flags: --page-server pushes the
// pages to a page server; --lazy-pages serves them from the frozen
// process (criu's source-side lazy dump).
type dumpPageFlags struct {
	push, lazy bool
	net        netFlags
}

func (p *dumpPageFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&p.push, "page-server", false, "send the pages to a page server at --address/--port; the records stay in -D and go to the server too")
	fs.BoolVar(&p.lazy, "lazy-pages", false, "keep the process frozen and serve its pages at --address/--port until a lazy restore has them all, then kill it")
	p.net.add(fs)
	p.net.addName(fs)
}

func (p *dumpPageFlags) check() error {
	switch {
	case p.push && p.lazy:
		return errors.New("--page-server and --lazy-pages exclude each other")
	case (p.push || p.lazy) && !p.net.hasPort():
		return errNoPort
	}
	return nil
}

// setup wires the page server into opts; finish takes the dump's error
// and returns the command's.
func (p *dumpPageFlags) setup(opts *dumper.Options, log *slog.Logger) (finish func(error) error, err error) {
	switch {
	case p.push:
		return p.setupPush(opts, log)
	case p.lazy:
		return p.setupLazy(opts, log)
	}
	return func(err error) error { return err }, nil
}

func (p *dumpPageFlags) setupPush(opts *dumper.Options, log *slog.Logger) (func(error) error, error) {
	cfg, err := p.net.client(log)
	if err != nil {
		return nil, err
	}
	name, err := p.net.checkpointName(opts.ImagesDir)
	if err != nil {
		return nil, err
	}
	pusher, err := pageserver.Push(cfg, name, opts.ImagesDir, pageserver.PushHeader(dumper.Version))
	if err != nil {
		return nil, err
	}
	opts.Pages = pusher
	log.Info("pushing pages", "server", cfg.Address, "name", name)
	return func(err error) error {
		if err != nil {
			_ = pusher.Abort()
		}
		return err
	}, nil
}

// setupLazy listens at once (a bad address fails before the process is
// touched) and serves the pages once the dump has written its records.
func (p *dumpPageFlags) setupLazy(opts *dumper.Options, log *slog.Logger) (func(error) error, error) {
	cfg, err := p.net.server(log)
	if err != nil {
		return nil, err
	}
	name, err := p.net.checkpointName(opts.ImagesDir)
	if err != nil {
		return nil, err
	}
	s, err := pageserver.Listen(cfg)
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if _, ok := <-sig; ok {
			close(stop)
		}
	}()
	var failed error // an error after pages were served
	opts.Pages = pageserver.DiscardPages{}
	opts.Frozen = func() error {
		served, err := serveFrozen(s, name, opts.ImagesDir, stop, log)
		if err != nil && served {
			failed = err // the restored copy may run: never let the source run too
			return nil
		}
		return err
	}
	return func(err error) error {
		signal.Stop(sig)
		close(sig)
		s.Close()
		if err == nil {
			err = failed
		}
		return err
	}, nil
}

// serveFrozen serves the frozen process's pages, described by the
// records just committed in dir.
func serveFrozen(s *pageserver.Server, name, dir string, stop <-chan struct{}, log *slog.Logger) (bool, error) {
	r, err := store.Open(dir)
	if err != nil {
		return false, err
	}
	defer r.Close()
	pp, err := pageserver.NewProcessPages(name, r)
	if err != nil {
		return false, err
	}
	log.Info("serving the frozen process's pages; restore with --lazy-pages --page-server", "address", s.Addr().String(), "name", name)
	return s.ServeFrozen(pp, stop)
}
