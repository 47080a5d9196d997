package restorer

import (
	"errors"
	"log/slog"
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

// lazyState is what a lazy restore keeps running once the process runs:
// the store, the tracer (to remove the guard later) and the handler.
type lazyState struct {
	pid     int
	guard   int
	uffdIno uint64
	pdeath  uint32 // the dumped parent-death signal, set back at the end
	mm      uint32
	digest  uint64
	dir     string
	record  bool
	tr      *inject.Tracer
	r       *store.Reader
	h       *uffd.Handler
	log     *slog.Logger

	verifyDone chan struct{}
	closeOnce  sync.Once
	// mu is held while the process is seized again (removeGuard), and
	// by Process.Wait to reap it: the two waits must not cross.
	mu sync.Mutex
}

// startLazy starts serving the lazy areas of the process rs restored.
// It takes ownership of r and tr.
func (rs *restorer) startLazy(opts Options, r *store.Reader, tr *inject.Tracer) (*lazyState, error) {
	st, err := linux.FileStat(rs.uffd)
	if err != nil {
		return nil, err
	}
	hdr := r.Header()
	lz := &lazyState{pid: rs.img.pid, guard: rs.guard, uffdIno: st.Ino, mm: rs.img.mmID,
		pdeath: rs.img.core.GetThreadCore().GetPdeathSig(),
		digest: hdr.GetContents().GetKeyDigest(), dir: opts.ImagesDir, tr: tr, r: r,
		log: rs.log, verifyDone: make(chan struct{})}
	wset := rs.wset
	switch opts.RecordWorkingSet {
	case RecordOn:
		lz.record = true
	case RecordAuto:
		lz.record = wset == nil
	}
	var delay time.Duration
	if lz.record {
		delay = recordWindow
	}
	lz.h = uffd.New(uffd.Config{
		Source:        rs.pages,
		MM:            lz.mm,
		WorkingSet:    wset,
		Record:        lz.record,
		PrefetchDelay: delay,
		OnFatal:       lz.kill,
		Done: func(root bool) {
			if root {
				lz.removeGuard()
			}
		},
		Log: rs.log,
	})
	filled := rs.prefilled()
	if err := lz.h.Add(rs.uffd, rs.lazyAreas(), filled); err != nil {
		return nil, err
	}
	var filledBytes uint64
	for _, f := range filled {
		filledBytes += f[1] - f[0]
	}
	rs.log.Info("lazy pages", "working_set_pages", len(wset), "prefilled_bytes", filledBytes, "recording", lz.record)
	go lz.verify()
	return lz, nil
}

// verify checks the store's keys while the process runs (Open deferred
// it); a damaged store kills the process before it can run on zeros.
func (lz *lazyState) verify() {
	defer close(lz.verifyDone)
	if err := lz.r.Verify(); err != nil {
		lz.kill(err)
	}
}

// kill ends the restored process: a page it needs cannot be served.
func (lz *lazyState) kill(err error) {
	lz.log.Error("killing the restored process: its memory cannot be served", "err", err)
	_ = linux.Kill(lz.pid, linux.SIGKILL)
}

// wait waits for the handler, saves the working set, and releases the
// store and the tracer.
func (lz *lazyState) wait() error {
	err := lz.h.Wait()
	<-lz.verifyDone
	if lz.record {
		if ws := lz.h.WorkingSet(); len(ws) > 0 {
			if serr := saveWorkingSet(lz.dir, lz.digest, lz.mm, ws); serr != nil {
				lz.log.Warn("cannot save the working set", "err", serr)
			} else {
				lz.log.Info("working set saved", "pages", len(ws))
			}
		}
	}
	lz.close()
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
