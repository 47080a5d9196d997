package restorer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/tty"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
)

// openFiles makes crlazy's copy of every terminal description: a
// master's is the master; a slave's is a new open of the slave (each
// description its own, with its access mode), then the pty's lock and
// exclusive mode as dumped; an outside terminal's is crlazy's terminal.
func (tr *ttyRestore) openFiles(tf *treeFiles, ids []uint32) error {
	var excl []*os.File
	for _, id := range ids {
		t := tf.files[id].GetTty()
		e := tr.infos[t.GetTtyInfoId()]
		var f *os.File
		var err error
		switch {
		case e.GetType() == tty.TtyType_EXT_TTY:
			f, err = tr.terminal()
		case isMaster(e):
			f, err = linux.DupFile(tr.masters[t.GetTtyInfoId()])
		default:
			f, err = tr.openSlave(e, t)
			if err == nil && e.GetExclusive() {
				excl = append(excl, f)
			}
		}
		if err == nil && e.GetType() != tty.TtyType_EXT_TTY {
			err = setStatus(f, t.GetFlags())
		}
		if err != nil {
			return fmt.Errorf("file id %d: %w", id, err)
		}
		tf.objs[id] = f
	}
	for _, f := range excl {
		if err := linux.SetExclusive(f); err != nil {
			return err
		}
	}
	for id, m := range tr.masters {
		if tr.infos[id].GetLocked() {
			if err := linux.SetPtyLocked(m, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// openSlave opens a pty's slave as the description t had it.
func (tr *ttyRestore) openSlave(e *tty.TtyInfoEntry, t *tty.TtyFileEntry) (*os.File, error) {
	if _, m := tr.masterOf(e); m == nil {
		return nil, badImage("pty slave %d without its master", e.GetPty().GetIndex())
	}
	idx := tr.index[e.GetPty().GetIndex()]
	return linux.OpenFile(linux.PtsPath(idx), int(t.GetFlags())&linux.OAccmode)
}

// terminal returns a copy of crlazy's own terminal description: its
// first standard descriptor that is a terminal.
func (tr *ttyRestore) terminal() (*os.File, error) {
	if tr.term == nil {
		for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
			if _, err := linux.GetTermios(f); err == nil {
				d, err := linux.DupFile(f)
				if err != nil {
					return nil, err
				}
				tr.term = d
				break
			}
		}
		if tr.term == nil {
			return nil, ErrNoTerminal
		}
	}
	return linux.DupFile(tr.term)
}

// joinShell puts the processes of sessions outside the tree (and of the
// outside terminal's session) in crlazy's session, as members of a
// process group the root leads when their own group's leader is outside
// the tree: a shell job restored under crlazy's shell.
func (tr *ttyRestore) joinShell(t *treeRestore) error {
	mine, err := proc.ReadStat(os.Getpid())
	if err != nil {
		return err
	}
	extSid := uint32(0)
	if tr.ext != nil {
		extSid = tr.ext.GetSid()
	}
	root := t.root().img
	tr.jobPgid = root.pstree.GetPgid()
	for _, rs := range t.procs {
		ps := rs.img.pstree
		if sid := ps.GetSid(); t.byPid[int(sid)] == nil || sid == extSid && sid != 0 {
			ps.Sid = ptrU32(uint32(mine.Session))
			if t.byPid[int(ps.GetPgid())] == nil || ps.GetPgid() == sid {
				ps.Pgid = ptrU32(uint32(root.pid))
			}
		}
	}
	return nil
}

func ptrU32(v uint32) *uint32 { return &v }

// setCtty gives a session leader its controlling terminal back, a pty of
// the tree: TIOCSCTTY on its descriptor of the slave, or on one opened
// (and closed again) for it; then its foreground group (TIOCSPGRP, which
// only a process of the terminal's session may do: right after
// TIOCSCTTY the leader's own group is in the foreground, so it may).
func (tr *ttyRestore) setCtty(rs *restorer) error {
	if tr == nil {
		return nil
	}
	pid := uint32(rs.img.pid)
	for _, m := range tr.infos {
		if !tr.isPty(m) || !isMaster(m) || m.GetSid() != pid {
			continue
		}
		if err := tr.takeCtty(rs, m); err != nil {
			return fmt.Errorf("controlling terminal %s: %w", linux.PtsPath(tr.index[m.GetPty().GetIndex()]), err)
		}
	}
	return nil
}

func (tr *ttyRestore) takeCtty(rs *restorer, m *tty.TtyInfoEntry) error {
	t := rs.leader()
	fd, opened := -1, false
	for _, e := range rs.img.fds {
		f := rs.files.files[e.GetId()]
		if s := tr.infos[f.GetTty().GetTtyInfoId()]; f.GetType() == fdinfo.FdTypes_TTY && s != nil &&
			tr.isPty(s) && !isMaster(s) && s.GetPty().GetIndex() == m.GetPty().GetIndex() {
			fd = int(e.GetFd())
			break
		}
	}
	if fd < 0 { // none: a session leader without one takes the terminal it opens
		var err error
		if fd, err = t.Open(linux.PtsPath(tr.index[m.GetPty().GetIndex()]), linux.ORdwr, 0); err != nil {
			return err
		}
		opened = true
	} else if _, err := t.Syscall("ioctl TIOCSCTTY", linux.SysIoctl, uint64(fd), linux.TIOCSCTTY, 0); err != nil {
		return err
	}
	err := setForeground(rs, fd, m.GetPgrp())
	if opened {
		err = errors.Join(err, t.Close(fd))
	}
	return err
}

// setForeground makes pgrp the foreground group of the controlling
// terminal at fd of rs (TIOCSPGRP injected); 0 leaves it.
func setForeground(rs *restorer, fd int, pgrp uint32) error {
	if pgrp == 0 || pgrp == uint32(rs.img.pid) {
		return nil // none recorded, or the leader's own group, which TIOCSCTTY set
	}
	t := rs.leader()
	defer t.ReleaseArgs(t.ArgMark())
	arg := binary.NativeEndian.AppendUint32(nil, pgrp)
	p, err := t.PutArg(arg)
	if err != nil {
		return err
	}
	_, err = t.Syscall("ioctl TIOCSPGRP", linux.SysIoctl, uint64(fd), linux.TIOCSPGRP, uint64(p))
	return err
}

// foreground, once the tree is built, with --shell-job puts the tree in
// the foreground of crlazy's terminal if it was in its own, with the
// termios it had.
func (tr *ttyRestore) foreground(t *treeRestore) error {
	if tr == nil || tr.term == nil || tr.ext == nil || tr.ext.GetPgrp() == 0 || tr.ext.GetPgrp() != tr.jobPgid {
		return nil
	}
	return tr.takeForeground(t.root().img.pid)
}

// takeForeground makes the root's group the foreground of crlazy's
// terminal, with the outside terminal's termios.
func (tr *ttyRestore) takeForeground(root int) error {
	st, err := proc.ReadStat(root)
	if err != nil {
		return err
	}
	if tr.savedFg, err = linux.TTYForeground(tr.term); err != nil {
		return err
	}
	linux.IgnoreSIGTTOU()
	if te := tr.ext.GetTermios(); te != nil {
		if err := linux.SetTermios(tr.term, termiosOf(te)); err != nil {
			return err
		}
	}
	if err := linux.SetTTYForeground(tr.term, st.Pgrp); err != nil {
		return err
	}
	tr.log.Info("restored tree is the foreground job of crlazy's terminal", "pgid", st.Pgrp)
	return nil
}

// release gives crlazy's terminal back to the group that had it before
// the restore (a --shell-job restore that waited for the tree).
func (tr *ttyRestore) release() error {
	if tr == nil || tr.term == nil || tr.savedFg == 0 {
		return nil
	}
	err := linux.SetTTYForeground(tr.term, tr.savedFg)
	tr.savedFg = 0
	return err
}

// close closes crlazy's masters and terminal (the descriptions installed
// in the tree live on there).
func (tr *ttyRestore) close() {
	if tr == nil {
		return
	}
	for _, m := range tr.masters {
		m.Close()
	}
	if tr.term != nil && tr.savedFg == 0 {
		tr.term.Close()
		tr.term = nil
	}
	tr.masters = nil
}

// ReleaseTerminal gives crlazy's terminal back to the process group that
// had it before a --shell-job restore put the tree in the foreground;
// call it once the tree has ended. It does nothing otherwise.
func (p *Process) ReleaseTerminal() error {
	if p.tty == nil {
		return nil
	}
	err := p.tty.release()
	if p.tty.term != nil {
		p.tty.term.Close()
		p.tty.term = nil
	}
	return err
}
