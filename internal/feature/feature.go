package feature

import (
	"errors"
	"sync"
)

// Operations of crlazy that need kernel features, as named in Result.NeededBy.
const (
	UseDump           = "dump"
	UseRestore        = "restore"
	UseLazyPages      = "lazy-pages"
	UseIncremental    = "incremental"
	UseTCPEstablished = "tcp-established"
	UseMount          = "mount"
)

// ErrMissing matches every *MissingError.
var ErrMissing = errors.New("kernel feature missing")

// MissingError reports a feature that is not usable here and why.
type MissingError struct {
	Feature string
	Reason  string
	Err     error // the probe's error, if any
}

func (e *MissingError) Error() string { return e.Feature + " missing: " + e.Reason }

// Is makes errors.Is(err, ErrMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// Unwrap returns the probe's error.
func (e *MissingError) Unwrap() error { return e.Err }

// Result is the outcome of one probe.
type Result struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Detail   string   `json:"detail"`
	NeededBy []string `json:"needed_by"`

	err error // why the probe failed
}

// Status values of Result.Status.
const (
	StatusOK      = "ok"
	StatusMissing = "MISSING"
	StatusInfo    = "info" // not usable, but nothing needs it
)

// Status is StatusOK, StatusMissing, or StatusInfo for a failed probe no
// operation needs.
func (r Result) Status() string {
	switch {
	case r.OK:
		return StatusOK
	case len(r.NeededBy) == 0:
		return StatusInfo
	}
	return StatusMissing
}

// Err returns nil if the feature works, or a *MissingError.
func (r Result) Err() error {
	if r.OK {
		return nil
	}
	return &MissingError{Feature: r.Name, Reason: r.Detail, Err: r.err}
}

// Probe is one feature test. Its Result is computed on first use and
// cached; methods are safe for concurrent use.
type Probe struct {
	name     string
	neededBy []string
	run      func() (detail string, err error)
	result   func() Result
}

func newProbe(name string, neededBy []string, run func() (string, error)) *Probe {
	p := &Probe{name: name, neededBy: neededBy, run: run}
	p.result = sync.OnceValue(p.probe)
	return p
}

// probe runs the test without the cache.
func (p *Probe) probe() Result {
	r := Result{Name: p.name, NeededBy: p.neededBy}
	detail, err := p.run()
	if err != nil {
		r.Detail, r.err = err.Error(), err
		return r
	}
	r.OK, r.Detail = true, detail
	return r
}

// Name returns the feature's name as shown by `crlazy check`.
func (p *Probe) Name() string { return p.name }

// Result runs the probe once and returns its cached result.
func (p *Probe) Result() Result { return p.result() }

// Err returns nil if the feature works here, else a *MissingError.
func (p *Probe) Err() error { return p.Result().Err() }

func needs(uses ...string) []string { return append([]string{}, uses...) }

// The probes, in the order `crlazy check` shows them.
var (
	Ptrace           = newProbe("ptrace", needs(UseDump, UseRestore), probePtrace)
	Clone3SetTid     = newProbe("clone3 set_tid", needs(UseRestore), probeClone3)
	PidfdGetfd       = newProbe("pidfd_getfd", needs(UseDump, UseRestore), probePidfd)
	Kcmp             = newProbe("kcmp KCMP_FILE", needs(UseDump), probeKcmp)
	PrSetMMMap       = newProbe("PR_SET_MM_MAP", needs(UseRestore), probePrSetMMMap)
	MapVdso          = newProbe("ARCH_MAP_VDSO_64", needs(UseRestore), probeMapVdso)
	Userfaultfd      = newProbe("userfaultfd", needs(UseLazyPages, UseIncremental), probeUserfaultfd)
	UffdEventFork    = newUffdProbe("EVENT_FORK", UseLazyPages)
	UffdEventRemap   = newUffdProbe("EVENT_REMAP", UseLazyPages)
	UffdEventRemove  = newUffdProbe("EVENT_REMOVE", UseLazyPages)
	UffdEventUnmap   = newUffdProbe("EVENT_UNMAP", UseLazyPages)
	UffdMissingShmem = newUffdProbe("MISSING_SHMEM", UseLazyPages)
	UffdWPAsync      = newUffdProbe("WP_ASYNC", UseIncremental)
	PagemapScan      = newProbe("PAGEMAP_SCAN", needs(UseIncremental), probePagemapScan)
	SoftDirty        = newProbe("soft-dirty", needs(), probeSoftDirty)
	TCPRepair        = newProbe("TCP_REPAIR", needs(UseTCPEstablished), probeTCPRepair)
	FUSE             = newProbe("fuse", needs(UseMount), probeFUSE)
)

// Probes returns every probe, in display order.
func Probes() []*Probe {
	return []*Probe{
		Ptrace, Clone3SetTid, PidfdGetfd, Kcmp, PrSetMMMap, MapVdso,
		Userfaultfd, UffdEventFork, UffdEventRemap, UffdEventRemove, UffdEventUnmap, UffdMissingShmem, UffdWPAsync,
		PagemapScan, SoftDirty, TCPRepair, FUSE,
	}
}

// All runs every probe (once per process) and returns the results in
// display order.
func All() []Result {
	ps := Probes()
	rs := make([]Result, len(ps))
	for i, p := range ps {
		rs[i] = p.Result()
	}
	return rs
}
