package restorer

import (
	"errors"
	"fmt"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/seccomp"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
)

// seccompFilterFlagLog is SECCOMP_FILTER_FLAG_LOG, the only install flag
// the kernel reports back (PTRACE_SECCOMP_GET_METADATA) and the only one
// kept: TSYNC and the others make no sense per thread on restore.
const seccompFilterFlagLog = 1 << 1

// sockFilterSize is sizeof(struct sock_filter).
const sockFilterSize = 8

// restoreSeccomp puts every thread back under its seccomp mode and
// filters. It runs while the task is still privileged (a filter needs
// CAP_SYS_ADMIN or no_new_privs, and the image may have neither any
// more); the calls injected afterwards pass the filters because the
// tasks are traced with PTRACE_O_SUSPEND_SECCOMP.
func (rs *restorer) restoreSeccomp() error {
	for i := range rs.threads {
		tt := &rs.threads[i]
		if err := tt.restoreSeccomp(rs.img.seccomp); err != nil {
			return fmt.Errorf("tid %d: %w", tt.task.TID, err)
		}
	}
	return nil
}

func (tt *threadRestore) restoreSeccomp(all *seccomp.SeccompEntry) error {
	th := tt.core.GetThreadCore()
	if th.GetSeccompMode() == criucore.SeccompMode_disabled {
		return nil
	}
	if _, ok := inject.SuspendSeccomp(); !ok {
		return errors.New("crlazy runs under seccomp itself and cannot restore a process that has seccomp filters")
	}
	switch th.GetSeccompMode() {
	case criucore.SeccompMode_strict:
		_, err := tt.task.Syscall("PR_SET_SECCOMP", linux.SysPrctl, linux.PrSetSeccomp, linux.SeccompModeStrict, 0, 0, 0)
		return err
	case criucore.SeccompMode_filter:
	default:
		return badImage("seccomp mode %d", th.GetSeccompMode())
	}
	chain, err := seccompChain(all, th.GetSeccompFilter())
	if err != nil {
		return err
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := tt.installFilter(chain[i]); err != nil {
			return fmt.Errorf("seccomp filter %d of %d: %w", len(chain)-i, len(chain), err)
		}
	}
	return nil
}

// seccompChain returns the filters of a thread, newest (index top) first.
func seccompChain(all *seccomp.SeccompEntry, top uint32) ([]*seccomp.SeccompFilter, error) {
	fs := all.GetSeccompFilters()
	var chain []*seccomp.SeccompFilter
	for i := top; ; i = fs[i].GetPrev() {
		if int(i) >= len(fs) || len(chain) == len(fs) {
			return nil, badImage("seccomp filter chain from %d: bad index %d or a loop", top, i)
		}
		chain = append(chain, fs[i])
		if fs[i].Prev == nil {
			return chain, nil
		}
	}
}

func (tt *threadRestore) installFilter(f *seccomp.SeccompFilter) error {
	prog := f.GetFilter()
	if len(prog) == 0 || len(prog)%sockFilterSize != 0 || len(prog)/sockFilterSize > 4096 {
		return badImage("seccomp filter of %d bytes", len(prog))
	}
	t := tt.task
	defer t.ReleaseArgs(t.ArgMark())
	code, err := t.PutArg(prog)
	if err != nil {
		return err
	}
	fprog := linux.SockFprog{Len: uint16(len(prog) / sockFilterSize), Filter: uint64(code)}
	a, err := t.PutArg(linux.StructBytes(&fprog))
	if err != nil {
		return err
	}
	flags := uint64(f.GetFlags()) & seccompFilterFlagLog
	_, err = t.Syscall("seccomp", linux.SysSeccomp, linux.SeccompSetModeFilter, flags, uint64(a))
	return err
}
