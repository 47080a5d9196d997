package main

import (
	"log/slog"

	"github.com/crlazy/crlazy/pageserver"
	"github.com/crlazy/crlazy/restorer"
	"github.com/crlazy/crlazy/store"
	"github.com/spf13/pflag"
)

// restorePageFlags are restore's page-server flags: with --page-server
// the records come from -D and every page from the server.
type restorePageFlags struct {
	use bool
	net netFlags

	local *store.Reader      // -D, for the records' identity and HasData
	src   *pageserver.Source // set by open
}

func (p *restorePageFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&p.use, "page-server", false, "take the pages from the page server at --address/--port (the records from -D)")
	p.net.add(fs)
	p.net.addName(fs)
}

func (p *restorePageFlags) check() error {
	if p.use && !p.net.hasPort() {
		return errNoPort
	}
	return nil
}

// open connects to the page server and points opts at it.
func (p *restorePageFlags) open(opts *restorer.Options, log *slog.Logger) error {
	if !p.use {
		return nil
	}
	cfg, err := p.net.client(log)
	if err != nil {
		return err
	}
	name, err := p.net.checkpointName(opts.ImagesDir)
	if err != nil {
		return err
	}
	if p.local, err = store.Open(opts.ImagesDir, store.WithDeferredVerify()); err != nil {
		return err
	}
	if p.src, err = pageserver.Open(cfg, name, p.local); err != nil {
		p.local.Close()
		return err
	}
	opts.Pages = p.src
	log.Info("pages from the page server", "server", cfg.Address, "name", name)
	return nil
}

// finish tells the server the restore has every page (err == nil), and
// disconnects.
func (p *restorePageFlags) finish(err error, log *slog.Logger) {
	if p.src == nil {
		return
	}
	if err == nil {
		if ferr := p.src.Finish(); ferr != nil {
			log.Warn("cannot tell the page server that every page is in", "err", ferr)
		}
	}
	p.src.Close()
	p.local.Close()
	p.src = nil
}

// pagesIn returns what the restore defers once the process runs: if this
// crlazy serves a lazy restore's pages (serves), wait until every page is
// in and tell the page server; if it also waits for the process
// (waitsProcess), the page server hears at once, not when the process
// ends. After an eager restore every page is in already.
func (p *restorePageFlags) pagesIn(pr *restorer.Process, lazy, serves, waitsProcess bool, log *slog.Logger) func() {
	switch {
	case !lazy:
		p.finish(nil, log)
		return func() {}
	case !serves:
		return func() {}
	case !p.use || !waitsProcess:
		return func() { p.finish(finishPages(pr, log), log) }
	}
	in := make(chan struct{})
	go func() {
		p.finish(finishPages(pr, log), log)
		close(in)
	}()
	return func() { <-in }
}
