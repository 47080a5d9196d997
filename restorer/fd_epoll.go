package restorer

import (
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/inject"
	"github.com/crlazy/crlazy/internal/linux"
)

// Epoll instances are made inside the process (epoll_create1, then one
// epoll_ctl per target), after every other descriptor of the process is
// in place: a registration names its target by descriptor number, in the
// registering process's table. The dumper checked that each number holds
// the registered file in every process that has the instance, so any of
// them may build it; the first one restored does, and later ones get
// crlazy's copy.

// restoreEpolls places the epoll descriptors held back by restoreFds:
// first every instance this process creates, then their registrations (a
// target may be another epoll).
func (rs *restorer) restoreEpolls(src *fdSource, entries []*fdinfo.FdinfoEntry, first map[uint32]int) error {
	t := rs.leader()
	var made []*fdinfo.FdinfoEntry
	for _, e := range entries {
		fd, id, cloexec := int(e.GetFd()), e.GetId(), e.GetFlags()&linux.FdCloexec != 0
		var err error
		switch prev, ok := first[id]; {
		case ok:
			_, err = t.Syscall("dup3", linux.SysDup3, uint64(prev), uint64(fd), cloexecFlag(cloexec))
		case rs.files.objs[id] != nil:
			err = src.install(rs.files.objs[id], fd, cloexec)
		default:
			err = createEpoll(t, fd, cloexec, rs.files.files[id].GetEpfd().GetFlags())
			made = append(made, e)
		}
		if err != nil {
			return fmt.Errorf("fd %d: %w", fd, err)
		}
		first[id] = fd
	}
	for _, e := range made {
		if err := rs.registerTargets(e); err != nil {
			return fmt.Errorf("fd %d: %w", e.GetFd(), err)
		}
	}
	return nil
}

// createEpoll makes an epoll instance at descriptor fd.
func createEpoll(t *inject.Task, fd int, cloexec bool, flags uint32) error {
	got, err := t.Syscall("epoll_create1", linux.SysEpollCreate1, cloexecFlag(cloexec))
	if err != nil {
		return err
	}
	if int(got) != fd {
		if err := t.MoveFD(int(got), fd, cloexec); err != nil {
			return err
		}
	}
	if flags&linux.ONonblock != 0 {
		_, err = t.Syscall("fcntl F_SETFL", linux.SysFcntl, uint64(fd), linux.FSetfl, linux.ONonblock)
	}
	return err
}

// registerTargets adds every registration of the epoll at e, and keeps a
// copy of the instance if other processes have it too.
func (rs *restorer) registerTargets(e *fdinfo.FdinfoEntry) error {
	t := rs.leader()
	epfd := uint64(e.GetFd())
	for _, tfd := range rs.files.files[e.GetId()].GetEpfd().GetTfd() {
		if err := epollAdd(t, epfd, tfd.GetTfd(), tfd.GetEvents(), tfd.GetData()); err != nil {
			return fmt.Errorf("target fd %d: %w", tfd.GetTfd(), err)
		}
	}
	return rs.keepShared(e.GetId(), int(e.GetFd()))
}

func epollAdd(t *inject.Task, epfd uint64, tfd, events uint32, data uint64) error {
	defer t.ReleaseArgs(t.ArgMark())
	ev, err := t.PutArg(linux.EpollEventBytes(events, data))
	if err != nil {
		return err
	}
	_, err = t.Syscall("epoll_ctl", linux.SysEpollCtl, epfd, linux.EpollCtlAdd, uint64(tfd), uint64(ev))
	return err
}

// keepShared steals a description the process just made into crlazy, when
// other processes restore it too.
func (rs *restorer) keepShared(id uint32, fd int) error {
	if rs.files.holders[id] < 2 {
		return nil
	}
	f, err := rs.leader().StealFD(fd)
	if err != nil {
		return err
	}
	rs.files.objs[id] = f
	return nil
}
