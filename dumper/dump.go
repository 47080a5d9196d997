package dumper

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
)

// Options configure a dump. The zero value of each optional field is
// documented.
type Options struct {
	PID       int    // the process to dump
	ImagesDir string // where the store is created; must not hold a store
	// LeaveRunning lets the process go on after the dump; by default it
	// is killed once the store is committed.
	LeaveRunning bool
	// TCPEstablished saves established TCP connections (criu's
	// --tcp-established): their traffic is held by a network lock
	// (package netlock) from before they are read until a restore
	// removes it. false: a tree holding one is refused.
	TCPEstablished bool
	// TCPSkipInFlight drops the connections waiting in the accept queue
	// of a listening socket (criu's --tcp-skip-in-flight). false: a tree
	// holding one is refused.
	TCPSkipInFlight bool
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// Pages receives the page chunks instead of the local store (a page
	// server); the local store still gets every record, the pagemap
	// included. Its Commit is called after the local store's. nil: the
	// chunks go into the local store.
	Pages PageSink
	// Frozen, if set, is called once everything is committed, with the
	// tree still frozen (a source-side lazy dump serves its memory
	// meanwhile). If it fails, the tree is released and Dump fails;
	// otherwise the tree is killed or left running as usual. nil: none.
	Frozen func() error
	// GhostLimit is the largest deleted file (still open or mapped) whose
	// contents the dump saves (criu's --ghost-limit); a larger one is
	// refused. 0: DefaultGhostLimit; above images.GhostDataMax counts as
	// that.
	GhostLimit uint64
	// ExtUnixSk saves a datagram UNIX socket connected to a named socket
	// outside the tree, which restore reconnects by name (criu's
	// --ext-unix-sk). false: such a socket is refused.
	ExtUnixSk bool
	// ShellJob saves the terminal outside the tree that its processes
	// use (the session's controlling terminal), which restore replaces
	// with its own (criu's --shell-job). false: such a descriptor is
	// refused.
	ShellJob bool
	// LinkRemap links a file that was unlinked from the path it was
	// opened by but has other links again beside its old name, until the
	// restore opens it there and removes the link (criu's --link-remap).
	// false: such a file is refused.
	LinkRemap bool
	// FileLocks saves the file locks (flock, POSIX, OFD) the tree holds
	// (criu's --file-locks). false: a tree holding one is refused.
	FileLocks bool
}

// PageSink receives the page chunks of a dump.
//
// PutChunk and AfterCommit are called from one goroutine; the sink owns
// data from then on and must not be given it back before AfterCommit's
// function runs.
type PageSink interface {
	// PutChunk takes the bytes of the non-zero pages of mm at addr.
	PutChunk(mm uint32, addr uint64, data []byte) error
	// AfterCommit runs fn once the chunks put so far are stored (their
	// buffers may be reused then).
	AfterCommit(fn func()) error
	// Commit makes every chunk durable; the dump fails if it fails.
	Commit() error
}

// Stats summarise a dump.
type Stats struct {
	PagesData uint64 // non-zero pages written
	PagesZero uint64 // zero pages recorded as holes
	BytesData uint64
	Chunks    uint64
	VMAs      int
	Fds       int
}

// Dump checkpoints opts.PID into a new store in opts.ImagesDir.
func Dump(opts Options) (Stats, error) {
	st, err := dump(opts)
	if err != nil {
		return st, fmt.Errorf("dump pid %d: %w", opts.PID, err)
	}
	return st, nil
}

func dump(opts Options) (Stats, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := precheck(opts.PID); err != nil {
		return Stats{}, err
	}
	tr := inject.NewTracer()
	defer tr.Close()
	t, err := freeze(tr, opts.PID)
	if err != nil {
		if errors.Is(err, inject.ErrTargetGone) {
			return Stats{}, fmt.Errorf("%w: %w", ErrNoProcess, err)
		}
		return Stats{}, err
	}
	log.Info("tree frozen", "root", opts.PID, "processes", len(t.procs))
	d := &treeDump{tree: t, opts: opts, log: log, files: newFileTable(t)}
	d.files.mem.ghosts.limit = opts.GhostLimit
	d.files.mem.ghosts.linkRemap = opts.LinkRemap
	d.files.unix = newUnixDump(opts.ExtUnixSk, log)
	d.files.tty = newTTYDump(opts.ShellJob, log)
	d.files.locks = newLockDump(opts.FileLocks, t, log)
	d.net = newNetDump(opts.TCPEstablished, log, d.files.tids)
	d.net.skipInFlight = opts.TCPSkipInFlight
	// A bug that panics here must not take the tree down with crlazy: a
	// tracee left with the single-step flag of an injected call would die
	// of SIGTRAP once its tracer is gone. Let it go, and its traffic, first.
	defer func() {
		if p := recover(); p != nil {
			_ = d.net.abort()
			_ = t.release()
			panic(p)
		}
	}()
	st, err := d.run()
	if err != nil {
		d.files.mem.ghosts.unlinkRemaps()
		_ = d.net.abort()
		_ = t.release()
		return st, err
	}
	if opts.Frozen != nil {
		if err := opts.Frozen(); err != nil {
			return st, errors.Join(err, d.net.abort(), t.release())
		}
	}
	if opts.LeaveRunning {
		log.Info("leaving the tree running", "root", opts.PID)
		return st, errors.Join(d.net.abort(), t.release())
	}
	log.Info("killing the dumped tree", "root", opts.PID)
	err = t.kill()
	d.net.finish()
	return st, err
}

