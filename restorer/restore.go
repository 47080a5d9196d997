package restorer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/xsave"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/uffd"
)

// ErrIncompatibleHost is returned when the image needs something this
// machine does not have (another architecture, CPU features, vdso layout).
var ErrIncompatibleHost = errors.New("image is not compatible with this host")

// Options configure a restore. Zero values are documented per field.
type Options struct {
	ImagesDir string
	// PidFile, if set, receives the pid of the restored process once it
	// runs.
	PidFile string
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// LazyPages leaves private anonymous memory out of the restore: the
	// process runs at once and a userfaultfd handler brings its pages in
	// on demand and in the background (see package uffd).
	LazyPages bool
	// RecordWorkingSet: whether a lazy restore records which pages the
	// process faults first, for the next lazy restore of the store.
	RecordWorkingSet RecordMode
	// WorkingSetPrefill is how many bytes of a recorded working set a
	// lazy restore fills before the process runs (the rest is prefetched
	// first, after it runs). 0: none.
	WorkingSetPrefill uint64
	// Pages provides the page chunks instead of the local store (a page
	// server); the records still come from the local store. nil: the
	// local store.
	Pages uffd.Source
}

// Stats summarise a restore.
type Stats struct {
	PagesData uint64
}

// Process is a restored, running process: a child of the caller.
type Process struct {
	PID   int
	Stats Stats
	lazy  *lazyState
}

// WaitPages waits, after a lazy restore, until every page is in (or the
// process is gone, or was killed because a page could not be served: the
// error says why), then releases the store. It returns at once after an
// eager restore.
func (p *Process) WaitPages() error {
	if p.lazy == nil {
		return nil
	}
	return p.lazy.wait()
}

// LazyStats returns the lazy handler's counters (zero after an eager
// restore).
func (p *Process) LazyStats() uffd.Stats {
	if p.lazy == nil {
		return uffd.Stats{}
	}
	return p.lazy.h.Stats()
}

// StopPages makes a lazy handler give up at once (the process must be
// dead or about to be killed: its faults are no longer answered).
func (p *Process) StopPages() {
	if p.lazy != nil {
		p.lazy.close()
	}
}

// Wait waits for the restored process to end and returns its wait
// status.
//
// It waits on a pidfd for the exit and only then reaps: a wait4 in
// progress would take the ptrace stops of a lazy restore that seizes the
// process again (to remove its guard descriptor) from the tracer.
func (p *Process) Wait() (linux.WaitStatus, error) {
	pidfd, err := linux.PidfdOpen(p.PID)
	if err != nil {
		return 0, err
	}
	defer pidfd.Close()
	fd, err := linux.RawFd(pidfd)
	if err != nil {
		return 0, err
	}
	if _, err := linux.PollReadable([]int{fd}, -1); err != nil {
		return 0, err
	}
	if p.lazy != nil {
		p.lazy.mu.Lock()
		defer p.lazy.mu.Unlock()
	}
	_, ws, err := linux.Wait4(p.PID, linux.WALL)
	return ws, err
}

// Restore rebuilds the process in opts.ImagesDir with its original pid and
// lets it run. On error nothing is left behind.
func Restore(opts Options) (*Process, error) {
	p, err := restore(opts)
	if err != nil {
		return nil, fmt.Errorf("restore from %s: %w", opts.ImagesDir, err)
	}
	return p, nil
}

// restorer rebuilds one process.
type restorer struct {
	img   *image
	task  *inject.Task
	log   *slog.Logger
	stats Stats
	lazy  bool
	uffd  *os.File // our copy of the task's userfaultfd (lazy)
	guard int      // the task's own copy, at this descriptor
	// wset is the working set an earlier lazy restore recorded (image
	// page addresses in first-fault order); prefill how much of it to
	// fill before the process runs.
	wset    []uint64
	prefill uint64
	pages   uffd.Source // where chunks come from
}

func restore(opts Options) (*Process, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	var sopts []store.Option
	if opts.LazyPages {
		sopts = append(sopts, store.WithDeferredVerify())
	}
	r, err := store.Open(opts.ImagesDir, sopts...)
	if err != nil {
		return nil, err
	}
	tr := inject.NewTracer()
	handedOver := false
	defer func() {
		if !handedOver {
			tr.Close()
			r.Close()
		}
	}()
	log.Debug("store open", "after", time.Since(start))
	rs, err := prepare(r, log, opts.LazyPages)
	if err != nil {
		return nil, err
	}
	rs.pages = opts.Pages
	if rs.pages == nil {
		rs.pages = storeSource{r}
	}
	if rs.lazy {
		rs.wset = loadWorkingSet(opts.ImagesDir, r.Header().GetContents().GetKeyDigest(), rs.img.mmID, rs.log)
		rs.prefill = opts.WorkingSetPrefill
	}
	rs.log.Debug("image loaded and checked", "after", time.Since(start))
	if err := rs.create(tr); err != nil {
		return nil, err
	}
	rs.log.Debug("task created", "after", time.Since(start))
	// Run the injections on the tracer thread, sharing its CPU with the
	// task: ~5 µs per injected call instead of ~50.
	if err := tr.Run(func() error { return rs.build(r) }); err != nil {
		rs.abandon()
		return nil, fmt.Errorf("pid %d: %w", rs.img.pid, err)
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, rs.img.pid); err != nil {
			rs.abandon()
			return nil, err
		}
	}
	if err := rs.task.Detach(); err != nil {
		return nil, err
	}
	rs.log.Info("restored process runs", "after", time.Since(start))
	p := &Process{PID: rs.img.pid, Stats: rs.stats}
	if !rs.lazy {
		return p, nil
	}
	if p.lazy, err = rs.startLazy(opts, r, tr); err != nil {
		_ = linux.Kill(rs.img.pid, linux.SIGKILL)
		_, _, _ = linux.Wait4(rs.img.pid, 0)
		return nil, err
	}
	handedOver = true
	return p, nil
}

