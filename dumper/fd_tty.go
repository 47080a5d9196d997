package dumper

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/tty"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

// ttyDump is the terminal part of one dump. A terminal is one tty_info
// record shared by every description of it: a pty master of the tree
// (its index, lock, packet mode, and through it its slave's termios,
// window size, session and foreground group), a pty slave (internal when
// its master is in the tree), or a terminal outside the tree (the
// session's controlling terminal: a pts of another master, a console, a
// virtual terminal, /dev/tty), which only --shell-job saves: restore puts
// its own terminal in its place. Used from the dump's goroutine only.
type ttyDump struct {
	shellJob bool // --shell-job
	log      *slog.Logger
	infos    map[ttyKey]*ttyInfo
	order    []*ttyInfo // in id order
}

// ttyKey identifies a terminal: a pty by index and end (the rdev of a
// master is /dev/ptmx's, a slave's is its own), another by rdev.
type ttyKey struct {
	rdev   uint64
	index  int
	master bool
}

// ttyInfo is one terminal of the dump.
type ttyInfo struct {
	e    *tty.TtyInfoEntry
	key  ttyKey
	what string // the first descriptor that showed it
}

func newTTYDump(shellJob bool, log *slog.Logger) *ttyDump {
	return &ttyDump{shellJob: shellJob, log: log, infos: map[ttyKey]*ttyInfo{}}
}

// ttyEntry records a terminal description.
func (c *collector) ttyEntry(ft *fileTable, o openFd) (*fdinfo.FileEntry, error) {
	key, err := ttyKeyOf(o)
	if err != nil {
		return nil, err
	}
	info := ft.tty.infos[key]
	if info == nil {
		if info, err = ft.tty.newInfo(c, key, o); err != nil {
			return nil, err
		}
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_TTY.Enum(), Tty: &tty.TtyFileEntry{
		Id: proto.Uint32(0), TtyInfoId: info.e.Id, Flags: proto.Uint32(o.statusFlags()), Fown: noOwner(),
	}}, nil
}

// ttyKeyOf tells which terminal o is.
func ttyKeyOf(o openFd) (ttyKey, error) {
	rdev := o.st.Rdev
	if linux.Major(rdev) == linux.TTYAuxMajor && linux.Minor(rdev) == linux.PtmxMinor {
		v, ok := o.info.Field("tty-index")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n >= linux.PtyMax {
			return ttyKey{}, fmt.Errorf("%s: pty master without a valid tty-index in fdinfo (%q)", o.what, v)
		}
		return ttyKey{rdev: rdev, index: n, master: true}, nil
	}
	return ttyKey{rdev: rdev, index: linux.PtsIndex(rdev)}, nil
}

