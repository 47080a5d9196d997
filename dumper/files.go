package dumper

import (
	"fmt"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/regfile"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"google.golang.org/protobuf/proto"
)

// Character device majors that are terminals (Documentation/admin-guide/devices.txt).
const (
	ttyMajor     = 4
	ttyAuxMajor  = 5
	ptsMajorLow  = 136
	ptsMajorHigh = 143
)

// fileTable assigns file ids (FileEntry.id) and deduplicates files that
// are referenced by identity (mapped files, exe, cwd, root).
type fileTable struct {
	entries []*fdinfo.FileEntry
	byInode map[[2]uint64]uint32
}

func (ft *fileTable) add(reg *regfile.RegFileEntry) uint32 {
	id := uint32(len(ft.entries) + 1)
	reg.Id = proto.Uint32(id)
	ft.entries = append(ft.entries, &fdinfo.FileEntry{
		Type: fdinfo.FdTypes_REG.Enum(),
		Id:   proto.Uint32(id),
		Reg:  reg,
	})
	return id
}

// byIdentity returns the id of the file at path, adding an entry opened
// with flags the first time the inode is seen.
func (ft *fileTable) byIdentity(path string, st linux.StatInfo, flags uint32) uint32 {
	if ft.byInode == nil {
		ft.byInode = map[[2]uint64]uint32{}
	}
	key := [2]uint64{st.Dev, st.Ino}
	if id, ok := ft.byInode[key]; ok {
		return id
	}
	id := ft.add(regEntry(path, st, flags, 0))
	ft.byInode[key] = id
	return id
}

func regEntry(path string, st linux.StatInfo, flags uint32, pos uint64) *regfile.RegFileEntry {
	e := &regfile.RegFileEntry{
		Flags: proto.Uint32(flags),
		Pos:   proto.Uint64(pos),
		Fown:  &fown.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)},
		Name:  proto.String(path),
		Mode:  proto.Uint32(st.Mode),
	}
	if st.Mode&linux.SIfmt == linux.SIfreg {
		e.Size = proto.Uint64(uint64(st.Size))
	}
	return e
}

// openFd is one descriptor as found in /proc.
type openFd struct {
	fd   int
	link string
	st   linux.StatInfo
	info *proc.Fdinfo
	id   uint32
}

// collectFiles records every descriptor, refusing kinds this version
// cannot restore.
func (c *collector) collectFiles(img *image) error {
	fds, err := proc.ListFds(c.pid)
	if err != nil {
		return err
	}
	var open []openFd
	for _, fd := range fds {
		o, err := c.inspectFd(fd)
		if err != nil {
			return err
		}
		o.id = c.sharedWith(open, o)
		if o.id == 0 {
			o.id = img.files.add(regEntry(o.link, o.st, o.info.Flags&^linux.OCloexec, o.info.Pos))
		}
		open = append(open, o)
		img.fdinfos = append(img.fdinfos, &fdinfo.FdinfoEntry{
			Id:    proto.Uint32(o.id),
			Flags: proto.Uint32(fdFlags(o.info.Flags)),
			Type:  fdinfo.FdTypes_REG.Enum(),
			Fd:    proto.Uint32(uint32(fd)),
		})
	}
	c.stats.Fds += len(open)
	return nil
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
	what := fmt.Sprintf("fd %d (%s)", fd, o.link)
	if err := classifyLink(o.link, what); err != nil {
		return o, err
	}
	if o.st, err = linux.Stat(fmt.Sprintf("/proc/%d/fd/%d", c.pid, fd)); err != nil {
		return o, fmt.Errorf("%s: %w", what, err)
	}
	if err := classifyMode(o.st, what); err != nil {
		return o, err
	}
	if o.info, err = proc.ReadFdinfo(c.pid, fd); err != nil {
		return o, fmt.Errorf("%s: %w", what, err)
	}
	return o, nil
}

// classifyLink refuses descriptors by what /proc/PID/fd/N points to.
func classifyLink(link, what string) error {
	switch {
	case strings.HasPrefix(link, "socket:"):
		return unsupported("sockets are not supported yet", "%s", what)
	case strings.HasPrefix(link, "pipe:"):
		return unsupported("pipes are not supported yet", "%s", what)
	case strings.HasPrefix(link, "anon_inode:"):
		return unsupported("this kind of descriptor is not supported yet", "%s", what)
	case strings.HasPrefix(link, "/memfd:"):
		return unsupported("memfd is not supported yet", "%s", what)
	case !strings.HasPrefix(link, "/"):
		return unsupported("this kind of descriptor is not supported yet", "%s", what)
	case strings.HasSuffix(link, " (deleted)"):
		return unsupported("open files that were deleted are not supported yet", "%s", what)
	}
	return nil
}

// classifyMode refuses descriptors by the type of the open inode.
func classifyMode(st linux.StatInfo, what string) error {
	switch st.Mode & linux.SIfmt {
	case linux.SIfreg, linux.SIfdir:
		return nil
	case linux.SIfchr:
		if isTerminal(st.Rdev) {
			return unsupported("terminals are not supported yet (--shell-job is planned)", "%s", what)
		}
		return nil
	case linux.SIfifo:
		return unsupported("FIFOs are not supported yet", "%s", what)
	case linux.SIfsock:
		return unsupported("sockets are not supported yet", "%s", what)
	case linux.SIfblk:
		return unsupported("block devices are not supported yet", "%s", what)
	}
	return unsupported(fmt.Sprintf("file type %#o is not supported", st.Mode&linux.SIfmt), "%s", what)
}

func isTerminal(rdev uint64) bool {
	maj := linux.Major(rdev)
	return maj == ttyMajor || maj == ttyAuxMajor || (maj >= ptsMajorLow && maj <= ptsMajorHigh)
}

// sharedWith returns the file id of an earlier descriptor that shares
// o's open file description (dup, inherited), or 0.
func (c *collector) sharedWith(open []openFd, o openFd) uint32 {
	for _, p := range open {
		if p.st.Dev != o.st.Dev || p.st.Ino != o.st.Ino {
			continue
		}
		if same, err := linux.KcmpFile(c.pid, p.fd, c.pid, o.fd); err == nil && same {
			return p.id
		}
	}
	return 0
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
		if strings.HasSuffix(path, " (deleted)") {
			return unsupported("a deleted directory cannot be restored", "%s %s", name, path)
		}
		ids[i] = img.files.byIdentity(path, st, linux.ORdonly|linux.ODirectory)
	}
	img.fs.CwdId = proto.Uint32(ids[0])
	img.fs.RootId = proto.Uint32(ids[1])
	return nil
}
