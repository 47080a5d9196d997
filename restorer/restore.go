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

	filelock "github.com/checkpoint-restore/go-criu/v8/crit/images/file-lock"
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

// ErrUnsupported is returned for an image that needs something crlazy
// cannot restore yet.
var ErrUnsupported = errors.New("not supported yet")

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
	// TCPEstablished restores the established TCP connections of the
	// image (criu's --tcp-established) and then removes the network
	// lock the dump left. false: an image holding one is refused.
	TCPEstablished bool
	// ExtUnixSk reconnects by name the datagram UNIX sockets that were
	// connected outside the dumped tree (criu's --ext-unix-sk). false:
	// an image holding one is refused.
	ExtUnixSk bool
	// ShellJob restores the tree onto crlazy's own terminal in place of
	// the terminal outside the tree it used, in crlazy's session, in the
	// foreground if it was (criu's --shell-job). false: an image holding
	// such a terminal is refused.
	ShellJob bool
	// InheritFds replace resources of the image by descriptors of
	// crlazy's (criu's --inherit-fd); they stay the caller's.
	InheritFds []InheritFd
	// FileLocks takes the file locks of the image again (criu's
	// --file-locks). false: an image holding one is refused before
	// anything is created.
	FileLocks bool
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
	tty   *ttyRestore // --shell-job: crlazy's terminal, given back by ReleaseTerminal
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
		if ws, ok := p.lazy.reaped[p.PID]; ok {
			return ws, nil // it died while seized to remove its guard
		}
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

// restorer rebuilds one process of a tree.
type restorer struct {
	img     *image
	tr      *inject.Tracer
	threads []threadRestore // the leader first
	log     *slog.Logger
	stats   Stats
	lazy    bool
	uffd    *os.File // our copy of the process's userfaultfd (lazy)
	guard   int      // the process's own copy, at this descriptor
	// wset is the working set an earlier lazy restore recorded (image
	// page addresses in first-fault order); prefill how much of it to
	// fill before the process runs.
	wset       []uint64
	prefill    uint64
	pages      uffd.Source  // where chunks come from
	childEnded bool         // a child ended while it was built (a zombie, a holder): flush its SIGCHLD
	filesOwner *restorer    // the process whose descriptor table this one has (itself, or a CLONE_FILES parent)
	guards     map[int]bool // on a table's owner: the guard descriptors of lazy restores in it
	files      *treeFiles   // descriptions shared by the tree, pipes, ... (fd_objects.go)

	// locks are the file locks the process takes again (fd_lock.go).
	locks []*filelock.FileLockEntry
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
	t, err := prepare(r, tr, opts, log)
	if err != nil {
		return nil, err
	}
	defer t.files.close()
	if err := t.buildMemObjects(r, pageSource(opts, r)); err != nil { // mem_build.go
		return nil, err
	}
	sv, err := buildSysv(r, log) // System V shared memory: sysvshm.go
	if err != nil {
		return nil, err
	}
	svDone := false
	defer func() {
		if !svDone {
			sv.abort()
		}
	}()
	log.Debug("images loaded and checked", "after", time.Since(start), "processes", len(t.procs))
	ux, err := buildUnix(r, t.files, opts, log) // UNIX sockets: fd_unix*.go
	if err != nil {
		return nil, err
	}
	tt, err := buildTTYs(r, t, opts, log) // terminals: fd_tty*.go
	if err != nil {
		ux.abort()
		return nil, err
	}
	defer tt.close()
	net, err := buildInet(r, t.files, opts)
	if err != nil {
		ux.abort()
		return nil, err
	}
	// Run the injections on the tracer thread, sharing its CPU with the
	// tasks: ~5 µs per injected call instead of ~50.
	err = tr.Run(func() error {
		if err := t.create(); err != nil {
			return err
		}
		log.Debug("tasks created", "after", time.Since(start))
		return t.build(r)
	})
	if err == nil {
		err = t.files.mem.sealLate() // fd_memfd.go
	}
	if err == nil {
		err = tt.foreground(t) // fd_tty_session.go
	}
	if err == nil && opts.PidFile != "" {
		err = writePidFile(opts.PidFile, t.root().img.pid)
	}
	if err != nil {
		net.abort(t.files.objs)
		ux.abort()
		t.abandon()
		return nil, net.keptLock(err)
	}
	net.release(log)
	t.files.mem.removeLinks(log)
	sv.finish()
	svDone = true
	if err := t.detach(); err != nil {
		return nil, err
	}
	root := t.root()
	log.Info("restored tree runs", "root", root.img.pid, "processes", len(t.procs), "after", time.Since(start))
	p := &Process{PID: root.img.pid, tty: tt}
	for _, rs := range t.procs {
		p.Stats.PagesData += rs.stats.PagesData
	}
	if !opts.LazyPages {
		return p, nil
	}
	if p.lazy, err = t.startLazy(opts, r); err != nil {
		t.killAll()
		return nil, err
	}
	handedOver = true
	return p, nil
}

