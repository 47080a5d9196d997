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
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// Pages receives the page chunks instead of the local store (a page
	// server); the local store still gets every record, the pagemap
	// included. Its Commit is called after the local store's. nil: the
	// chunks go into the local store.
	Pages PageSink
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
	t, err := tr.Seize(opts.PID, 0)
	if err != nil {
		if errors.Is(err, inject.ErrTargetGone) {
			return Stats{}, fmt.Errorf("%w: %w", ErrNoProcess, err)
		}
		return Stats{}, err
	}
	log.Info("seized", "pid", opts.PID)
	c := &collector{pid: opts.PID, task: t, tr: tr, log: log}
	st, err := c.run(opts)
	if err != nil {
		c.release()
		return st, err
	}
	if opts.LeaveRunning {
		log.Info("leaving process running", "pid", opts.PID)
		return st, c.release()
	}
	log.Info("killing dumped process", "pid", opts.PID)
	return st, t.Kill()
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
	case status.Threads > 1:
		return unsupported("multi-threaded processes are not supported yet", "pid %d (%d threads)", pid, status.Threads)
	}
	kids, err := proc.Children(pid)
	if err != nil {
		return err
	}
	if len(kids) > 0 {
		return unsupported("process trees are not supported yet", "pid %d (children %v)", pid, kids)
	}
	return nil
}

// collector gathers the state of one seized process.
type collector struct {
	pid  int
	task *inject.Task
	tr   *inject.Tracer
	log  *slog.Logger

	img   *image
	stats Stats
}

func (c *collector) run(opts Options) (Stats, error) {
	// Threads and children may have appeared between precheck and seize;
	// now that the task is stopped, no more can.
	if tids, err := proc.ListTasks(c.pid); err != nil {
		return c.stats, err
	} else if len(tids) > 1 {
		return c.stats, unsupported("multi-threaded processes are not supported yet", "pid %d (%d threads)", c.pid, len(tids))
	}
	if kids, err := proc.Children(c.pid); err != nil {
		return c.stats, err
	} else if len(kids) > 0 {
		return c.stats, unsupported("process trees are not supported yet", "pid %d (children %v)", c.pid, kids)
	}
	img, err := c.collect()
	if err != nil {
		return c.stats, err
	}
	c.img = img
	w, err := store.Create(opts.ImagesDir, newHeader(img.xfeatures))
	if err != nil {
		return c.stats, err
	}
	pages := opts.Pages
	if pages == nil {
		pages = localPages{w}
	}
	if err := c.write(w, pages); err != nil {
		_ = w.Abort()
		return c.stats, err
	}
	if err := w.Commit(); err != nil {
		_ = w.Abort()
		return c.stats, err
	}
	if opts.Pages != nil {
		if err := opts.Pages.Commit(); err != nil {
			return c.stats, fmt.Errorf("commit pages: %w", err)
		}
	}
	c.log.Info("store committed", "dir", opts.ImagesDir, "data_pages", c.stats.PagesData,
		"zero_pages", c.stats.PagesZero, "chunks", c.stats.Chunks)
	return c.stats, nil
}

// localPages puts chunks into the local store, whose Commit covers them.
type localPages struct{ w *store.Writer }

func (l localPages) PutChunk(mm uint32, addr uint64, data []byte) error {
	return l.w.PutChunk(mm, addr, data)
}

func (l localPages) AfterCommit(fn func()) error { return l.w.AfterCommit(fn) }

func (l localPages) Commit() error { return nil }

// release undoes injection and lets the process run.
func (c *collector) release() error {
	err := c.task.Restore()
	if derr := c.task.Detach(); err == nil {
		err = derr
	}
	return err
}