// precheck refuses, from /proc alone, processes this version cannot dump.
func precheck(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	if pid == os.Getpid() {
		return &UnsupportedError{Reason: "crlazy cannot dump itself"}
	}
	status, err := proc.ReadStatus(pid)
	if err != nil {
		if errors.Is(err, proc.ErrNoProcess) {
			return fmt.Errorf("%w: %w", ErrNoProcess, err)
		}
		return err
	}
	return checkShape(pid, status)
}

func checkShape(pid int, status *proc.Status) error {
	switch {
	case status.Tgid != pid:
		return unsupported("is a thread; dump its process "+fmt.Sprint(status.Tgid), "pid %d", pid)
	case status.Kthread:
		return unsupported("is a kernel thread", "pid %d", pid)
	case status.State == 'Z' || status.State == 'X':
		return unsupported("is a zombie", "pid %d", pid)
	case status.TracerPid != 0:
		return unsupported(fmt.Sprintf("is already traced by pid %d", status.TracerPid), "pid %d", pid)
	}
	return nil
}

// treeDump collects and writes a frozen tree.
type treeDump struct {
	tree  *tree
	opts  Options
	log   *slog.Logger
	files *fileTable
	net   *netDump // inet sockets, the network lock (fd_inet_tcp.go)
	imgs  []*image
	stats Stats
}

func (d *treeDump) run() (Stats, error) {
	if err := d.tree.shareIDs(); err != nil {
		return d.stats, err
	}
	var xfeatures uint64
	for _, p := range d.tree.procs {
		if p.zombie {
			d.imgs = append(d.imgs, zombieImage(p))
			continue
		}
		c := &collector{p: p, pid: p.pid, tr: d.tree.tr, log: d.log, stats: &d.stats, net: d.net}
		img, err := c.collect(d.files)
		if err != nil {
			return d.stats, fmt.Errorf("pid %d: %w", p.pid, err)
		}
		xfeatures = img.xfeatures
		d.imgs = append(d.imgs, img)
	}
	d.files.warnExternalPipes(d.log)
	if err := d.files.unix.finish(d.files); err != nil { // peers of UNIX sockets
		return d.stats, err
	}
	if err := d.files.tty.finish(); err != nil { // terminals outside the tree
		return d.stats, err
	}
	w, err := store.Create(d.opts.ImagesDir, newHeader(xfeatures))
	if err != nil {
		return d.stats, err
	}
	pages := d.opts.Pages
	if pages == nil {
		pages = localPages{w}
	}
	if err := d.write(w, pages); err != nil {
		_ = w.Abort()
		return d.stats, err
	}
	if err := w.Commit(); err != nil {
		_ = w.Abort()
		return d.stats, err
	}
	if d.opts.Pages != nil {
		if err := d.opts.Pages.Commit(); err != nil {
			return d.stats, fmt.Errorf("commit pages: %w", err)
		}
	}
	d.log.Info("store committed", "dir", d.opts.ImagesDir, "data_pages", d.stats.PagesData,
		"zero_pages", d.stats.PagesZero, "chunks", d.stats.Chunks)
	return d.stats, nil
}

// collector gathers the state of one frozen process.
type collector struct {
	p     *process
	pid   int
	tr    *inject.Tracer
	log   *slog.Logger
	img   *image
	stats *Stats
	net   *netDump
}

// localPages puts chunks into the local store, whose Commit covers them.
type localPages struct{ w *store.Writer }

func (l localPages) PutChunk(mm uint32, addr uint64, data []byte) error {
	return l.w.PutChunk(mm, addr, data)
}

func (l localPages) AfterCommit(fn func()) error { return l.w.AfterCommit(fn) }

func (l localPages) Commit() error { return nil }