// prepare loads the images and checks them against this host before
// anything is created.
func prepare(r *store.Reader, tr *inject.Tracer, opts Options, log *slog.Logger) (*treeRestore, error) {
	imgs, err := load(r)
	if err != nil {
		return nil, err
	}
	if err := checkHost(r.Header()); err != nil {
		return nil, err
	}
	files, err := loadTreeFiles(r, imgs)
	if err != nil {
		return nil, err
	}
	if err := files.inherit(opts.InheritFds); err != nil {
		files.close()
		return nil, err
	}
	if files.mem, err = loadMemObjects(r, files.files); err != nil {
		return nil, err
	}
	t := &treeRestore{tr: tr, log: log, byPid: map[int]*restorer{}, files: files}
	digest := r.Header().GetContents().GetKeyDigest()
	zombieDeadline := time.Now().Add(zombieWait)
	for _, img := range imgs {
		for _, tid := range img.pstree.GetThreads() {
			if err := awaitPidFree(int(tid), zombieDeadline); err != nil {
				return nil, err
			}
		}
		if err := checkFiles(img, files.mem, files.inherited); err != nil {
			return nil, err
		}
		rs := &restorer{img: img, tr: tr, log: log.With("pid", img.pid), lazy: opts.LazyPages, pages: opts.Pages}
		rs.files = files
		if rs.pages == nil {
			rs.pages = storeSource{r}
		}
		if rs.lazy && !img.zombie {
			rs.wset = loadWorkingSet(opts.ImagesDir, digest, img.mmID, rs.log)
			rs.prefill = opts.WorkingSetPrefill
		}
		t.procs = append(t.procs, rs)
		t.byPid[img.pid] = rs
	}
	for _, rs := range t.procs {
		if rs.filesOwner = t.byPid[int(rs.img.filesID)]; rs.filesOwner == nil {
			rs.filesOwner = rs
		}
	}
	if err := t.loadLocks(r, opts.FileLocks); err != nil { // fd_lock.go
		return nil, err
	}
	return t, nil
}

// build rebuilds every process that is not a zombie.
func (t *treeRestore) build(r *store.Reader) error {
	for _, rs := range t.procs {
		if rs.img.zombie {
			continue
		}
		if err := rs.build(r); err != nil {
			return fmt.Errorf("pid %d: %w", rs.img.pid, err)
		}
	}
	return nil
}

// detach lets every task run, all at once at the end. A process that was
// stopped gets its stop signal with the leader's detach, first, so that
// none of its threads runs an instruction before the group stop.
func (t *treeRestore) detach() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, rs := range t.procs {
		if rs.img.zombie {
			continue
		}
		sig := int(rs.img.core.GetTc().GetStopSigno())
		keep(rs.leader().DetachSignal(sig))
		for _, tt := range rs.threads[1:] {
			keep(tt.task.Detach())
		}
	}
	return first
}

// killAll kills the restored tree (it runs already) and reaps it.
func (t *treeRestore) killAll() {
	t.reapAll(func() {
		for i := len(t.procs) - 1; i >= 0; i-- {
			_ = linux.Kill(t.procs[i].img.pid, linux.SIGKILL)
		}
	})
}

// orphanTimeout bounds the wait for a killed process of the tree to be
// reparented to crlazy and reaped.
const orphanTimeout = 10 * time.Second

