package restorer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/tty"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// ErrNeedShellJob is returned for an image holding a terminal outside
// the dumped tree restored without Options.ShellJob (criu's --shell-job).
var ErrNeedShellJob = errors.New("the image holds a terminal outside the dumped tree: restore with --shell-job")

// ErrNoTerminal is returned by a --shell-job restore that has no
// terminal to put the tree on.
var ErrNoTerminal = errors.New("--shell-job: crlazy restore is not on a terminal (none of its standard descriptors is one)")

// termiosCcMax bounds a saved termios' control characters (NCCS).
const termiosCcMax = 19

// ttyRestore is the terminal part of a restore: the pty masters of the
// tree are opened by crlazy (with their index if it is free) and their
// slaves opened from them, with termios, window size and modes, before
// the tree; a session leader whose controlling terminal was one of them
// takes it again (TIOCSCTTY, injected) once its descriptors are placed,
// and its foreground group is set once the tree is built. With
// --shell-job the terminal outside the tree is crlazy's own: its
// descriptions become crlazy's terminal description, the tree joins
// crlazy's session and, if it was in the foreground, is put there.
type ttyRestore struct {
	log     *slog.Logger
	infos   map[uint32]*tty.TtyInfoEntry // by tty info id
	masters map[uint32]*os.File          // crlazy's master, by master info id
	index   map[uint32]int               // dumped pty index -> restored one
	term    *os.File                     // crlazy's terminal (--shell-job); nil otherwise
	ext     *tty.TtyInfoEntry            // the outside terminal of the image, if any
	savedFg int                          // term's foreground group before the restore; 0: unchanged
	jobPgid uint32                       // the root's process group at the dump (--shell-job)
}

func isMaster(e *tty.TtyInfoEntry) bool { return uint64(e.GetRdev()) == linux.PtmxRdev }

func (tr *ttyRestore) isPty(e *tty.TtyInfoEntry) bool { return e.GetType() == tty.TtyType_PTY }

// buildTTYs checks the terminals of the image and makes crlazy's copies
// of their descriptions (t.files.objs), before any process exists; with
// --shell-job it moves the tree into crlazy's session (joinShell).
func buildTTYs(r *store.Reader, t *treeRestore, opts Options, log *slog.Logger) (*ttyRestore, error) {
	tr := &ttyRestore{log: log, infos: map[uint32]*tty.TtyInfoEntry{}, masters: map[uint32]*os.File{}, index: map[uint32]int{}}
	tf := t.files
	ids, err := tr.load(r, tf.files)
	if err != nil {
		return nil, err
	}
	if tr.ext != nil && !opts.ShellJob {
		return nil, ErrNeedShellJob
	}
	if opts.ShellJob {
		if err := tr.joinShell(t); err != nil {
			return nil, err
		}
	}
	err = tr.openMasters()
	if err == nil {
		err = tr.openFiles(tf, ids)
	}
	if err != nil {
		tr.close()
		return nil, fmt.Errorf("terminals: %w", err)
	}
	tf.tty = tr
	return tr, nil
}

