package restorer

import (
	"errors"
	"fmt"
	"github.com/crlazy/crlazy/internal/proc"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/uffd"
)

// recordWindow is how long a lazy restore that records the working set
// serves demand faults only before it starts prefetching in address
// order: what the process touches in that time is its working set.
const recordWindow = 100 * time.Millisecond

// RecordMode says whether a lazy restore records its working set.
type RecordMode int

// Record modes; the zero value is RecordAuto.
const (
	// RecordAuto records when the store has no working set yet.
	RecordAuto RecordMode = iota
	RecordOn
	RecordOff
)

// lazyState is what a lazy restore keeps running once the tree runs: the
// store, the tracer (to remove the guards later) and the handler.
type lazyState struct {
	root int
	pids []int
	// pidfds of the processes, opened while they were surely ours
	// (traced): kill must never hit a process that reused a pid.
	pidfds []*os.File
	guards map[int]guardInfo // by pid
	mm     uint32            // the root's, whose working set is recorded
	digest uint64
	dir    string
	record bool
	tr     *inject.Tracer
	r      *store.Reader
	h      *uffd.Handler
	log    *slog.Logger

	verifyDone chan struct{}
	closeOnce  sync.Once
	// mu is held while a process is seized again (removeGuard), and by
	// Process.Wait to reap the root: the two waits must not cross.
	mu sync.Mutex
	// reaped holds the wait status of a process that died while
	// removeGuard seized it, whose exit its wait consumed (guarded by mu).
	reaped map[int]linux.WaitStatus
}

// guardInfo says what to undo in a process once its pages are in.
type guardInfo struct {
	fd      int
	uffdIno uint64
	pdeath  uint32 // the dumped parent-death signal, set back at the end
	root    bool   // the root, whose parent-death signal the guard replaced
	start   uint64 // the process's start time: a later holder of the pid is not it
}

// startLazy starts serving the lazy areas of every process of the tree.
// It takes ownership of r and the tracer.
func (t *treeRestore) startLazy(opts Options, r *store.Reader) (*lazyState, error) {
	root := t.root()
	lz := &lazyState{root: root.img.pid, guards: map[int]guardInfo{}, mm: root.img.mmID,
		digest: r.Header().GetContents().GetKeyDigest(), dir: opts.ImagesDir, tr: t.tr, r: r,
		log: t.log, verifyDone: make(chan struct{})}
	wset := map[uint32][]uint64{}
	for _, rs := range t.procs {
		if len(rs.wset) > 0 {
			wset[rs.img.mmID] = rs.wset
		}
	}
	switch opts.RecordWorkingSet {
	case RecordOn:
		lz.record = true
	case RecordAuto:
		lz.record = len(wset) == 0
	}
	var delay time.Duration
	if lz.record {
		delay = recordWindow
	}
	lz.h = uffd.New(uffd.Config{
		Source:        root.pages,
		WorkingSet:    wset,
		Record:        lz.record,
		PrefetchDelay: delay,
		OnFatal:       lz.kill,
		Done:          lz.removeGuard,
		Log:           t.log,
	})
	for _, rs := range t.procs {
		if err := lz.add(rs); err != nil {
			return nil, fmt.Errorf("pid %d: %w", rs.img.pid, err)
		}
	}
	t.log.Info("lazy pages", "processes", len(lz.pids), "working_set_pages", len(rs0wset(wset, lz.mm)), "recording", lz.record)
	go lz.verify()
	return lz, nil
}

func rs0wset(w map[uint32][]uint64, mm uint32) []uint64 { return w[mm] }

// add hands one process's userfaultfd to the handler.
func (lz *lazyState) add(rs *restorer) error {
	if rs.uffd == nil {
		return nil // a zombie
	}
	st, err := linux.FileStat(rs.uffd)
	if err != nil {
		return err
	}
	pst, err := proc.ReadStat(rs.img.pid)
	if err != nil {
		return err
	}
	lz.guards[rs.img.pid] = guardInfo{fd: rs.guard, uffdIno: st.Ino, pdeath: rs.img.core.GetThreadCore().GetPdeathSig(),
		root: rs.isRoot(), start: pst.StartTime}
	pidfd, err := linux.PidfdOpen(rs.img.pid)
	if err != nil {
		return err
	}
	lz.pids = append(lz.pids, rs.img.pid)
	lz.pidfds = append(lz.pidfds, pidfd)
	filled := rs.prefilled()
	var filledBytes uint64
	for _, f := range filled {
		filledBytes += f[1] - f[0]
	}
	rs.log.Debug("lazy areas", "prefilled_bytes", filledBytes)
	f := rs.uffd
	rs.uffd = nil // the handler owns it now
	return lz.h.Add(f, rs.img.mmID, rs.lazyAreas(), filled, rs.img.pid)
}

// verify checks the store's keys while the process runs (Open deferred
// it); a damaged store kills the process before it can run on zeros.
func (lz *lazyState) verify() {
	defer close(lz.verifyDone)
	if err := lz.r.Verify(); err != nil {
		lz.kill(err)
	}
}

// kill ends the restored tree: a page it needs cannot be served.
func (lz *lazyState) kill(err error) {
	lz.log.Error("killing the restored process: its memory cannot be served", "err", err)
	for _, pidfd := range lz.pidfds {
		_ = linux.PidfdKill(pidfd)
	}
}

// wait waits for the handler, saves the working set, and releases the
// store and the tracer.
func (lz *lazyState) wait() error {
	err := lz.h.Wait()
	<-lz.verifyDone
	if lz.record {
		if ws := lz.h.WorkingSet(lz.mm); len(ws) > 0 {
			if serr := saveWorkingSet(lz.dir, lz.digest, lz.mm, ws); serr != nil {
				lz.log.Warn("cannot save the working set", "err", serr)
			} else {
				lz.log.Info("working set saved", "pages", len(ws))
			}
		}
	}
	lz.close()
	for _, pidfd := range lz.pidfds { // the handler is stopped: no kill comes after this
		pidfd.Close()
	}
	if err != nil && !errors.Is(err, uffd.ErrStopped) {
		return err
	}
	return nil
}

func (lz *lazyState) close() {
	lz.closeOnce.Do(func() {
		lz.h.Stop()
		lz.tr.Close()
		_ = lz.r.Close()
	})
}