// reapAll runs kill, which ends every process of the tree, with crlazy a
// child subreaper: the processes orphaned by their parents' death come to
// it and are reaped here, rather than left to init as zombies.
func (t *treeRestore) reapAll(kill func()) {
	was, err := linux.ChildSubreaper()
	if err == nil && !was {
		err = linux.SetChildSubreaper(true)
	}
	kill()
	deadline := time.Now().Add(orphanTimeout)
	for _, rs := range t.procs {
		if len(rs.threads) == 0 {
			continue // never created: its pid may be someone else's
		}
		for err == nil && time.Now().Before(deadline) {
			pid, _, werr := linux.Wait4(rs.img.pid, linux.WALL|linux.WNOHANG)
			if pid == rs.img.pid || werr != nil && checkPidFree(rs.img.pid) == nil {
				break // reaped here, or gone (reaped by a parent outside)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err == nil && !was {
		_ = linux.SetChildSubreaper(false)
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

// zombieWait bounds how long a restore waits for zombies holding the
// image's pids to be reaped. A dump kills its tree; the processes' parent,
// or the init that adopts the orphans, reaps them a little later (seconds
// later for some inits), and a restore started at once must not fail on
// that.
const zombieWait = 3 * time.Second

// awaitPidFree is checkPidFree that waits, until deadline, for a zombie
// holding pid to be reaped.
func awaitPidFree(pid int, deadline time.Time) error {
	for {
		err := checkPidFree(pid)
		if err == nil || !errors.Is(err, errZombie) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// errZombie marks an ErrPidInUse whose holder is a zombie.
var errZombie = errors.New("a zombie not yet reaped by its parent")

func checkPidFree(pid int) error {
	st, err := proc.ReadStatus(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.State == 'Z' {
		return fmt.Errorf("pid %d: %w (by %q, %w, its parent is pid %d)", pid, ErrPidInUse, st.Name, errZombie, st.PPid)
	}
	return fmt.Errorf("pid %d: %w (by %q, state %c)", pid, ErrPidInUse, st.Name, st.State)
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

// build turns the clone of the stub into the image's process: its
// memory, then its threads, then the rest.
func (rs *restorer) build(r *store.Reader) error {
	vmas := rs.img.mm.GetVmas()
	leader := rs.leader()
	steps := []struct {
		name string
		fn   func() error
	}{
		{"scratch", func() error { return placeScratch(leader, vmas) }},
		{"clear address space", func() error { return clearAddressSpace(leader) }},
		{"vdso", func() error { return placeVdso(leader, vmas) }},
		{"map memory", rs.mapVMAs},
		{"fill memory", func() error { return rs.fillPages(r) }},
		{"protect memory", rs.finishVMAs},
		{"mm", rs.restoreMM},
		{"threads", rs.createThreads},
		{"files", rs.onlyIf(rs.img.ownsFiles(), rs.restoreFds)},
		{"fs", rs.onlyIf(rs.img.ownsFs(), rs.restoreFs)},
		{"file locks", rs.restoreLocks},
		{"signals", rs.restoreSignals},
		{"pending signals", rs.restoreSharedQueue},
		{"timers", rs.restoreTimers},
		{"posix timers", rs.restorePosixTimers},
		{"rlimits", rs.restoreRlimits},
		{"misc", rs.restoreProcessMisc},
		{"thread state", rs.restoreThreads},
		{"lazy pages", rs.maybeRegisterLazy},
		{"seccomp", rs.restoreSeccomp},
		{"creds", rs.restoreThreadCreds},
		{"unmap scratch", leader.UnmapScratch},
		{"cpu", rs.restoreThreadCPUs},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rs.log.Debug("restore step done", "step", s.name)
	}
	return nil
}

// onlyIf returns step, or a step that does nothing unless cond: a
// process that shares its descriptor table or fs information with its
// parent (CLONE_FILES, CLONE_FS) leaves them to the parent, which built
// them before.
func (rs *restorer) onlyIf(cond bool, step func() error) func() error {
	if !cond {
		return func() error { return nil }
	}
	return step
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