// load reads the tty_info of every terminal file and checks it; it
// returns the terminal files' ids in order.
func (tr *ttyRestore) load(r *store.Reader, files map[uint32]*fdinfo.FileEntry) ([]uint32, error) {
	var ids []uint32
	for id, f := range files {
		if f.GetType() == fdinfo.FdTypes_TTY {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := files[id].GetTty()
		if t == nil {
			return nil, badImage("file id %d: terminal without its record", id)
		}
		if err := tr.loadInfo(r, t.GetTtyInfoId()); err != nil {
			return nil, fmt.Errorf("file id %d: %w", id, err)
		}
	}
	return ids, nil
}

func (tr *ttyRestore) loadInfo(r *store.Reader, id uint32) error {
	if tr.infos[id] != nil {
		return nil
	}
	e := &tty.TtyInfoEntry{}
	if err := r.Record(images.TtyInfo, id, e); err != nil {
		return fmt.Errorf("tty info %d: %w", id, err)
	}
	switch {
	case len(e.GetTermios().GetCCc()) > termiosCcMax:
		return badImage("tty info %d: termios with %d control characters", id, len(e.GetTermios().GetCCc()))
	case e.GetType() == tty.TtyType_PTY && (e.GetPty() == nil || e.GetPty().GetIndex() >= linux.PtyMax):
		return badImage("tty info %d: pty without a valid index", id)
	case e.GetType() == tty.TtyType_EXT_TTY:
		tr.ext = e
	case e.GetType() != tty.TtyType_PTY:
		return badImage("tty info %d: terminal of type %v", id, e.GetType())
	}
	tr.infos[id] = e
	return nil
}

// openMasters opens a master for every pty of the image, in index order;
// devpts gives out the lowest free index, so lower ones are held open
// meanwhile. A pty whose index is taken gets another, with a warning.
func (tr *ttyRestore) openMasters() error {
	var want []uint32 // master info ids by index
	for id, e := range tr.infos {
		if tr.isPty(e) && isMaster(e) {
			want = append(want, id)
		}
	}
	slices.SortFunc(want, func(a, b uint32) int {
		return int(tr.infos[a].GetPty().GetIndex()) - int(tr.infos[b].GetPty().GetIndex())
	})
	var spare []*os.File
	defer func() {
		for _, f := range spare {
			f.Close()
		}
	}()
	for _, id := range want {
		e := tr.infos[id]
		old := int(e.GetPty().GetIndex())
		f, got, err := openPtyAt(old, &spare)
		if err != nil {
			return fmt.Errorf("pty %d: %w", old, err)
		}
		if got != old {
			tr.log.Warn("a pty comes back with another number: its own is taken", "was", linux.PtsPath(old), "now", linux.PtsPath(got))
		}
		tr.masters[id], tr.index[uint32(old)] = f, got
		if err := setupMaster(f, e); err != nil {
			return fmt.Errorf("pty %d: %w", old, err)
		}
	}
	return nil
}

// openPtyAt opens masters until one has index want (the ones below are
// added to spare) or one above it (want is taken).
func openPtyAt(want int, spare *[]*os.File) (*os.File, int, error) {
	for range linux.PtyMax {
		f, got, err := linux.OpenPtmx()
		if err != nil || got >= want {
			return f, got, err
		}
		*spare = append(*spare, f)
	}
	return nil, 0, fmt.Errorf("no pty index %d after %d tries", want, linux.PtyMax)
}

// setupMaster gives a new pty the dumped termios, window size and packet
// mode, and unlocks its slave (locked again once opened, if it was).
func setupMaster(f *os.File, e *tty.TtyInfoEntry) error {
	if e.GetTermios() != nil {
		if err := linux.SetTermios(f, termiosOf(e.GetTermios())); err != nil {
			return err
		}
	}
	if w := e.GetWinsize(); w != nil {
		ws := &linux.Winsize{Row: uint16(w.GetWsRow()), Col: uint16(w.GetWsCol()), Xpixel: uint16(w.GetWsXpixel()), Ypixel: uint16(w.GetWsYpixel())}
		if err := linux.SetWinsize(f, ws); err != nil {
			return err
		}
	}
	if e.GetPacketMode() {
		if err := linux.SetPacketMode(f, true); err != nil {
			return err
		}
	}
	return linux.SetPtyLocked(f, false)
}

func termiosOf(e *tty.TermiosEntry) *linux.Termios {
	t := &linux.Termios{Iflag: e.GetCIflag(), Oflag: e.GetCOflag(), Cflag: e.GetCCflag(), Lflag: e.GetCLflag(),
		Line: uint8(e.GetCLine()), Ispeed: e.GetCIspeed(), Ospeed: e.GetCOspeed()}
	for i, c := range e.GetCCc() {
		t.Cc[i] = uint8(c)
	}
	return t
}

// masterOf returns the master info of a pty's slave info, or nil.
func (tr *ttyRestore) masterOf(slave *tty.TtyInfoEntry) (uint32, *tty.TtyInfoEntry) {
	for id, e := range tr.infos {
		if tr.isPty(e) && isMaster(e) && e.GetPty().GetIndex() == slave.GetPty().GetIndex() {
			return id, e
		}
	}
	return 0, nil
}
