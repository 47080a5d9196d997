package pageserver

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/store"
)

// incomingPrefix starts the name of the directory a push writes into
// before it is renamed to the checkpoint's name; checkpoint names cannot
// start with a dot.
const incomingPrefix = ".incoming-"

// dirCatalog serves the stores under dir: checkpoint NAME is the store in
// dir/NAME. Stores are opened on first use and closed when the last
// restore using them is done.
type dirCatalog struct {
	dir string
	log *slog.Logger

	mu      sync.Mutex           // guards the maps
	open    map[string]*dirEntry // stores being served
	pushing map[string]bool      // names being received
}

// dirEntry is one open store. ready is closed once r/ident/err are set.
type dirEntry struct {
	ready chan struct{}
	r     *store.Reader
	ident [identLen]byte
	err   error
	refs  int // guarded by dirCatalog.mu
}

func newDirCatalog(dir string, log *slog.Logger) (*dirCatalog, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("checkpoint directory %s: not a directory", dir)
	}
	stale, _ := filepath.Glob(filepath.Join(dir, incomingPrefix+"*"))
	for _, p := range stale {
		log.Warn("removing an unfinished push left by an earlier server", "dir", p)
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("remove unfinished push %s: %w", p, err)
		}
	}
	return &dirCatalog{dir: dir, log: log, open: map[string]*dirEntry{}, pushing: map[string]bool{}}, nil
}

func (d *dirCatalog) pull(name string, ident [identLen]byte) (*entry, error) {
	d.mu.Lock()
	e := d.open[name]
	first := e == nil
	if first {
		e = &dirEntry{ready: make(chan struct{})}
		d.open[name] = e
	}
	e.refs++
	d.mu.Unlock()
	if first {
		e.r, e.ident, e.err = d.load(name)
		close(e.ready)
	}
	<-e.ready
	release := func() { d.release(name, e) }
	switch {
	case e.err != nil:
		release()
		return nil, e.err
	case e.ident != ident:
		release()
		return nil, refuse(codeMismatch, fmt.Errorf("checkpoint %s holds another dump than the client's records", name))
	}
	return &entry{name: name, pages: storePages{e.r}, chunkSize: e.r.Header().GetChunkSize(), release: release}, nil
}

func (d *dirCatalog) release(name string, e *dirEntry) {
	d.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last {
		delete(d.open, name)
	}
	d.mu.Unlock()
	if last && e.r != nil {
		if err := e.r.Close(); err != nil {
			d.log.Warn("close checkpoint", "name", name, "err", err)
		}
	}
}

// load opens dir/name, which must be a directory (not a symlink) holding
// a complete store, and computes its identity.
func (d *dirCatalog) load(name string) (*store.Reader, [identLen]byte, error) {
	var id [identLen]byte
	p := filepath.Join(d.dir, name)
	st, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, id, refuse(codeNoSuch, fmt.Errorf("no checkpoint %s", name))
	case err != nil:
		return nil, id, err
	case !st.IsDir():
		return nil, id, refuse(codeNoSuch, fmt.Errorf("checkpoint %s is not a directory", name))
	}
	r, err := store.Open(p)
	if err != nil {
		return nil, id, storeRefusal(name, err)
	}
	if id, err = Identity(r); err != nil {
		r.Close()
		return nil, id, err
	}
	d.log.Info("checkpoint opened", "name", name, "chunks", r.Header().GetContents().GetChunks())
	return r, id, nil
}

// storeRefusal says why a store cannot be served.
func storeRefusal(name string, err error) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		return refuse(codeBusy, fmt.Errorf("checkpoint %s is being written: %w", name, err))
	case errors.Is(err, store.ErrCorrupt):
		return refuse(codeInternal, err)
	}
	return refuse(codeNoSuch, fmt.Errorf("checkpoint %s: %w", name, err))
}

func (d *dirCatalog) close() error { return nil }

// push reserves name and creates the store it is written into.
func (d *dirCatalog) push(name string, hdr *crlazypb.Header) (*incoming, error) {
	final := filepath.Join(d.dir, name)
	d.mu.Lock()
	_, err := os.Lstat(final)
	switch {
	case d.pushing[name]:
		err = refuse(codeBusy, fmt.Errorf("checkpoint %s is being pushed", name))
	case err == nil:
		err = refuse(codeExists, fmt.Errorf("checkpoint %s exists", name))
	case errors.Is(err, fs.ErrNotExist):
		err = nil
		d.pushing[name] = true
	}
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	in, err := d.create(name, final, hdr)
	if err != nil {
		d.done(name)
		return nil, err
	}
	return in, nil
}

func (d *dirCatalog) create(name, final string, hdr *crlazypb.Header) (*incoming, error) {
	tmp, err := os.MkdirTemp(d.dir, incomingPrefix+name+"-")
	if err != nil {
		return nil, err
	}
	w, err := store.Create(tmp, hdr)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, refuse(codeBadRequest, err)
	}
	return &incoming{name: name, w: w, tmp: tmp, final: final, cat: d}, nil
}

// done ends the reservation of name.
func (d *dirCatalog) done(name string) {
	d.mu.Lock()
	delete(d.pushing, name)
	d.mu.Unlock()
}
