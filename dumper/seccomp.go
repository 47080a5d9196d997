package dumper

import (
	"bytes"
	"errors"
	"fmt"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/seccomp"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

// seccompFilters collects the seccomp filters of a process's threads into
// one list, each filter once: a thread's filters form a chain from its
// newest (the one its core names) through prev to the oldest, and threads
// that installed the same filters share their chain.
type seccompFilters struct {
	entry *seccomp.SeccompEntry
}

// seccompMax bounds the filters of one thread (the kernel allows at most
// MAX_INSNS_PER_PATH instructions over a chain, 32768, so a few hundred).
const seccompMax = 1024

// add records the seccomp state of thread t, whose /proc status says
// mode, in th.
func (s *seccompFilters) add(t *inject.Task, mode int, th *criucore.ThreadCoreEntry) error {
	if mode == 0 {
		return nil
	}
	if _, ok := inject.SuspendSeccomp(); !ok {
		return unsupported("crlazy runs under seccomp itself, so it cannot call into a process that has seccomp filters",
			"tid %d seccomp mode %d", t.TID, mode)
	}
	switch mode {
	case linux.SeccompModeStrict:
		th.SeccompMode = criucore.SeccompMode_strict.Enum()
		return nil
	case linux.SeccompModeFilter:
	default:
		return unsupported("unknown seccomp mode", "tid %d seccomp mode %d", t.TID, mode)
	}
	var chain []*seccomp.SeccompFilter // newest first
	for i := 0; ; i++ {
		if i == seccompMax {
			return fmt.Errorf("tid %d: more than %d seccomp filters", t.TID, seccompMax)
		}
		prog, flags, err := t.SeccompFilter(i)
		if errors.Is(err, linux.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("tid %d: %w", t.TID, err)
		}
		chain = append(chain, &seccomp.SeccompFilter{Filter: prog, Flags: proto.Uint32(uint32(flags))})
	}
	if len(chain) == 0 {
		return fmt.Errorf("tid %d: seccomp filter mode without filters", t.TID)
	}
	if s.entry == nil {
		s.entry = &seccomp.SeccompEntry{}
	}
	prev := -1
	for i := len(chain) - 1; i >= 0; i-- {
		prev = s.intern(chain[i], prev)
	}
	th.SeccompMode = criucore.SeccompMode_filter.Enum()
	th.SeccompFilter = proto.Uint32(uint32(prev))
	return nil
}

// intern returns the index of filter f on top of filter prev (-1: none),
// adding it if no thread had it yet.
func (s *seccompFilters) intern(f *seccomp.SeccompFilter, prev int) int {
	for i, g := range s.entry.SeccompFilters {
		samePrev := g.Prev == nil && prev < 0 || g.Prev != nil && int(g.GetPrev()) == prev
		if samePrev && g.GetFlags() == f.GetFlags() && bytes.Equal(g.GetFilter(), f.GetFilter()) {
			return i
		}
	}
	if prev >= 0 {
		f.Prev = proto.Uint32(uint32(prev))
	}
	s.entry.SeccompFilters = append(s.entry.SeccompFilters, f)
	return len(s.entry.SeccompFilters) - 1
}
