package dumper

import (
	"fmt"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"google.golang.org/protobuf/proto"
)

// openFd is one descriptor as found in /proc.
type openFd struct {
	fd   int
	link string
	what string // "fd 3 (pipe:[123])", for messages
	kind fdKind
	st   linux.StatInfo
	info *proc.Fdinfo
	// owner: who a description in signal-driven mode (O_ASYNC)
	// signals; nil otherwise.
	owner *linux.FileOwner
}

// statusFlags are the description's open flags without O_CLOEXEC, which
// belongs to the descriptor.
func (o openFd) statusFlags() uint32 { return o.info.Flags &^ linux.OCloexec }

// collectFiles records every descriptor, refusing kinds this version
// cannot restore.
func (c *collector) collectFiles(img *image) error {
	fds, err := proc.ListFds(c.pid)
	if err != nil {
		return err
	}
	for _, fd := range fds {
		o, err := c.inspectFd(fd)
		if err != nil {
			return err
		}
		id, err := c.fileID(img.files, o)
		if err != nil {
			return err
		}
		if err := c.collectLocks(img.files.locks, o, id); err != nil {
			return err
		}
		if err := img.files.addOwner(o, id); err != nil {
			return err
		}
		img.fdinfos = append(img.fdinfos, &fdinfo.FdinfoEntry{
			Id:    proto.Uint32(id),
			Flags: proto.Uint32(fdFlags(o.info.Flags)),
			Type:  img.files.entries[id-1].Type,
			Fd:    proto.Uint32(uint32(fd)),
		})
	}
	c.stats.Fds += len(fds)
	return nil
}

// fileID returns the id of o's open file description: that of an
// earlier descriptor of the tree sharing it, or a new entry.
func (c *collector) fileID(ft *fileTable, o openFd) (uint32, error) {
	id, err := c.sharedWith(ft, o)
	if err != nil {
		return 0, err
	}
	if id == 0 {
		e, err := c.fileEntry(ft, o)
		if err != nil {
			return 0, err
		}
		id = ft.addEntry(e)
	} else if o.kind == kindEpoll {
		// Shared with another process: the registrations must hold
		// here as well, since any holder may rebuild them.
		if err := c.checkEpollTargets(o, ft.entries[id-1].GetEpfd().GetTfd()); err != nil {
			return 0, err
		}
	}
	key := descKey{o.st.Dev, o.st.Ino, o.kind}
	ft.descs[key] = append(ft.descs[key], descRef{pid: c.pid, fd: o.fd, id: id})
	return id, nil
}

// fileEntry builds the record of a description seen for the first time.
func (c *collector) fileEntry(ft *fileTable, o openFd) (*fdinfo.FileEntry, error) {
	switch o.kind {
	case kindPipe, kindFifo:
		return c.pipeEntry(ft, o)
	case kindEventfd:
		return eventfdEntry(o)
	case kindEpoll:
		return c.epollEntry(o)
	case kindSignalfd:
		return signalfdEntry(o)
	case kindTimerfd:
		return timerfdEntry(o)
	case kindInotify:
		return inotifyEntry(o)
	case kindPidfd:
		return pidfdEntry(ft, o)
	case kindSocket:
		if e, ok, err := c.unixEntry(ft, o); ok { // UNIX sockets: fd_unix.go
			return e, err
		}
		return c.socketEntry(o)
	case kindTTY:
		return c.ttyEntry(ft, o)
	case kindMemfd:
		return c.memfdEntry(ft, o)
	case kindGhost:
		return c.ghostEntry(ft, o)
	}
	reg := regEntry(o.link, o.st, o.statusFlags(), o.info.Pos)
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_REG.Enum(), Reg: reg}, nil
}

// fdFlags turns O_CLOEXEC of the open flags into the fd flag FD_CLOEXEC.
func fdFlags(openFlags uint32) uint32 {
	if openFlags&linux.OCloexec != 0 {
		return linux.FdCloexec
	}
	return 0
}

func (c *collector) inspectFd(fd int) (openFd, error) {
	o := openFd{fd: fd}
	var err error
	if o.link, err = proc.ReadFdLink(c.pid, fd); err != nil {
		return o, err
	}
	o.what = fmt.Sprintf("fd %d (%s)", fd, o.link)
	if o.kind, err = classifyLink(o.link, o.what); err != nil {
		if o.kind == kindSocket {
			return o, c.socketError(fd, err)
		}
		return o, err
	}
	if o.st, err = linux.Stat(fmt.Sprintf("/proc/%d/fd/%d", c.pid, fd)); err != nil {
		return o, fmt.Errorf("%s: %w", o.what, err)
	}
	if o.kind == kindReg {
		if o.kind, err = classifyMode(o.st, o.what); err != nil {
			return o, err
		}
	}
	if o.info, err = proc.ReadFdinfo(c.pid, fd); err != nil {
		return o, fmt.Errorf("%s: %w", o.what, err)
	}
	if o.kind == kindFifo && o.info.Flags&linux.OPath != 0 {
		o.kind = kindReg // an O_PATH descriptor of a FIFO only names it
	}
	if err := leaseError(o); err != nil { // a lease sets O_ASYNC: say what it is
		return o, err
	}
	if o.info.Flags&linux.OAsync != 0 {
		if err := c.readOwner(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// sharedWith returns the file id of an earlier descriptor of the tree
// that shares o's open file description (dup, inherited), or 0.
func (c *collector) sharedWith(ft *fileTable, o openFd) (uint32, error) {
	for _, p := range ft.descs[descKey{o.st.Dev, o.st.Ino, o.kind}] {
		same, err := linux.KcmpFile(p.pid, p.fd, c.pid, o.fd)
		if err != nil {
			return 0, fmt.Errorf("%s: compare with pid %d fd %d: %w", o.what, p.pid, p.fd, err)
		}
		if same {
			return p.id, nil
		}
	}
	return 0, nil
}

// collectFs records cwd and root.
func (c *collector) collectFs(img *image) error {
	var ids [2]uint32
	for i, name := range []string{"cwd", "root"} {
		path, err := proc.ReadLink(c.pid, name)
		if err != nil {
			return err
		}
		st, err := linux.Stat(fmt.Sprintf("/proc/%d/%s", c.pid, name))
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(path, deletedSuffix) && name == "cwd":
			// Saved as a ghost directory: made again and removed at restore.
			id, err := deletedMapped(fmt.Sprintf("/proc/%d/cwd", c.pid), name+" "+path, st, img.files)
			if err != nil {
				return err
			}
			ids[i] = id
		case strings.HasSuffix(path, deletedSuffix):
			return unsupported("a deleted root directory cannot be restored", "%s %s", name, path)
		default:
			ids[i] = img.files.byIdentity(path, st, linux.ORdonly|linux.ODirectory)
		}
	}
	img.fs.CwdId = proto.Uint32(ids[0])
	img.fs.RootId = proto.Uint32(ids[1])
	return nil
}