// prepare loads the image and checks it against this host before
// anything is created.
func prepare(r *store.Reader, log *slog.Logger, lazy bool) (*restorer, error) {
	img, err := load(r)
	if err != nil {
		return nil, err
	}
	if err := checkHost(r.Header()); err != nil {
		return nil, err
	}
	if err := checkPidFree(img.pid); err != nil {
		return nil, err
	}
	if err := checkFiles(img); err != nil {
		return nil, err
	}
	return &restorer{img: img, log: log.With("pid", img.pid), lazy: lazy}, nil
}

// abandon kills the half-built task and reaps it.
func (rs *restorer) abandon() {
	_ = rs.task.Kill()
	_, _, _ = linux.Wait4(rs.img.pid, 0)
	if rs.uffd != nil {
		rs.uffd.Close()
	}
}

// checkHost refuses images made on an incompatible machine.
func checkHost(h *crlazypb.Header) error {
	_, machine, err := linux.Uname()
	if err != nil {
		return err
	}
	if h.GetArch() != machine {
		return fmt.Errorf("%w: image is for %s, this machine is %s", ErrIncompatibleHost, h.GetArch(), machine)
	}
	if h.GetPageSize() != linux.PageSize {
		return fmt.Errorf("%w: image page size %d, this machine %d", ErrIncompatibleHost, h.GetPageSize(), linux.PageSize)
	}
	return nil
}

func checkPidFree(pid int) error {
	st, err := proc.ReadStatus(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("pid %d: %w (by %q, state %c)", pid, ErrPidInUse, st.Name, st.State)
}

// create makes the task with the image's pid from a stub.
func (rs *restorer) create(tr *inject.Tracer) error {
	s, err := startStub(tr)
	if err != nil {
		return err
	}
	defer s.kill()
	if err := checkXstate(s.task, rs.img); err != nil {
		return err
	}
	if err := s.task.Pin(); err != nil {
		return err
	}
	if _, err := s.cloneWithPid(rs.img.pid); err != nil {
		return err
	}
	t, err := tr.Adopt(rs.img.pid)
	if err != nil {
		return err
	}
	// The clone inherits the stub's pinned affinity; it gets the stub's
	// own back when it is detached.
	if set, ok := s.task.Affinity(); ok {
		t.KeepAffinity(set)
	}
	if err := t.Pin(); err != nil {
		_ = t.Kill()
		return err
	}
	t.SetSyscallInsn(s.task.SyscallInsn())
	rs.task = t
	return nil
}

// checkXstate refuses an image whose FPU state needs CPU features this
// host lacks, before the restored pid exists.
func checkXstate(t *inject.Task, img *image) error {
	fp := img.core.GetThreadInfo().GetFpregs()
	if fp == nil {
		return nil
	}
	host, err := t.Xstate()
	if err != nil {
		return err
	}
	if _, err := xsave.Decode(fp, host); err != nil {
		return fmt.Errorf("%w: %w", ErrIncompatibleHost, err)
	}
	return nil
}

// build turns the clone of the stub into the image's process.
func (rs *restorer) build(r *store.Reader) error {
	vmas := rs.img.mm.GetVmas()
	steps := []struct {
		name string
		fn   func() error
	}{
		{"scratch", func() error { return placeScratch(rs.task, vmas) }},
		{"clear address space", func() error { return clearAddressSpace(rs.task) }},
		{"vdso", func() error { return placeVdso(rs.task, vmas) }},
		{"map memory", rs.mapVMAs},
		{"fill memory", func() error { return rs.fillPages(r) }},
		{"protect memory", rs.finishVMAs},
		{"mm", rs.restoreMM},
		{"files", rs.restoreFds},
		{"fs", rs.restoreFs},
		{"signals", rs.restoreSignals},
		{"pending signals", rs.restoreSignalQueues},
		{"timers", rs.restoreTimers},
		{"rlimits", rs.restoreRlimits},
		{"misc", rs.restoreMisc},
		{"lazy pages", rs.maybeRegisterLazy},
		{"session", rs.restoreSession},
		{"creds", rs.restoreCreds},
		{"unmap scratch", rs.task.UnmapScratch},
		{"cpu", rs.restoreCPU},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rs.log.Debug("restore step done", "step", s.name)
	}
	return nil
}

func (rs *restorer) maybeRegisterLazy() error {
	if !rs.lazy {
		return nil
	}
	return rs.registerLazy()
}

func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
