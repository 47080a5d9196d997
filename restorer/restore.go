package restorer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"

	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/xsave"
	"github.com/crlazy/crlazy/store"
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
}

// Stats summarise a restore.
type Stats struct {
	PagesData uint64
}

// Process is a restored, running process: a child of the caller.
type Process struct {
	PID   int
	Stats Stats
}

// Wait waits for the restored process to end and returns its wait
// status.
func (p *Process) Wait() (linux.WaitStatus, error) {
	_, ws, err := linux.Wait4(p.PID, 0)
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
}

func restore(opts Options) (*Process, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r, err := store.Open(opts.ImagesDir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
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
	tr := inject.NewTracer()
	defer tr.Close()
	rs := &restorer{img: img, log: log.With("pid", img.pid)}
	if err := rs.create(tr); err != nil {
		return nil, err
	}
	if err := rs.build(r); err != nil {
		_ = rs.task.Kill()
		_, _, _ = linux.Wait4(img.pid, 0)
		return nil, fmt.Errorf("pid %d: %w", img.pid, err)
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, img.pid); err != nil {
			_ = rs.task.Kill()
			_, _, _ = linux.Wait4(img.pid, 0)
			return nil, err
		}
	}
	if err := rs.task.Detach(); err != nil {
		return nil, err
	}
	rs.log.Info("restored process runs")
	return &Process{PID: img.pid, Stats: rs.stats}, nil
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
	if _, err := s.cloneWithPid(rs.img.pid); err != nil {
		return err
	}
	t, err := tr.Adopt(rs.img.pid)
	if err != nil {
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

func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