// newInfo reads a terminal the first time one of its descriptions is met.
func (d *ttyDump) newInfo(c *collector, key ttyKey, o openFd) (*ttyInfo, error) {
	f, err := c.p.leader().StealFD(o.fd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	defer f.Close()
	typ := tty.TtyType_EXT_TTY
	if key.index >= 0 {
		typ = tty.TtyType_PTY // an outside pts becomes EXT_TTY in finish
	}
	e := &tty.TtyInfoEntry{
		Id: proto.Uint32(uint32(len(d.order) + 1)), Type: typ.Enum(), Locked: proto.Bool(false),
		Exclusive: proto.Bool(false), PacketMode: proto.Bool(false), Sid: proto.Uint32(0),
		Pgrp: proto.Uint32(0), Rdev: proto.Uint32(uint32(key.rdev)),
	}
	if key.index >= 0 {
		e.Pty = &tty.TtyPtyEntry{Index: proto.Uint32(uint32(key.index))}
	}
	if err := readTTY(c.pid, f, key, e); err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	info := &ttyInfo{e: e, key: key, what: o.what}
	d.infos[key] = info
	d.order = append(d.order, info)
	if key.master {
		d.warnQueued(f, o.what)
	}
	return info, nil
}

// readTTY reads the terminal's modes: termios and window size (a
// master's are its slave's), a master's lock, packet mode, session and
// foreground group, another terminal's session and foreground group from
// the process's stat when it is its controlling terminal.
func readTTY(pid int, f *os.File, key ttyKey, e *tty.TtyInfoEntry) error {
	t, err := linux.GetTermios(f)
	if err != nil {
		return err
	}
	e.Termios = termiosEntry(t)
	w, err := linux.GetWinsize(f)
	if err != nil {
		return err
	}
	e.Winsize = &tty.WinsizeEntry{WsRow: proto.Uint32(uint32(w.Row)), WsCol: proto.Uint32(uint32(w.Col)),
		WsXpixel: proto.Uint32(uint32(w.Xpixel)), WsYpixel: proto.Uint32(uint32(w.Ypixel))}
	if !key.master {
		excl, err := linux.Exclusive(f)
		e.Exclusive = proto.Bool(excl)
		if err != nil {
			return err
		}
		st, err := proc.ReadStat(pid)
		if err == nil && uint64(st.TtyNr) == key.rdev {
			e.Sid, e.Pgrp = proto.Uint32(uint32(st.Session)), proto.Uint32(uint32(max(st.Tpgid, 0)))
		}
		return err
	}
	return readMaster(f, e)
}

func readMaster(f *os.File, e *tty.TtyInfoEntry) error {
	locked, err := linux.PtyLocked(f)
	if err != nil {
		return err
	}
	pkt, err := linux.PacketMode(f)
	if err != nil {
		return err
	}
	e.Locked, e.PacketMode = proto.Bool(locked), proto.Bool(pkt)
	sid, err := linux.TTYSession(f)
	if errors.Is(err, linux.ENOTTY) {
		return nil // no session has it as its controlling terminal
	}
	if err != nil {
		return err
	}
	pgrp, err := linux.TTYForeground(f)
	e.Sid, e.Pgrp = proto.Uint32(uint32(sid)), proto.Uint32(uint32(pgrp))
	return err
}

func termiosEntry(t *linux.Termios) *tty.TermiosEntry {
	cc := make([]uint32, len(t.Cc))
	for i, c := range t.Cc {
		cc[i] = uint32(c)
	}
	return &tty.TermiosEntry{CIflag: proto.Uint32(t.Iflag), COflag: proto.Uint32(t.Oflag),
		CCflag: proto.Uint32(t.Cflag), CLflag: proto.Uint32(t.Lflag), CLine: proto.Uint32(uint32(t.Line)),
		CIspeed: proto.Uint32(t.Ispeed), COspeed: proto.Uint32(t.Ospeed), CCc: cc}
}

// warnQueued logs the bytes queued in a pty, which are not saved.
func (d *ttyDump) warnQueued(master *os.File, what string) {
	in, out, err := linux.TTYQueued(master)
	if err == nil && in+out > 0 {
		d.log.Warn("bytes queued in a pty are not saved; the restored pty starts empty",
			"fd", what, "to_master", in, "from_master", out)
	}
}

// finish decides, once the tree is known, which slaves are inside (their
// master is in the tree) and refuses the terminals outside it unless
// --shell-job is given.
func (d *ttyDump) finish() error {
	for _, info := range d.order {
		master := ttyKey{linux.PtmxRdev, info.key.index, true}
		if info.key.master || info.key.index >= 0 && d.infos[master] != nil {
			continue
		}
		info.e.Type = tty.TtyType_EXT_TTY.Enum()
		if !d.shellJob {
			return unsupported("a terminal outside the dumped tree (the session's terminal); dump with --shell-job to restore the tree onto the terminal of crlazy restore", "%s", info.what)
		}
	}
	return nil
}

// write stores every terminal's record.
func (d *ttyDump) write(w *store.Writer) error {
	for _, info := range d.order {
		if err := w.PutRecord(images.TtyInfo, info.e.GetId(), info.e); err != nil {
			return err
		}
	}
	return nil
}
