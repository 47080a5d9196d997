package dumper

import (
	"errors"
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/eventfd"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/eventpoll"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pidfd"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/signalfd"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/timerfd"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

// The anon_inode descriptors: their state is all in fdinfo, except an
// absolute timerfd's expiry, which needs the clock read at the dump.

func parseErr(o openFd, err error) error {
	return fmt.Errorf("%s: %w", o.what, err)
}

// eventfdEntry records the counter; Flags holds the description's status
// flags plus EFD_SEMAPHORE (bit 0, which an eventfd's access mode, always
// O_RDWR, never uses).
func eventfdEntry(o openFd) (*fdinfo.FileEntry, error) {
	e, err := o.info.Eventfd()
	if err != nil {
		return nil, parseErr(o, err)
	}
	flags := o.statusFlags()
	if e.Semaphore {
		flags |= linux.EfdSemaphore
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_EVENTFD.Enum(), Efd: &eventfd.EventfdFileEntry{
		Flags: proto.Uint32(flags), Fown: noOwner(), Counter: proto.Uint64(e.Count)}}, nil
}

// epollEntry records every registration (target fd number, events, data),
// checked to be the file now at that number.
func (c *collector) epollEntry(o openFd) (*fdinfo.FileEntry, error) {
	targets, err := o.info.EpollTargets()
	if err != nil {
		return nil, parseErr(o, err)
	}
	var tfds []*eventpoll.EventpollTfdEntry
	for _, t := range targets {
		tfds = append(tfds, &eventpoll.EventpollTfdEntry{
			Tfd: proto.Uint32(uint32(t.Fd)), Events: proto.Uint32(t.Events), Data: proto.Uint64(t.Data),
			Dev: proto.Uint32(uint32(t.Sdev)), Inode: proto.Uint64(t.Ino), Pos: proto.Uint64(t.Pos),
		})
	}
	if err := c.checkEpollTargets(o, tfds); err != nil {
		return nil, err
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_EVENTPOLL.Enum(), Epfd: &eventpoll.EventpollFileEntry{
		Flags: proto.Uint32(o.statusFlags()), Fown: noOwner(), Tfd: tfds}}, nil
}

// checkEpollTargets makes sure that each registration's fd number holds
// the registered file in this process (kcmp KCMP_EPOLL_TFD), since a
// restore registers the targets by number. A registration outlives the
// descriptor it was made with when the file stays open elsewhere; such an
// epoll cannot be rebuilt.
func (c *collector) checkEpollTargets(o openFd, tfds []*eventpoll.EventpollTfdEntry) error {
	seen := map[uint32]int{}
	for _, t := range tfds {
		tfd := t.GetTfd()
		toff := seen[tfd]
		seen[tfd]++
		same, err := linux.KcmpEpollTarget(c.pid, o.fd, int(tfd), toff, int(tfd))
		if err != nil && !errors.Is(err, linux.EBADF) && !errors.Is(err, linux.ENOENT) {
			return fmt.Errorf("%s: target %d: %w", o.what, tfd, err)
		}
		if !same {
			return unsupported(fmt.Sprintf("epoll target fd %d: the registered file is no longer open at that number", tfd),
				"%s", o.what)
		}
	}
	return nil
}

func signalfdEntry(o openFd) (*fdinfo.FileEntry, error) {
	mask, err := o.info.SignalfdMask()
	if err != nil {
		return nil, parseErr(o, err)
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_SIGNALFD.Enum(), Sgfd: &signalfd.SignalfdEntry{
		Flags: proto.Uint32(o.statusFlags()), Fown: noOwner(), Sigmask: proto.Uint64(mask)}}, nil
}

const nsecPerSec = 1_000_000_000

// timerfdEntry records the clock, interval, ticks not yet read and the
// expiry: the time left for a relative timer (restore arms it for that
// long), the absolute expiry on the timer's clock for a TFD_TIMER_ABSTIME
// one (fdinfo shows the time left for both).
func timerfdEntry(o openFd) (*fdinfo.FileEntry, error) {
	tf, err := o.info.Timerfd()
	if err != nil {
		return nil, parseErr(o, err)
	}
	v := tf.Value
	armed := v.Sec != 0 || v.Nsec != 0 || tf.Interval.Sec != 0 || tf.Interval.Nsec != 0
	if armed && tf.SettimeFlags&linux.TfdTimerAbstime != 0 {
		sec, nsec, err := linux.ClockGettime(tf.Clock)
		if err != nil {
			return nil, parseErr(o, err)
		}
		v.Sec, v.Nsec = v.Sec+sec, v.Nsec+nsec
		if v.Nsec >= nsecPerSec {
			v.Sec, v.Nsec = v.Sec+1, v.Nsec-nsecPerSec
		}
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_TIMERFD.Enum(), Tfd: &timerfd.TimerfdEntry{
		Flags: proto.Uint32(o.statusFlags()), Fown: noOwner(),
		Clockid: proto.Uint32(uint32(tf.Clock)), Ticks: proto.Uint64(tf.Ticks),
		SettimeFlags: proto.Uint32(tf.SettimeFlags),
		Vsec:         proto.Uint64(uint64(v.Sec)), Vnsec: proto.Uint64(uint64(v.Nsec)),
		Isec: proto.Uint64(uint64(tf.Interval.Sec)), Insec: proto.Uint64(uint64(tf.Interval.Nsec)),
	}}, nil
}

// pidfdEntry records the pid a pidfd refers to, which must be a process
// (or, with PIDFD_THREAD, a thread) of the tree: restore opens it again.
func pidfdEntry(ft *fileTable, o openFd) (*fdinfo.FileEntry, error) {
	pid, err := o.info.PidfdPid()
	if err != nil {
		return nil, parseErr(o, err)
	}
	switch {
	case pid <= 0:
		return nil, unsupported("pidfds of processes that have been reaped are not supported", "%s", o.what)
	case !ft.tids[pid]:
		return nil, unsupported(fmt.Sprintf("pidfd of pid %d, which is not in the dumped tree", pid), "%s", o.what)
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_PIDFD.Enum(), Pidfd: &pidfd.PidfdEntry{
		Ino: proto.Uint32(uint32(o.info.Ino)), Flags: proto.Uint32(o.statusFlags()),
		Nspid: proto.Int32(int32(pid)), Fown: noOwner()}}, nil
}
